"""The drafter interface and registry, input checks, generated names and messages, and
drafted rules behaving on the engine like the rules they describe."""

from __future__ import annotations

import pandas as pd
import pytest

from cepkit.copilot import (
    DEFAULT_METRICS,
    DRAFTERS,
    MAX_TEXT_LENGTH,
    Draft,
    Drafter,
    Metric,
    RuleDrafter,
    create_drafter,
    draft,
)
from cepkit.errors import RuleValidationError
from cepkit.replay import replay
from cepkit.simulate import simulate
from tests.conftest import REPO_ROOT

GUIDE = "CPU가 90% 넘고 메모리가 80% 넘으면 Slack으로 알림 보내줘"


class EchoDrafter:
    """A drafter of another kind, as a model-backed one would plug in."""

    name = "echo"

    def draft(self, text: str) -> Draft:
        return Draft(status="needs_input", rule={}, unparsed=[text])


def test_the_rule_drafter_implements_the_interface_and_is_registered() -> None:
    assert isinstance(RuleDrafter(), Drafter)
    assert DRAFTERS["rules"] is RuleDrafter
    assert create_drafter("rules").name == "rules"


def test_another_drafter_plugs_in_by_registry_or_by_instance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(DRAFTERS, "echo", EchoDrafter)
    assert draft("anything", drafter="echo").unparsed == ["anything"]
    assert draft("as an instance", drafter=EchoDrafter()).unparsed == ["as an instance"]


def test_a_registered_factory_that_is_no_drafter_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(DRAFTERS, "broken", object)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="drafter: 'broken' does not implement"):
        create_drafter("broken")


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("", ValueError, "text: must not be empty"),
        ("   \n", ValueError, "text: must not be empty"),
        ("x" * (MAX_TEXT_LENGTH + 1), ValueError, f"text: at most {MAX_TEXT_LENGTH}"),
        (42, TypeError, "text: expected a string, got int"),
        ("CPU \ud800", ValueError, "text: must be valid Unicode"),
    ],
)
def test_bad_text_is_refused_naming_the_argument(
    text: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        draft(text)  # type: ignore[arg-type]


def test_an_unknown_drafter_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="drafter: unknown drafter 'llm'; expected one of: rules"):
        draft(GUIDE, drafter="llm")


def test_the_guide_sentence_gives_the_guide_draft() -> None:
    result = draft(GUIDE)
    assert result.model_dump(mode="json") == {
        "type": "cep_draft",
        "status": "ready",
        "rule": result.to_rule().to_document(),
        "notes": [],
        "unparsed": [],
    }
    rule = result.to_rule()
    assert rule.rule_name == "cpu_usage_memory_percent_alert"
    assert rule.description == GUIDE
    assert rule.is_active is False
    assert rule.trigger_type == "metric"
    assert rule.composite_condition is not None
    assert rule.composite_condition.model_dump() == {
        "logic": "AND",
        "conditions": [
            {"field": "cpu_usage", "op": ">", "value": 90},
            {"field": "memory_percent", "op": ">", "value": 80},
        ],
    }
    assert [(a.type, a.model_dump().get("channels")) for a in rule.actions] == [
        ("notify", ["Slack"])
    ]


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        (GUIDE, "cpu_usage_memory_percent_alert", "cpu_usage > 90 AND memory_percent > 80"),
        ("CPU 5분 평균이 90% 넘으면 Slack", "cpu_usage_alert", "cpu_usage > 90 (avg 5m)"),
        (
            "1분 내 에러 5건 이상이면 문자",
            "error_burst",
            "error: count >= 5 in 1m",
        ),
        (
            "api-gateway에서 critical 에러 발생하면 Slack",
            "api_gateway_critical_error_event",
            "critical error from api-gateway",
        ),
        (
            "평일 오전 9시 KST 이메일",
            "schedule_at_0900_weekdays",
            "schedule 0 9 * * 1-5 (Asia/Seoul)",
        ),
        ("응답시간 이상치 Slack", "latency_ms_zscore_anomaly", "zscore anomaly on latency_ms"),
        (
            "cpu > 90 and memory > 80 or disk > 95 slack",
            "cpu_usage_memory_percent_disk_percent_alert",
            "(cpu_usage > 90 AND memory_percent > 80) OR disk_percent > 95",
        ),
    ],
)
def test_names_and_messages_are_derived_from_what_was_understood(
    text: str, name: str, message: str
) -> None:
    result = draft(text)
    assert result.status == "ready"
    assert result.rule["rule_name"] == name
    assert result.rule["actions"][0]["message"] == "[{{severity}}] {{rule_name}}: " + message


