"""Validation errors name the JSON path as the user wrote it, and say what is valid."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from cepkit.errors import RuleError, RuleValidationError
from cepkit.rules import load_rule_files, parse_rule

GUIDE = Path(__file__).parents[3] / "data" / "rules" / "guide"


def lab(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((GUIDE / name).read_text(encoding="utf-8"))
    return doc


def problems(doc: Any) -> dict[str, str]:
    with pytest.raises(RuleValidationError) as info:
        parse_rule(doc)
    return {p.path: p.message for p in info.value.problems}


def base(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(lab("lab5_system_resource_alert.json"))
    doc.update(changes)
    return doc


def test_unknown_operator_is_named_by_path() -> None:
    doc = base()
    doc["composite_condition"]["conditions"][2]["op"] = "gt"
    found = problems(doc)
    assert list(found) == ["composite_condition.conditions[2].op"]
    assert (
        "unknown operator 'gt'; expected one of: >, <, >=, <=, ==, !=, in"
        in found["composite_condition.conditions[2].op"]
    )


def test_nested_group_paths() -> None:
    doc = base(
        composite_condition={
            "logic": "OR",
            "conditions": [
                {"logic": "AND", "conditions": [{"field": "cpu", "op": "=>", "value": 1}]},
                {"field": "", "op": ">", "value": 1},
            ],
        }
    )
    found = problems(doc)
    assert set(found) == {
        "composite_condition.conditions[0].conditions[0].op",
        "composite_condition.conditions[1].field",
    }


def test_unknown_trigger_type() -> None:
    found = problems(base(trigger_type="metrics"))
    assert found == {
        "trigger_type": "unknown trigger type 'metrics'; expected one of: metric, event, "
        "schedule, anomaly"
    }


def test_unknown_window_type_and_bad_sizes() -> None:
    assert "window_config" in problems(base(window_config={"type": "hopping", "size": "5m"}))
    assert problems(base(window_config={"type": "tumbling", "size": "7q"})) == {
        "window_config.size": "invalid duration '7q': expected <number><s|m|h|d>, "
        "e.g. 30s, 5m, 1h, 1d"
    }
    found = problems(base(window_config={"type": "sliding", "size": "1m", "slide": "5m"}))
    assert "slide (5m) must not be larger than size (1m)" in found["window_config"]
    assert problems(base(window_config={"type": "session"})) == {
        "window_config.timeout": "required field is missing"
    }


def test_aggregations() -> None:
    found = problems(base(aggregation={"type": "median", "field": "cpu"}))
    assert "unknown aggregation 'median'; expected one of: avg, sum" in found["aggregation.type"]
    found = problems(base(aggregation={"type": "avg"}))
    assert found == {"aggregation": "aggregation 'avg' needs a field (only count and rate do not)"}
    # count needs no field; a list reports indexes
    parse_rule(base(aggregation={"type": "count", "outputAlias": "errors"}))
    found = problems(base(aggregation=[{"type": "count"}, {"type": "stddev"}]))
    assert list(found) == ["aggregation[1]"]


def test_unknown_action_type_and_channel() -> None:
    doc = base()
    doc["actions"][1]["type"] = "page"
    found = problems(doc)
    assert list(found) == ["actions[1]"]
    assert found["actions[1]"] == "unknown type 'page'; expected webhook, notify, trigger or store"
    doc = base()
    doc["actions"][1]["channels"] = ["Slack", "Telegram"]
    found = problems(doc)
    assert found == {
        "actions[1].channels": "unknown channel 'Telegram'; expected one of: Slack, Email, "
        "SMS, Discord, Webhook"
    }


def test_webhook_without_endpoint_or_with_bad_method() -> None:
    doc = base()
    del doc["actions"][0]["endpoint"]
    assert problems(doc) == {"actions[0].endpoint": "required field is missing"}
    doc = base()
    doc["actions"][0]["method"] = "PATCH"
    assert problems(doc) == {
        "actions[0].method": "unknown HTTP method 'PATCH'; expected one of: GET, POST, PUT, DELETE"
    }
    doc = base()
    doc["actions"][0]["endpoint"] = "not a url"
    assert "endpoint must be an http(s) URL" in problems(doc)["actions[0].endpoint"]


def test_paths_inside_multi_action_follow_the_document() -> None:
    doc = lab("lab2_critical_error_event.json")
    doc["actions"]["actions"][0]["method"] = "FETCH"
    assert list(problems(doc)) == ["actions.actions[0].method"]
    doc = lab("lab2_critical_error_event.json")
    doc["action_spec"] = doc.pop("actions")
    doc["action_spec"]["actions"][1]["channels"] = []
    assert list(problems(doc)) == ["action_spec.actions[1].channels"]


def test_active_rule_needs_an_action() -> None:
    found = problems(base(actions=[]))
    assert found == {"": "an active rule needs at least one action (actions is empty)"}
    parse_rule(base(actions=[], is_active=False))  # a draft may have none yet


def test_bad_cron_and_time_zone() -> None:
    doc = lab("lab3_health_check_5min.json")
    doc["trigger_spec"] = {"scheduleExpression": "*/5 * * *"}
    found = problems(doc)
    assert "invalid cron expression '*/5 * * *'" in found["trigger_spec.scheduleExpression"]
    doc["trigger_spec"] = {"scheduleExpression": "0 9 * * 1-5", "timezone": "Mars/Olympus"}
    assert "unknown time zone 'Mars/Olympus'" in problems(doc)["trigger_spec.timezone"]
    doc["trigger_spec"] = {"scheduleExpression": "61 * * * *"}
    assert "trigger_spec.scheduleExpression" in problems(doc)


def test_trigger_spec_typos_and_threshold_typos() -> None:
    doc = lab("lab8_production_server_monitor.json")
    doc["trigger_spec"]["metricNmae"] = doc["trigger_spec"].pop("metricName")
    found = problems(doc)
    assert found["trigger_spec.metricNmae"] == "unknown field 'metricNmae'"
    doc = lab("lab8_production_server_monitor.json")
    doc["trigger_spec"]["threshold"] = "8O"
    assert problems(doc) == {"trigger_spec.threshold": "threshold must be a number, got '8O'"}


def test_anomaly_method_and_missing_value_path() -> None:
    doc = lab("lab4_cpu_anomaly.json")
    doc["trigger_spec"]["anomaly_method"] = "lof"
    assert problems(doc) == {
        "trigger_spec.anomaly_method": "unknown anomaly method 'lof'; expected one of: "
        "zscore, iqr, ema, mad"
    }
    doc["trigger_spec"] = {"anomaly_method": "iqr"}
    assert problems(doc) == {"trigger_spec.value_path": "required field is missing"}


def test_empty_rule_name_uses_the_builders_message() -> None:
    found = problems(base(rule_name="  "))
    assert found["rule_name"].startswith("규칙명을 입력하세요")


def test_several_problems_are_all_reported() -> None:
    doc = base(severity="urgent", window_config={"type": "tumbling", "size": "0m"})
    doc["composite_condition"]["conditions"][0]["op"] = "~"
    assert set(problems(doc)) == {
        "severity",
        "window_config.size",
        "composite_condition.conditions[0].op",
    }


def test_not_an_object() -> None:
    assert problems(["a list"]) == {"": "a rule must be a JSON object, got list"}


def test_error_message_names_rule_and_path() -> None:
    with pytest.raises(RuleValidationError, match=r"invalid rule 'system_resource_alert': "):
        parse_rule(base(trigger_type="x"))


def test_load_rule_files_reports_bad_json_with_line(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{\n  "rule_name": "x",\n}', encoding="utf-8")
    with pytest.raises(RuleError, match=r"broken.json:3:1: invalid JSON"):
        load_rule_files(tmp_path)
    with pytest.raises(RuleError, match="no such file"):
        load_rule_files(tmp_path / "absent.json")
