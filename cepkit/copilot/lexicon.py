"""The words the rule-based drafter knows, Korean and English, as regex pieces.

Every table maps what a user may write to the rule model's spelling. Matching is
case-insensitive; Korean particles (가, 이, 으로...) are fillers (:func:`is_filler`).
Metric words are in :mod:`cepkit.copilot.vocabulary`.

>>> ops_ko("넘"), ops_en("at least")
('>', '>=')
>>> channel_of("슬랙"), severity_of("긴급"), event_type_of("오류")
('Slack', 'critical', 'error')
"""

from __future__ import annotations

import re

__all__ = [
    "AGGREGATIONS",
    "CHANNEL_RE",
    "DURATION_EN",
    "DURATION_KO",
    "EVENT_RE",
    "NUMBER",
    "OP_EN_RE",
    "OP_KO_RE",
    "SEP",
    "SEVERITY_RE",
    "alternation",
    "channel_of",
    "duration_of",
    "event_type_of",
    "is_filler",
    "ops_en",
    "ops_ko",
    "severity_of",
]

#: blanks and already-claimed characters (``\x00``) between two parts of a phrase
SEP = r"[\s\x00]*"
#: a number, thousands separated or not: ``90``, ``2.5``, ``1,000``
NUMBER = r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\d,]*\d)"


def alternation(words: dict[str, str] | list[str]) -> str:
    """A non-capturing alternation, longest first so ``이메일`` wins over ``메일``."""
    return "(?:" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + ")"


#: Korean comparison stems (after the number) -> operator; the word's ending follows
_OPS_KO = {
    "넘": ">",
    "초과": ">",
    "보다 크": ">",
    "보다 높": ">",
    "이상": ">=",
    "미만": "<",
    "보다 작": "<",
    "보다 낮": "<",
    "아래로": "<",
    "밑으로": "<",
    "이하": "<=",
    "이 아니": "!=",
    "가 아니": "!=",
    "과 같": "==",
    "와 같": "==",
}
OP_KO_RE = alternation(_OPS_KO).replace(r"\ ", r"\s*")


def ops_ko(stem: str) -> str:
    """The operator of a Korean comparison stem (``넘`` -> ``>``)."""
    return _OPS_KO[re.sub(r"\s+", " ", stem.strip())]


#: English comparison words (before the number) -> operator
_OPS_EN = {
    ">=": ">=",
    "<=": "<=",
    "==": "==",
    "!=": "!=",
    ">": ">",
    "<": "<",
    "=": "==",
    "above": ">",
    "over": ">",
    "greater than": ">",
    "more than": ">",
    "higher than": ">",
    "exceeds": ">",
    "exceed": ">",
    "exceeding": ">",
    "at least": ">=",
    "no less than": ">=",
    "below": "<",
    "under": "<",
    "less than": "<",
    "lower than": "<",
    "at most": "<=",
    "no more than": "<=",
    "equals": "==",
    "equal to": "==",
    "not equal to": "!=",
}
OP_EN_RE = alternation(_OPS_EN).replace(r"\ ", r"\s+")


def ops_en(word: str) -> str:
    """The operator of an English comparison word (``above`` -> ``>``)."""
    return _OPS_EN[re.sub(r"\s+", " ", word.strip().lower())]


#: aggregation words -> the aggregation's registry name
AGGREGATIONS = {
    "평균": "avg",
    "평균값": "avg",
    "최대": "max",
    "최대값": "max",
    "최댓값": "max",
    "최소": "min",
    "최소값": "min",
    "최솟값": "min",
    "합계": "sum",
    "average": "avg",
    "avg": "avg",
    "mean": "avg",
    "maximum": "max",
    "max": "max",
    "peak": "max",
    "minimum": "min",
    "min": "min",
    "sum": "sum",
    "total": "sum",
}

_UNITS = {
    "초": "s",
    "분": "m",
    "시간": "h",
    "일": "d",
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "m": "m",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "d": "d",
    "day": "d",
    "days": "d",
}
DURATION_KO = r"(?P<n>\d+)\s*(?P<unit>초|분|시간|일)"
DURATION_EN = (
    r"(?P<n>\d+|an?|one)\s*-?\s*(?P<unit>seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|[smhd])"
    r"(?![A-Za-z])"
)


def duration_of(n: str, unit: str) -> str:
    """``("5", "분")`` -> ``"5m"``; ``("a", "minute")`` -> ``"1m"``."""
    count = "1" if n.lower() in ("a", "an", "one") else n
    return f"{int(count)}{_UNITS[unit.lower()]}"


