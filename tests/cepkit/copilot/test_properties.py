"""Properties over generated sentences: the drafter never raises, never invents text
for ``unparsed``, and calls a draft ready only when its rule is valid as drafted."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cepkit.copilot import draft
from cepkit.plan import check_rule

PHRASES = [
    "CPU가 90% 넘고",
    "메모리가 80% 넘으면",
    "memory above 80%",
    "and",
    "또는",
    "or",
    "디스크 90 이상",
    "응답시간 500ms 초과",
    "5분 평균",
    "for 5 minutes",
    "1분 내 에러 5건 이상",
    "api-gateway에서 critical 에러",
    "매 5분",
    "평일 오전 9시",
    "every day at 9 KST",
    "이상치",
    "z-score 3 넘으면",
    "IQR",
    "Slack으로",
    "이메일",
    "문자",
    "디스코드",
    "실패하면 이메일로",
    "https://hooks.example.com/a",
    "P1",
    "critical로",
    "호스트별",
    "알림 보내줘",
    "바나나",
    "please",
    "90",
    "%",
    "에서",
]

words = st.lists(st.sampled_from(PHRASES) | st.text(min_size=1, max_size=6), max_size=9)


@settings(max_examples=150, deadline=None)
@given(words)
def test_drafts_never_invent_text_and_ready_means_valid(parts: list[str]) -> None:
    text = " ".join(parts)
    if not text.strip():
        return
    result = draft(text)
    assert result == draft(text)  # deterministic
    for fragment in result.unparsed:
        assert fragment and fragment in text
    if result.status == "ready":
        assert result.unparsed == []
        assert result.rule["actions"]
        assert check_rule(result.rule).to_document() == result.rule
