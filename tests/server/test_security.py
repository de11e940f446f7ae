"""API keys, roles and tenants (server.security), through HTTP."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cepkit.clock import FakeClock
from server.app import create_app
from server.security import parse_api_keys
from server.settings import Settings
from tests.fakes import FakeService, service
from tests.server.conftest import drain, no_sleep, serving_subprocess

__all__ = ["service"]  # the fake-service fixture, used by name

RULE: dict[str, Any] = {
    "rule_name": "cpu_over_90",
    "is_active": True,
    "trigger_type": "metric",
    "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 90},
    "actions": [{"type": "notify", "channels": ["Slack"], "message": "cpu"}],
}


def as_key(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def test_a_key_is_required_and_roles_limit_what_it_may_do(keyed_client: TestClient) -> None:
    assert keyed_client.get("/cep/rules").status_code == 401
    assert keyed_client.get("/cep/rules", headers=as_key("wrong")).status_code == 401
    bearer = {"Authorization": "Bearer acme-viewer-key"}
    assert keyed_client.get("/cep/rules", headers=bearer).status_code == 200
    viewer, operator, admin = (
        as_key(f"acme-{role}-key") for role in ("viewer", "operator", "admin")
    )
    denied = keyed_client.post("/cep/rules", json=RULE, headers=viewer)
    assert denied.status_code == 403 and "needs admin" in denied.json()["detail"]
    assert keyed_client.post("/cep/rules", json=RULE, headers=operator).status_code == 403
    created = keyed_client.post("/cep/rules", json=RULE, headers=admin)
    assert created.status_code == 201
    event = {"timestamp": 60, "cpu_usage": 95}
    assert keyed_client.post("/cep/ingest", json=event, headers=viewer).status_code == 403
    ingested = keyed_client.post("/cep/ingest", json=event, headers=operator).json()
    event_id = ingested["event_ids"][0]
    assert keyed_client.post(f"/cep/events/{event_id}/ack", headers=viewer).status_code == 403
    assert keyed_client.post(f"/cep/events/{event_id}/ack", headers=operator).status_code == 200
    assert (
        keyed_client.put("/cep/channels/Slack", json={"config": {}}, headers=operator).status_code
        == 403
    )
    rule_id = created.json()["rule_id"]
    assert keyed_client.delete(f"/cep/rules/{rule_id}", headers=operator).status_code == 403


def test_tenants_never_see_each_other(keyed_client: TestClient) -> None:
    acme, globex = as_key("acme-admin-key"), as_key("globex-admin-key")
    acme_rule = keyed_client.post("/cep/rules", json=RULE, headers=acme).json()["rule_id"]
    globex_rule = keyed_client.post("/cep/rules", json=RULE, headers=globex).json()[
        "rule_id"
    ]  # same name
    assert [r["rule_id"] for r in keyed_client.get("/cep/rules", headers=acme).json()["rules"]] == [
        acme_rule
    ]
    assert keyed_client.get(f"/cep/rules/{globex_rule}", headers=acme).status_code == 404
    assert keyed_client.put(f"/cep/rules/{globex_rule}", json=RULE, headers=acme).status_code == 404
    assert keyed_client.delete(f"/cep/rules/{globex_rule}", headers=acme).status_code == 404
    assert keyed_client.get(f"/cep/rules/{globex_rule}/logs", headers=acme).status_code == 404
    # acme's events reach acme's rule only
    ids = keyed_client.post(
        "/cep/ingest", json={"timestamp": 60, "cpu_usage": 99}, headers=acme
    ).json()
    assert len(ids["event_ids"]) == 1
    assert keyed_client.get("/cep/events", headers=globex).json()["total"] == 0
    acme_events = keyed_client.get("/cep/events", headers=acme).json()["events"]
    assert [e["rule_id"] for e in acme_events] == [acme_rule]
    assert keyed_client.get(f"/cep/events/{ids['event_ids'][0]}", headers=globex).status_code == 404
    assert (
        keyed_client.post(f"/cep/events/{ids['event_ids'][0]}/ack", headers=globex).status_code
        == 404
    )
    # channels are per tenant
    hook = {"config": {"webhook_url": "http://127.0.0.1:9/acme-secret"}}
    assert keyed_client.put("/cep/channels/Slack", json=hook, headers=acme).status_code == 200
    globex_status = keyed_client.get("/cep/channels/status", headers=globex).json()
    assert globex_status["channels"]["Slack"]["configured"] is False
    assert keyed_client.get("/cep/channels/status", headers=acme).json()["channels"]["Slack"][
        "configured"
    ]
    assert "acme-secret" not in keyed_client.get("/cep/channels/Slack", headers=acme).text
    assert (
        keyed_client.get("/cep/stats?period=all", headers=globex).json()["events"]["created"] == 0
    )
    assert keyed_client.get("/cep/stats?period=all", headers=acme).json()["events"]["created"] == 1
    owned = keyed_client.get("/cep/scheduler/instances", headers=globex).json()[0]["rules_owned"]
    assert owned == []
    exported = keyed_client.get("/cep/rules/export", headers=globex).json()
    assert [r["rule_name"] for r in exported["rules"]] == ["cpu_over_90"] and exported["total"] == 1


def test_without_keys_everyone_is_the_local_admin(sqlite_url: str) -> None:
    with TestClient(create_app(Settings(db=sqlite_url, tick_seconds=0))) as client:
        assert client.post("/cep/rules", json=RULE).status_code == 201


def test_key_configuration_errors_name_the_entry() -> None:
    with pytest.raises(ValueError, match=r"CEPKIT_API_KEYS\[1\]"):
        parse_api_keys("good:admin, broken")
    with pytest.raises(ValueError, match="role"):
        parse_api_keys('[{"key": "k", "role": "root"}]')
    assert parse_api_keys(None) == [] and parse_api_keys("  ") == []


def test_serve_without_keys_binds_loopback_and_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CEPKIT_API_KEYS"}
    command = [sys.executable, "-m", "cepkit.cli", "serve", "--host", "0.0.0.0"]
    log = tmp_path / "serve.log"
    with serving_subprocess([*command, "--db", str(tmp_path / "s.db")], log=log, env=env):
        pass  # it came up and answers on 127.0.0.1
    output = log.read_text()
    assert "not binding to 0.0.0.0" in output
    assert "serving 127.0.0.1 only" in output
    assert "Uvicorn running on http://127.0.0.1:" in output


# -- where actions may go -------------------------------------------------------------------


def _hook_rule(name: str, endpoint: str) -> dict[str, Any]:
    spec = {"metric_name": "cpu", "operator": ">", "threshold": 90}
    return {
        "rule_name": name,
        "is_active": True,
        "trigger_type": "metric",
        "trigger_spec": spec,
        "actions": [{"type": "webhook", "endpoint": endpoint}],
    }


def _deliver(settings: Settings, clock: FakeClock, endpoint: str) -> dict[str, Any]:
    """One firing of a webhook rule to ``endpoint``; its execution log."""
    with TestClient(create_app(settings, clock=clock, sleep=no_sleep)) as api:
        rule_id = api.post("/cep/rules", json=_hook_rule("hook", endpoint)).json()["rule_id"]
        api.post("/cep/ingest", json={"timestamp": 60, "cpu": 95})
        drain(api)
        [entry] = api.get(f"/cep/rules/{rule_id}/logs").json()["logs"]
        return dict(entry)


def test_metadata_addresses_are_denied_and_the_lists_are_settings(
    sqlite_url: str, clock: FakeClock, service: FakeService
) -> None:
    hook = service.route("/hook", 200, 200, 200)
    fresh = iter(range(10))

    def settings(**targets: Any) -> Settings:  # a database of its own each time
        db = sqlite_url.replace(".db", f"-{next(fresh)}.db")
        return Settings(db=db, tick_seconds=0, **targets)

    metadata = _deliver(settings(), clock, "http://169.254.169.254/latest/meta-data")
    assert metadata["status"] == "failed"
    assert "169.254.169.254 is denied" in metadata["error_message"]
    assert _deliver(settings(), clock, hook)["status"] == "success"
    for refused in (
        settings(targets_deny="127.0.0.0/8"),
        settings(targets_allow_loopback=False),
        settings(targets_allow="hooks.slack.com"),
    ):
        entry = _deliver(refused, clock, hook)
        assert entry["status"] == "failed" and "127.0.0.1" in entry["error_message"], refused
    assert len(service.hits("/hook")) == 1  # only the allowed delivery reached it


def test_suppressed_firings_are_logged_for_their_own_tenant(keyed_client: TestClient) -> None:
    """Three hot events, suppression of 1h: one event, two executions logged as
    suppressed, all three logs in the rule's tenant (acme sees them, globex does not)."""
    rule = {
        "rule_name": "hot",
        "is_active": True,
        "trigger_type": "metric",
        "trigger_spec": {"metric_name": "cpu", "operator": ">", "threshold": 90},
        "suppression": {"interval": "1h"},
        "actions": [{"type": "store", "target": "events"}],
    }
    acme = as_key("acme-admin-key")
    rule_id = keyed_client.post("/cep/rules", json=rule, headers=acme).json()["rule_id"]
    hot = [{"timestamp": t, "cpu": 95} for t in (60, 120, 180)]
    answer = keyed_client.post("/cep/ingest", json=hot, headers=acme).json()
    assert (answer["accepted"], answer["firings"], len(answer["event_ids"])) == (3, 3, 1)
    drain(keyed_client)
    logs = keyed_client.get(f"/cep/rules/{rule_id}/logs", headers=acme).json()["logs"]
    assert sorted(entry["status"] for entry in logs) == ["success", "suppressed", "suppressed"]
    other = keyed_client.get(f"/cep/rules/{rule_id}/logs", headers=as_key("globex-admin-key"))
    assert other.status_code == 404 or other.json()["logs"] == []