_CHANNELS = {
    "slack": "Slack",
    "슬랙": "Slack",
    "email": "Email",
    "e-mail": "Email",
    "mail": "Email",
    "이메일": "Email",
    "메일": "Email",
    "sms": "SMS",
    "문자 메시지": "SMS",
    "문자": "SMS",
    "text message": "SMS",
    "discord": "Discord",
    "디스코드": "Discord",
}
CHANNEL_RE = (
    r"(?<![A-Za-z])(?P<channel>" + alternation(_CHANNELS).replace(r"\ ", r"\s*") + r")(?![A-Za-z])"
)


def channel_of(word: str) -> str:
    """The channel registry's name for a channel word."""
    return _CHANNELS[re.sub(r"\s+", " ", word.strip().lower())]


_SEVERITIES = {
    "critical": "critical",
    "치명적": "critical",
    "치명": "critical",
    "긴급": "critical",
    "심각": "critical",
    "high": "high",
    "높음": "high",
    "warning": "warning",
    "경고": "warning",
    "medium": "medium",
    "보통": "medium",
    "중간": "medium",
    "low": "low",
    "낮음": "low",
    "info": "info",
    "정보": "info",
}
SEVERITY_RE = r"(?<![A-Za-z])(?P<sev>" + alternation(_SEVERITIES) + r")(?![A-Za-z])"


def severity_of(word: str) -> str:
    """The rule model's severity for a severity word."""
    return _SEVERITIES[word.strip().lower()]


_EVENTS = {
    "에러": "error",
    "오류": "error",
    "error": "error",
    "errors": "error",
    "예외": "exception",
    "exception": "exception",
    "exceptions": "exception",
    "타임아웃": "timeout",
    "timeout": "timeout",
    "timeouts": "timeout",
    "로그인 실패": "login_failed",
    "login failure": "login_failed",
    "login failures": "login_failed",
    "failed login": "login_failed",
    "failed logins": "login_failed",
}
EVENT_RE = (
    r"(?<![A-Za-z])(?P<event>" + alternation(_EVENTS).replace(r"\ ", r"\s*") + r")(?![A-Za-z])"
)


def event_type_of(word: str) -> str:
    """The event type an event word names."""
    return _EVENTS[re.sub(r"\s+", " ", word.strip().lower())]


def _words(*lines: str) -> list[str]:
    return " ".join(lines).split()


_PARTICLES = _words(
    "가 이 은 는 을 를 에 에서 의 로 으로 와 과 도 만 께 에게 한테 이면 면 으면 하면 되면 "
    "이고 고 하고 인 한 일 할 때 시 로도 으로도 이나 나 랑 이랑 에는 은요 요"
)
_STEMS_KO = _words(
    "알림 알람 경보 알려 알려줘 알려주세요 보내 보내줘 보내주세요 보내고 전송 전송해 전송해줘 "
    "전송해주세요 발송 발송해줘 호출 호출해 호출해줘 호출하고 요청 실행 실행해줘 해줘 해주세요 "
    "주세요 줘 좀 규칙 규칙을 만들어 만들어줘 만들어주세요 생성 생성해줘 감지 감지되면 탐지 "
    "탐지되면 "
    "탐지해줘 감시 감시해줘 모니터링 발생 발생하면 발생하면서 생기면 나면 오면 들어오면 있으면 "
    "값 사용률 사용량 바로 즉시 메시지 메세지 통지 트리거 경우 그리고 및 그러면 그럼 데 동안 "
    "지속 지속되면 계속 연속 각 각각 기준 으로 이벤트 웹훅 api 엔드포인트 요청해줘 해 하고 줘요 "
    "떨어지면 떨어지고 내려가면 올라가면 리포트 보고서 헬스체크 확인 정각 넘게 기반 후"
)
_WORDS_EN = _words(
    "when whenever if then the a an is are be been goes gets stays please send notify notifying "
    "alert alerts alerting me us to via through with using and message notification "
    "notifications call trigger fire page raise detect detected detects happens happen occurs "
    "occur there any it its rule create make value usage of on in at for by post it's let know "
    "an webhook hook endpoint events event also rises climbs jumps drops falls remains should "
    "i want get tell report health check go"
)
_FILLER_RE = re.compile(
    "(?:"
    + alternation(_STEMS_KO)
    + alternation(_PARTICLES)
    + "?|"
    + alternation(_PARTICLES)
    + "|"
    + alternation(_WORDS_EN)
    + ")",
    re.IGNORECASE,
)


def is_filler(token: str) -> bool:
    """Whether ``token`` carries no rule content (particles, "알림 보내줘", "please").

    >>> is_filler("알림을"), is_filler("보내줘"), is_filler("please"), is_filler("->")
    (True, True, True, True)
    >>> is_filler("banana"), is_filler("P2")
    (False, False)
    """
    if not any(ch.isalnum() for ch in token):
        return True  # punctuation alone: an arrow, a dash
    return _FILLER_RE.fullmatch(token) is not None
