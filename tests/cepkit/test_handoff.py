"""The rule handoff sheet: every pack rule renders, in plain words, without secrets."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cepkit.errors import RuleValidationError
from cepkit.handoff import describe_condition, handoff_markdown, handoff_sheet
from cepkit.rules import Rule, load_rule_files, parse_rule
from cepkit.store import StoredRule

REPO_ROOT = Path(__file__).resolve().parents[2]
PACK = sorted((REPO_ROOT / "data" / "rules" / "pack").glob("*.json"))
GUIDE = REPO_ROOT / "data" / "rules" / "guide"

SECTIONS = [
    "## 1. Purpose (목적)",
    "## 2. Trigger and conditions (트리거/조건)",
    "## 3. Action path (액션 경로)",
    "## 4. Failure handling (실패 시 조치)",
    "## 5. Deactivation criteria (비활성화 기준)",
]

#: per pack rule, lines the sheet must hold
EXPECTED: dict[str, list[str]] = {
    "critical_cpu": [
        "- Metric: cpu_usage > 90, 1-minute average per host",
        "- Suppression: at most one alert per 10 minutes per host",
        "1. Notify Slack; if it fails, fall back to Email. "
        "Message: `[P1] CPU {{cpu_usage}}% on {{host}}`",
        "   - Slack, Email: 4 retries (waits 1 s, 2 s, 4 s, 8 s); circuit breaker opens after "
        "3 failed deliveries, trial after 30 s; timeout 10 s",
        "2. Call POST https://events.pagerduty.com/v2/enqueue",
        "- If Slack fails after its retries (or its breaker is open), the message goes once "
        "through Email.",
        "- No backup owner for a P1 rule (guide 22: P1 rules need owner and backup owner).",
    ],
    "critical_error": [
        '- Event: events of type "error"',
        '- Conditions: severity == "critical"',
        "1. Call POST https://events.pagerduty.com/v2/enqueue",
    ],
    "health_check": [
        "- Schedule: cron `*/5 * * * *` in Asia/Seoul, every 5 minutes",
        "1. Call GET https://api.internal.example.com/health/check",
    ],
    "latency_anomaly": [
        "- Anomaly: latency_ms z-score above 3 against the mean and deviation of the last "
        "100 samples",
        "- Needs 30 samples of baseline first (until then: baseline_insufficient, never fires)",
        "1. Notify Slack; no fallback channel. Message: "
        "`Latency anomaly on {{service}}: {{latency_ms}} ms`",
        "- No fallback channel for Slack (guide 18, question 3).",
    ],
    "escalation": [
        '- Event: events of type "delivery_failed"',
        "- Conditions: retry > 3",
        "- Suppression: at most one alert per 1 hour per rule_id",
        "1. Notify SMS; if it fails, fall back to Email. "
        "Message: `[ESCALATION] {{rule_name}} failed {{retry}} times`",
    ],
}


def lines_of(text: str) -> list[str]:
    return text.splitlines()


@pytest.mark.parametrize("path", PACK, ids=[p.stem for p in PACK])
def test_every_pack_rule_renders_with_its_key_lines(path: Path) -> None:
    document = json.loads(path.read_text())
    rule = parse_rule(document)
    text = handoff_markdown(rule)
    lines = lines_of(text)
    assert lines[0] == f"# Rule handoff: {rule.rule_name}"
    assert [line for line in lines if line.startswith("## ")][:5] == SECTIONS
    assert f"- **Owner:** {document['owner']}" in lines
    assert "- **Backup owner:** not documented" in lines
    assert document["description"] in lines  # the purpose falls back to the description
    assert "- Criteria not documented (guide 18, question 5)." in lines
    for expected in EXPECTED[rule.rule_name]:
        assert expected in lines, expected
    sheet = handoff_sheet(rule)
    assert len(sheet.actions) == len(rule.actions)
    assert sheet.purpose == document["description"]


def test_the_pack_is_what_the_expectations_cover() -> None:
    assert sorted(json.loads(p.read_text())["rule_name"] for p in PACK) == sorted(EXPECTED)


def test_every_guide_rule_renders() -> None:
    entries = [entry for path in sorted(GUIDE.glob("*.json")) for entry in load_rule_files(path)]
    assert entries
    for source, document in entries:
        try:
            rule = parse_rule(document)
        except RuleValidationError:
            continue  # the guide's deliberately broken examples
        text = handoff_markdown(rule)
        assert all(section in text for section in SECTIONS), source


DOCUMENTED: dict[str, Any] = {
    "rule_name": "disk_full",
    "owner": "platform",
    "backup_owner": "sre",
    "purpose": "Warn before a disk fills up",
    "runbook": "https://wiki.example.com/runbooks/disk",
    "disable_criteria": ["the fleet moves to network storage", "more than 5 false alarms a week"],
    "severity": "warning",
    "priority": "P1",
    "is_active": True,
    "trigger_type": "metric",
    "trigger_spec": {"metric_name": "disk_pct", "operator": ">=", "threshold": 92.5},
    "window_config": {"type": "sliding", "size": "10m", "slide": "1m"},
    "aggregation": {"type": "max", "field": "disk_pct", "group_by": "host, mount"},
    "composite_condition": {
        "logic": "NOT",
        "conditions": [
            {"field": "mount", "op": "in", "value": ["/tmp", "/scratch"]},
            {"field": "maintenance", "op": "exists", "value": True},
        ],
    },
    "pending": 3,
    "recovery": {"threshold": 85},
    "action_config": [
        {"action": "Slack", "circuit_breaker": {"failure_threshold": 5, "timeout_seconds": 60}},
        {"retry": {"max_retries": 2, "initial_delay_seconds": 0.5}},
    ],
    "actions": [
        {
            "type": "notify",
            "channels": ["Slack", "Discord"],
            "fallback_channel": "Email",
            "message": "disk {{disk_pct}}% on {{host}}",
        },
        {
            "type": "webhook",
            "endpoint": "https://bot:hunter2@hooks.example.com/disk?token=s3cret",
            "method": "PUT",
            "headers": {"Authorization": "Bearer s3cret-too"},
            "timeout_seconds": 3,
        },
        {"type": "trigger", "rule_id": "rule_0123456789ab"},
        {"type": "store", "target": "incidents"},
    ],
}


def test_a_fully_documented_rule_has_no_open_items() -> None:
    rule = parse_rule(DOCUMENTED)
    when = datetime(2026, 2, 8, 10, 30, tzinfo=UTC)
    stored = StoredRule(
        rule_id="rule_abcdefabcdef", version=3, created_at=when, updated_at=when, document={}
    )
    sheet = handoff_sheet(rule, stored=stored)
    assert sheet.open_items == []
    text = handoff_markdown(rule, stored=stored)
    lines = lines_of(text)
    assert "## Open items (리뷰 필요)" not in text
    assert (
        "- **Rule id:** `rule_abcdefabcdef` (version 3, updated 2026-02-08T10:30:00+00:00)" in lines
    )
    assert "- **Backup owner:** sre" in lines
    assert "- **Runbook:** https://wiki.example.com/runbooks/disk" in lines
    assert "Warn before a disk fills up" in lines
    for expected in [
        "- Metric: disk_pct >= 92.5, 10-minute average, recomputed every 1 minute "
        "per host and mount",
        '- Also required: none of (mount in ["/tmp", "/scratch"]; maintenance exists)',
        "- Aggregation: maximum of disk_pct as max_disk_pct per host and mount",
        "- Fires only after 3 consecutive evaluations hold",
        "- Recovers when disk_pct < 85",
        "1. Notify Slack, Discord; if it fails, fall back to Email. "
        "Message: `disk {{disk_pct}}% on {{host}}`",
        "   - Slack: 2 retries (waits 0.5 s, 1 s); circuit breaker opens after 5 failed "
        "deliveries, trial after 60 s; timeout 10 s",
        "   - Discord, Email: 2 retries (waits 0.5 s, 1 s); circuit breaker opens after 3 "
        "failed deliveries, trial after 30 s; timeout 10 s",
        "2. Call PUT https://hooks.example.com/disk (query and credentials not shown)",
        "   - 2 retries (waits 0.5 s, 1 s); circuit breaker opens after 3 failed deliveries, "
        "trial after 30 s; timeout 3 s",
        "   - headers: Authorization (values not shown)",
        "3. Chain to rule `rule_0123456789ab` with this firing as its payload",
        "4. Store the firing in `incidents`",
        "- If any of Slack, Discord fails after its retries (or its breaker is open), the "
        "message goes once through Email.",
        "- Runbook: https://wiki.example.com/runbooks/disk",
        "- the fleet moves to network storage",
        "- more than 5 false alarms a week",
        "- Currently active.",
        "- To deactivate: POST /cep/rules/rule_abcdefabcdef/deactivate; to go back to an "
        'earlier version: POST /cep/rules/rule_abcdefabcdef/rollback {"version": N}.',
    ]:
        assert expected in lines, expected
    for secret in ("hunter2", "s3cret", "bot:", "token="):
        assert secret not in text


def test_the_new_rule_fields_validate_and_round_trip() -> None:
    document = {k: v for k, v in DOCUMENTED.items() if k != "backup_owner"}
    rule = parse_rule({**document, "disable_criteria": "  retired hosts  ", "backupOwner": "x"})
    assert rule.disable_criteria == ["retired hosts"]
    assert rule.backup_owner == "x"
    assert parse_rule(rule.to_document()) == rule
    assert Rule.model_validate({**DOCUMENTED, "disable_criteria": ""}).disable_criteria == []
    with pytest.raises(RuleValidationError) as error:
        parse_rule({**DOCUMENTED, "disable_criteria": [1, 2]})
    assert error.value.problems[0].path.startswith("disable_criteria")
    with pytest.raises(RuleValidationError):
        parse_rule({**DOCUMENTED, "handoff_notes": "unknown keys are still errors"})


def test_an_undocumented_rule_lists_what_a_review_would_ask() -> None:
    rule = parse_rule(
        {
            "rule_name": "bare",
            "priority": "p1",
            "trigger_type": "schedule",
            "trigger_spec": {"cron": "30 9 * * 1-5"},
        }
    )
    sheet = handoff_sheet(rule)
    assert sheet.trigger == ["Schedule: cron `30 9 * * 1-5` in UTC, on weekdays at 09:30"]
    assert sheet.purpose == "not documented"
    assert sheet.actions == []
    assert sheet.open_items == [
        "No owner (guide 17: every rule has an owner).",
        "No backup owner for a P1 rule (guide 22: P1 rules need owner and backup owner).",
        "No purpose or description (guide 17: a description is required).",
        "No actions: a firing only becomes an event.",
        "No deactivation criteria (guide 18, question 5).",
        "No runbook linked.",
    ]
    text = handoff_markdown(rule)
    assert "No actions." in lines_of(text)
    assert "- **Rule id:** not stored yet" in lines_of(text)


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ({"field": "a", "op": "between", "value": [1, 5.5]}, "a between 1 and 5.5"),
        ({"field": "a", "op": "exists", "value": False}, "a is absent"),
        ({"field": "tags", "op": "contains", "value": "db"}, 'tags contains "db"'),
        ({"field": "ok", "op": "==", "value": True}, "ok == true"),
        (
            {
                "logic": "AND",
                "conditions": [
                    {"field": "x", "op": ">", "value": 1},
                    {
                        "logic": "OR",
                        "conditions": [
                            {"field": "y", "op": "<", "value": 2},
                            {"field": "z", "op": "regex", "value": "^a"},
                        ],
                    },
                ],
            },
            'x > 1 and (y < 2 or z regex "^a")',
        ),
    ],
)
def test_conditions_in_plain_words(condition: dict[str, Any], words: str) -> None:
    rule = parse_rule(
        {
            "rule_name": "c",
            "trigger_type": "event",
            "trigger_spec": {},
            "composite_condition": condition,
        }
    )
    assert rule.composite_condition is not None
    assert describe_condition(rule.composite_condition) == words


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"value_path": "v", "anomaly_method": "iqr", "window": 50}, "outside Q1 - 1.5 x IQR"),
        ({"value_path": "v", "anomaly_method": "ema", "alpha": 0.2}, "(alpha 0.2)"),
        ({"value_path": "v", "anomaly_method": "mad", "window": None}, "every sample so far"),
    ],
)
def test_every_anomaly_method_reads(spec: dict[str, Any], words: str) -> None:
    rule = parse_rule({"rule_name": "a", "trigger_type": "anomaly", "trigger_spec": spec})
    assert words in handoff_sheet(rule).trigger[0]
