"""``GET /cep/rules/{id}/suppressions`` in embedded mode: the live engine's open
suppressions, tenant-scoped, readable by a viewer (scaled mode: tests/server/test_scaled.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

RULE: dict[str, Any] = {
    "rule_name": "cpu_over_90",
    "is_active": True,
    "trigger_type": "metric",
    "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 90},
    "suppression": {"interval": "10m", "key": ["host"]},
    "actions": [{"type": "store", "target": "events"}],
}


def _at(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def test_the_open_suppressions_of_the_live_engine_per_key(keyed_client: TestClient) -> None:
    admin, viewer = {"X-API-Key": "acme-admin-key"}, {"X-API-Key": "acme-viewer-key"}
    rule_id = keyed_client.post("/cep/rules", json=RULE, headers=admin).json()["rule_id"]
    path = f"/cep/rules/{rule_id}/suppressions"
    assert keyed_client.get(path, headers=viewer).json() == {"rule_id": rule_id, "suppressions": []}
    events = [
        {"timestamp": 60, "host": "a", "cpu_usage": 95},
        {"timestamp": 120, "host": "a", "cpu_usage": 96},  # suppressed: a's stays at 660
        {"timestamp": 130, "host": "b", "cpu_usage": 97},
        {"timestamp": 140, "host": "c", "cpu_usage": 10},  # no firing, no suppression
    ]
    assert (
        len(keyed_client.post("/cep/ingest", json=events, headers=admin).json()["event_ids"]) == 2
    )
    listed = keyed_client.get(path, headers=viewer)
    assert listed.status_code == 200
    assert listed.json() == {
        "rule_id": rule_id,
        "suppressions": [
            {"key": {"host": "a"}, "until": _at(660), "firing_id": None, "event_time": None},
            {"key": {"host": "b"}, "until": _at(730), "firing_id": None, "event_time": None},
        ],
    }
    keyed_client.post(
        "/cep/ingest", json={"timestamp": 665, "host": "c", "cpu_usage": 1}, headers=admin
    )
    after = keyed_client.get(path, headers=viewer).json()["suppressions"]
    assert [s["key"] for s in after] == [{"host": "b"}]  # a's ended at 660 (event time)
    globex = {"X-API-Key": "globex-admin-key"}
    assert keyed_client.get(path, headers=globex).status_code == 404  # another tenant's rule
    assert keyed_client.get("/cep/rules/rule_nope/suppressions", headers=admin).status_code == 404
    keyed_client.post(f"/cep/rules/{rule_id}/deactivate", headers=admin)
    assert keyed_client.get(path, headers=viewer).json()["suppressions"] == []  # not running
