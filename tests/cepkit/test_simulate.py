"""Simulate: the guide's Lab 1, 2, 3, 4, 5 and 8 outputs, errors, and no side effects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cepkit import simulate
from cepkit.errors import RuleValidationError

GUIDE = Path(__file__).parents[2] / "data" / "rules" / "guide"


def lab(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((GUIDE / name).read_text(encoding="utf-8"))
    return doc


def guide_keys(result: Any) -> dict[str, Any]:
    dumped = result.model_dump(mode="json")
    return {k: dumped[k] for k in ("matched", "condition_evaluated", "triggered_actions")}


def test_lab2_critical_payload_gives_the_guides_output() -> None:
    result = simulate(
        lab("lab2_critical_error_event.json"),
        {
            "severity": "critical",
            "service": "api-gateway",
            "summary": "Connection pool exhausted",
            "timestamp": "2026-02-08T10:30:00Z",
        },
    )
    dumped = result.model_dump(mode="json")
    assert {
        k: dumped[k]
        for k in ("matched", "condition_evaluated", "triggered_actions", "extracted_value")
    } == {
        "matched": True,
        "condition_evaluated": True,
        "triggered_actions": ["webhook", "notify"],
        "extracted_value": "critical",
    }
    assert result.dry_run and result.errors == []


def test_lab2_warning_payload_gives_the_guides_output() -> None:
    result = simulate(
        lab("lab2_critical_error_event.json"),
        {
            "severity": "warning",
            "service": "api-gateway",
            "summary": "High latency detected",
            "timestamp": "2026-02-08T10:31:00Z",
        },
    )
    assert guide_keys(result) == {
        "matched": False,
        "condition_evaluated": False,
        "triggered_actions": [],
    }
    assert result.errors == []  # a clean "no match", not an error


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"cpu": 85, "memory": 75, "disk": 50}, True),
        ({"cpu": 60, "memory": 50, "disk": 95}, True),
        ({"cpu": 60, "memory": 50, "disk": 70}, False),
    ],
)
def test_lab5_three_payloads(payload: dict[str, Any], expected: bool) -> None:
    result = simulate(lab("lab5_system_resource_alert.json"), payload)
    assert result.matched is expected
    assert result.triggered_actions == (["webhook", "notify"] if expected else [])


def test_lab5_raw_endpoint_response_is_narrowed_to_value_path() -> None:
    response = {"data": {"metrics": {"cpu": 60, "memory": 50, "disk": 95}}}
    result = simulate(lab("lab5_system_resource_alert.json"), response)
    assert result.matched is True
    assert result.extracted_value == {"cpu": 60, "memory": 50, "disk": 95}


def test_lab1_metric_threshold_on_one_payload() -> None:
    rule = lab("lab1_cpu_high_alert.json")
    hit = simulate(rule, {"cpu_usage": 92, "host": "gt-01", "severity": "high"})
    assert (hit.matched, hit.extracted_value, hit.triggered_actions) == (True, 92, ["notify"])
    miss = simulate(rule, {"cpu_usage": 80, "host": "gt-01"})
    assert (miss.matched, miss.triggered_actions) == (False, [])


def test_lab8_string_thresholds_compare_as_numbers() -> None:
    rule = lab("lab8_production_server_monitor.json")
    assert simulate(rule, {"cpu_usage": 92, "memory_percent": "75", "host": "a"}).matched
    assert not simulate(rule, {"cpu_usage": "92", "memory_percent": 65, "host": "a"}).matched


def test_wrong_field_path_is_an_evaluation_failure_naming_the_path() -> None:
    # guide 20.3 "field path error -> eval fail"
    result = simulate(lab("lab2_critical_error_event.json"), {"sev": "critical"})
    assert (result.matched, result.condition_evaluated) == (False, False)
    assert [e.path for e in result.errors] == ["severity", "service"]


def test_threshold_typo_is_no_match() -> None:
    # guide 20.3 "threshold typo -> no match": 850 instead of 85
    rule = lab("lab1_cpu_high_alert.json")
    rule["trigger_spec"]["threshold"] = 850
    result = simulate(rule, {"cpu_usage": 92})
    assert (result.matched, result.errors) == (False, [])


def test_event_type_filter() -> None:
    rule = lab("lab2_critical_error_event.json")
    payload = {"severity": "critical", "service": "api-gateway"}
    assert simulate(rule, {**payload, "event_type": "error"}).matched
    filtered = simulate(rule, {**payload, "event_type": "deploy"})
    assert (filtered.matched, filtered.filter_matched) == (False, False)
    assert "event_type 'deploy' is not 'error'" in filtered.notes[0]


def test_lab3_schedule_rule_matches_an_empty_payload() -> None:
    result = simulate(lab("lab3_health_check_5min.json"), {})
    assert guide_keys(result) == {
        "matched": True,
        "condition_evaluated": True,
        "triggered_actions": ["webhook", "notify"],
    }


def test_lab4_anomaly_without_baseline_never_fires() -> None:
    # guide 20.3 "baseline insufficient -> anomaly disabled"
    result = simulate(lab("lab4_cpu_anomaly.json"), {"cpu_percent": 99})
    assert result.matched is False
    assert result.anomaly is not None and result.anomaly.status == "baseline_insufficient"
    assert "baseline_insufficient" in result.notes[0]


def test_lab4_anomaly_with_a_baseline() -> None:
    history = [40 + (i % 5) for i in range(60)]
    result = simulate(lab("lab4_cpu_anomaly.json"), {"cpu_percent": 99}, history=history)
    assert result.anomaly is not None
    assert (result.anomaly.is_anomaly, result.anomaly.method) == (True, "zscore")
    assert result.anomaly.score is not None and result.anomaly.score > 3
    assert result.matched and result.extracted_value == 99
    normal = simulate(lab("lab4_cpu_anomaly.json"), {"cpu_percent": 42}, history=history)
    assert normal.anomaly is not None and not normal.anomaly.is_anomaly and not normal.matched


def test_explain_is_returned() -> None:
    result = simulate(lab("lab5_system_resource_alert.json"), {"cpu": 85, "memory": 75, "disk": 50})
    assert result.explain is not None
    assert result.model_dump(mode="json")["explain"]["logic"] == "OR"


def test_invalid_rule_and_payload() -> None:
    with pytest.raises(RuleValidationError):
        simulate({"rule_name": "x"}, {})
    with pytest.raises(TypeError, match="payload must be a JSON object"):
        simulate(lab("lab1_cpu_high_alert.json"), [1, 2])  # type: ignore[arg-type]


def test_history_must_be_finite_numbers() -> None:
    with pytest.raises(TypeError, match=r"history\[1\] must be a finite number"):
        simulate(lab("lab4_cpu_anomaly.json"), {"cpu_percent": 1}, history=[1.0, float("nan")])
    result = simulate(lab("lab4_cpu_anomaly.json"), {"cpu_percent": 1}, history=["1", 2])
    assert result.anomaly is not None and result.anomaly.status == "baseline_insufficient"


def test_windowed_rules_are_simulated_by_the_engine_as_one_window() -> None:
    burst = {
        "rule_name": "error_burst",
        "trigger_type": "event",
        "trigger_spec": {"event_type": "error"},
        "window_config": {"type": "tumbling", "size": "1m"},
        "aggregation": {"type": "count", "outputAlias": "errors"},
        "composite_condition": {"conditions": [{"field": "errors", "op": ">=", "value": 1}]},
    }
    result = simulate(burst, {"event_type": "error", "service": "api"})
    assert result.matched and result.window_values == {"errors": 1} and result.errors == []
    burst["composite_condition"]["conditions"][0]["value"] = 5
    result = simulate(burst, {"event_type": "error", "service": "api"})
    assert not result.matched and result.errors == []  # 1 < 5: no match, not an error
    assert "one window" in result.notes[0]
    lab1 = simulate(lab("lab1_cpu_high_alert.json"), {"cpu_usage": 92, "host": "gt-01"})
    assert lab1.window_values == {"cpu_usage": 92.0}
