"""Every JSON block of the guide parses, validates and round-trips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cepkit.channels import CHANNELS, canonical_channel
from cepkit.conditions import ConditionGroup
from cepkit.plan import check_rule
from cepkit.rules import (
    EventTrigger,
    MetricTrigger,
    NotifyAction,
    Rule,
    load_rule_files,
    parse_rule,
    rule_json_schema,
)

DATA = Path(__file__).parents[3] / "data" / "rules"
GUIDE_FILES = sorted((DATA / "guide").glob("*.json"))
PACK_FILES = sorted((DATA / "pack").glob("*.json"))


def test_the_guide_files_are_all_there() -> None:
    names = {p.stem.split("_")[0] for p in GUIDE_FILES}
    assert names == {"lab1", "lab2", "lab3", "lab4", "lab5", "lab8", "sec24", "sec25"}


@pytest.mark.parametrize("path", GUIDE_FILES + PACK_FILES, ids=lambda p: p.name)
def test_rule_file_parses_and_round_trips(path: Path) -> None:
    [(_, document)] = load_rule_files(path)
    rule = parse_rule(document)
    canonical = rule.to_document()
    assert parse_rule(canonical) == rule
    assert parse_rule(json.loads(json.dumps(canonical))).to_document() == canonical
    assert rule.rule_name == document["rule_name"]
    check_rule(document)  # and the engine can run it


def test_sample_pack_is_the_five_rules_of_section_20_1() -> None:
    rules = [parse_rule(doc) for _, doc in load_rule_files(DATA / "pack")]
    table = {r.rule_name: (r.trigger_type, r.priority, r.is_active) for r in rules}
    assert table == {
        "critical_cpu": ("metric", "P1", True),
        "critical_error": ("event", "P1", True),
        "health_check": ("schedule", "P2", True),
        "latency_anomaly": ("anomaly", "P2", True),
        "escalation": ("event", "P1", True),
    }


def test_lab2_shapes() -> None:
    rule = parse_rule(json.loads((DATA / "guide" / "lab2_critical_error_event.json").read_text()))
    assert isinstance(rule.trigger_spec, EventTrigger)
    inline = rule.trigger_spec.condition()
    assert isinstance(inline, ConditionGroup) and inline.logic == "AND"
    assert rule.action_types == ["webhook", "notify"]
    # step 1's trigger spec on its own
    EventTrigger.model_validate({"event_type": "error", "source": "api-gateway"})


def test_lab3_multi_action_description_is_kept() -> None:
    rule = parse_rule(json.loads((DATA / "guide" / "lab3_health_check_5min.json").read_text()))
    assert rule.action_description == "5분 간격 서비스 상태 점검"


def test_lab8_string_thresholds_become_numbers() -> None:
    rule = parse_rule(
        json.loads((DATA / "guide" / "lab8_production_server_monitor.json").read_text())
    )
    assert isinstance(rule.trigger_spec, MetricTrigger)
    assert (rule.trigger_spec.metric_name, rule.trigger_spec.threshold) == ("cpu_usage", 85.0)
    assert rule.trigger_spec.duration == "5m"


def test_sections_24_and_25() -> None:
    breaker = parse_rule(json.loads((DATA / "guide" / "sec24_circuit_breaker.json").read_text()))
    [config] = breaker.action_config
    assert config.action == "webhook" and config.circuit_breaker is not None
    assert config.circuit_breaker.failure_threshold == 3
    fallback = parse_rule(json.loads((DATA / "guide" / "sec25_fallback_channel.json").read_text()))
    action = fallback.actions[0]
    assert isinstance(action, NotifyAction) and action.fallback_channel == "Email"


@pytest.mark.parametrize(
    ("channel", "config"),
    [
        ("Slack", {"webhook_url": "https://hooks.slack.com/services/T.../B.../xxx"}),
        (
            "Email",
            {
                "smtp_host": "smtp.company.com",
                "smtp_port": 587,
                "username": "cep-alerts@company.com",
                "password": "****",
                "from": "cep-alerts@company.com",
                "to": ["ops-team@company.com"],
            },
        ),
        (
            "SMS",
            {
                "provider": "twilio",
                "api_key": "****",
                "from_number": "+821012345678",
                "to_numbers": ["+821087654321"],
            },
        ),
        ("Discord", {"webhook_url": "https://discord.com/api/webhooks/xxx/yyy"}),
    ],
)
def test_lab6_channel_configs_validate(channel: str, config: dict[str, Any]) -> None:
    model = CHANNELS[canonical_channel(channel)].model_validate(config)
    assert "hooks.slack.com" not in repr(model) and "discord.com" not in repr(model)
    dumped = model.model_dump(mode="json")
    for secret in ("password", "api_key", "webhook_url"):
        if secret in dumped:
            assert dumped[secret] == "**********"


def test_json_schema_covers_the_blocks() -> None:
    schema = rule_json_schema()
    props = schema["properties"]
    for key in (
        "rule_name",
        "trigger_type",
        "trigger_spec",
        "composite_condition",
        "window_config",
        "aggregation",
        "enrichment",
        "actions",
        "suppression",
    ):
        assert key in props
    assert {"MetricTrigger", "WebhookAction", "SlidingWindow", "ConditionGroup"} <= set(
        schema["$defs"]
    )
    json.dumps(schema)  # serialisable


def test_rule_is_frozen() -> None:
    rule = parse_rule(json.loads((DATA / "guide" / "lab1_cpu_high_alert.json").read_text()))
    with pytest.raises(Exception, match="frozen"):
        rule.rule_name = "other"  # type: ignore[misc]
    assert isinstance(rule, Rule)
