"""``GET /cep/rules/{id}/handoff``: Markdown by default, the sections as JSON on request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cepkit.clock import FakeClock
from server.app import create_app
from server.settings import Settings

RULE_PACK = Path(__file__).resolve().parents[2] / "data" / "rules" / "pack"

RULE: dict[str, Any] = {
    "rule_name": "cpu_over_90",
    "description": "CPU above 90 on any host",
    "owner": "ops-oncall",
    "backup_owner": "sre",
    "runbook": "https://wiki.example.com/runbooks/cpu",
    "disable_criteria": "the host pool is retired",
    "priority": "P1",
    "trigger_type": "metric",
    "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 90},
    "actions": [
        {
            "type": "notify",
            "channels": ["Slack"],
            "fallback_channel": "Email",
            "message": "cpu {{cpu_usage}}",
        }
    ],
}


@pytest.fixture
def client(sqlite_url: str, clock: FakeClock) -> Iterator[TestClient]:
    settings = Settings(db=sqlite_url, tick_seconds=0, rule_pack=RULE_PACK)
    with TestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client


def test_markdown_sheet_of_a_stored_rule(client: TestClient) -> None:
    created = client.post("/cep/rules", json=RULE).json()
    rule_id = created["rule_id"]
    answer = client.get(f"/cep/rules/{rule_id}/handoff")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/markdown; charset=utf-8"
    lines = answer.text.splitlines()
    assert lines[0] == "# Rule handoff: cpu_over_90"
    assert f"- **Rule id:** `{rule_id}` (version 1, updated {created['updated_at']})" in lines
    assert "- **Backup owner:** sre" in lines
    assert "- Metric: cpu_usage > 90, each value as it arrives" in lines
    assert "1. Notify Slack; if it fails, fall back to Email. Message: `cpu {{cpu_usage}}`" in lines
    assert "- the host pool is retired" in lines
    assert f"- To deactivate: POST /cep/rules/{rule_id}/deactivate;" in answer.text
    assert "## Open items" not in answer.text


def test_json_sections_follow_the_current_version(client: TestClient) -> None:
    rule_id = client.post("/cep/rules", json=RULE).json()["rule_id"]
    changed = {
        **RULE,
        "backup_owner": None,
        "trigger_spec": {**RULE["trigger_spec"], "threshold": 95},
    }
    assert client.put(f"/cep/rules/{rule_id}", json=changed).status_code == 200
    sheet = client.get(f"/cep/rules/{rule_id}/handoff", params={"format": "json"}).json()
    assert (sheet["rule_id"], sheet["version"], sheet["rule_name"]) == (rule_id, 2, "cpu_over_90")
    assert sheet["trigger"] == ["Metric: cpu_usage > 95, each value as it arrives"]
    assert sheet["actions"][0]["summary"].startswith(
        "Notify Slack; if it fails, fall back to Email"
    )
    assert sheet["purpose"] == "CPU above 90 on any host"
    assert sheet["deactivation"][0] == "the host pool is retired"
    assert sheet["open_items"] == [
        "No backup owner for a P1 rule (guide 22: P1 rules need owner and backup owner)."
    ]
    assert set(sheet) >= {"failure_handling", "owner", "runbook", "severity", "is_active"}


def test_every_pack_rule_has_a_sheet_and_the_other_rule_routes_still_answer(
    client: TestClient,
) -> None:
    rules = client.get("/cep/rules").json()["rules"]
    assert len(rules) == 5
    for rule in rules:
        rule_id = rule["rule_id"]
        sheet = client.get(f"/cep/rules/{rule_id}/handoff")
        assert sheet.status_code == 200, sheet.text
        assert sheet.text.startswith(f"# Rule handoff: {rule['rule_name']}\n")
        assert client.get(f"/cep/rules/{rule_id}").json()["rule_name"] == rule["rule_name"]
        assert client.get(f"/cep/rules/{rule_id}/versions").json()["total"] == 1
    assert client.get("/cep/rules/export").status_code == 200


def test_unknown_rule_and_bad_format(client: TestClient) -> None:
    missing = client.get("/cep/rules/rule_000000000000/handoff")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "rule 'rule_000000000000' not found"}
    rule_id = client.post("/cep/rules", json=RULE).json()["rule_id"]
    assert client.get(f"/cep/rules/{rule_id}/handoff", params={"format": "pdf"}).status_code == 422


def test_the_route_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/cep/rules/{rule_id}/handoff" in paths
    assert {"/cep/stats", "/cep/stats/checks"} <= set(paths)