def test_drafting_is_deterministic() -> None:
    texts = [GUIDE, "every day at 9 KST send an email", "바나나가 노랗다"]
    assert [draft(t) for t in texts] == [draft(t) for t in texts]


def test_a_needs_input_draft_keeps_what_was_understood_but_is_no_rule() -> None:
    result = draft("응답시간 이상치")
    assert result.status == "needs_input"
    assert result.rule["trigger_spec"]["value_path"] == "latency_ms"
    assert result.rule["actions"] == []
    partial = draft("Slack으로 알려줘")
    assert "trigger_type" not in partial.rule
    with pytest.raises(RuleValidationError, match="trigger_type"):
        partial.to_rule()


def test_the_drafted_guide_rule_fires_only_when_both_conditions_hold() -> None:
    rule = draft(GUIDE).rule
    assert simulate(rule, {"cpu_usage": 95, "memory_percent": 85}).matched
    assert not simulate(rule, {"cpu_usage": 95, "memory_percent": 50}).matched
    assert not simulate(rule, {"cpu_usage": 50, "memory_percent": 85}).matched


def test_a_drafted_or_rule_fires_when_either_holds() -> None:
    rule = draft("CPU가 90% 넘거나 디스크가 95% 넘으면 Slack").rule
    assert simulate(rule, {"cpu_usage": 95, "disk_percent": 10}).matched
    assert simulate(rule, {"cpu_usage": 10, "disk_percent": 99}).matched
    assert not simulate(rule, {"cpu_usage": 10, "disk_percent": 10}).matched


def test_a_drafted_windowed_rule_replays_like_the_hand_written_one() -> None:
    drafted = draft("호스트별 5분 평균 CPU 80% 넘으면 슬랙").rule
    written = {
        "rule_name": drafted["rule_name"],
        "trigger_type": "metric",
        "trigger_spec": {
            "metric_name": "cpu_usage",
            "operator": ">",
            "threshold": 80,
            "aggregation": "avg",
            "duration": "5m",
        },
        "group_by": ["host"],
        "actions": [{"type": "notify", "channels": ["Slack"], "message": "x"}],
    }
    data = REPO_ROOT / "data" / "samples" / "server_metrics.csv"
    ours = replay([drafted], data).firing_models
    theirs = replay([written], data).firing_models
    assert len(ours) > 0
    assert [(f.event_time, f.group, f.values) for f in ours] == [
        (f.event_time, f.group, f.values) for f in theirs
    ]


def test_a_drafted_event_count_rule_fires_on_the_fifth_error_in_a_minute() -> None:
    rule = draft("1분 내 에러 5건 이상이면 문자").rule
    errors = [{"event_type": "error", "timestamp": f"2026-02-08T10:00:{s:02d}Z"} for s in range(5)]
    late = {"event_type": "error", "timestamp": "2026-02-08T10:01:30Z"}
    result = replay([rule], pd.DataFrame([*errors, late]))
    assert [f.values["count"] for f in result.firing_models] == [5]


def test_a_drafter_with_its_own_metric_fields() -> None:
    own = RuleDrafter(
        metrics=[
            Metric("cpu", "percent", ("cpu", "씨피유")),
            Metric("memory", "percent", ("memory", "메모리")),
            Metric("p99_ms", "ms", ("p99", "응답시간")),
        ]
    )
    result = draft(GUIDE, drafter=own)
    assert result.status == "ready"
    assert result.rule["composite_condition"]["conditions"] == [
        {"field": "cpu", "op": ">", "value": 90},
        {"field": "memory", "op": ">", "value": 80},
    ]
    slow = own.draft("응답시간 2초 넘으면 Slack").rule["trigger_spec"]
    assert (slow["metric_name"], slow["threshold"]) == ("p99_ms", 2000)
    # the default words are not known to this drafter: not guessed
    assert own.draft("디스크 90 이상이면 이메일").unparsed == ["디스크 90 이상이면"]
    assert RuleDrafter().draft(GUIDE).rule == draft(GUIDE).rule  # the default vocabulary
    assert [m.field for m in DEFAULT_METRICS][:2] == ["cpu_usage", "memory_percent"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "percent", ("cpu",)), "metric field: must not be empty"),
        (("cpu", "kelvin", ("cpu",)), "metric 'cpu' unit: expected percent, ms or None"),
        (("cpu", None, ()), "metric 'cpu' words: at least one"),
    ],
)
def test_a_bad_metric_is_refused_naming_what_is_wrong(
    args: tuple[str, str | None, tuple[str, ...]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Metric(*args)
    with pytest.raises(ValueError, match="metrics: at least one metric"):
        RuleDrafter(metrics=[])
