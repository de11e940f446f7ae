"""A lone surrogate in any JSON body is a 422 naming its path, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cepkit.clock import FakeClock
from server.app import create_app
from server.settings import Settings
from tests.server.conftest import no_sleep

JSON = {"content-type": "application/json"}
RULE = {
    "rule_name": "cpu",
    "trigger_type": "metric",
    "trigger_spec": {"metric_name": "cpu", "operator": ">", "threshold": 90},
    "actions": [{"type": "store", "target": "events"}],
    "is_active": True,
}


@pytest.fixture
def app_client(sqlite_url: str, clock: FakeClock) -> Iterator[TestClient]:
    settings = Settings(db=sqlite_url, tick_seconds=0, dashboards=False)
    with TestClient(create_app(settings, clock=clock, sleep=no_sleep)) as client:
        yield client


def test_bodies_with_lone_surrogates_are_refused_with_their_paths(
    app_client: TestClient,
) -> None:
    assert app_client.post("/cep/rules", json=RULE).status_code == 201
    [event_id] = app_client.post("/cep/ingest", json={"timestamp": 60, "cpu": 95}).json()[
        "event_ids"
    ]
    ack = app_client.post(
        f"/cep/events/{event_id}/ack", content='{"by": "ops\\ud800"}', headers=JSON
    )
    assert ack.status_code == 422
    [problem] = ack.json()["detail"]
    assert (problem["loc"], problem["path"]) == (["body", "by"], "by")
    channel = app_client.put(
        "/cep/channels/Slack",
        content='{"webhook_url": "https://hooks.example/\\udc00", "extra": ["ok", "\\ud801"]}',
        headers=JSON,
    )
    assert channel.status_code == 422
    assert [p["path"] for p in channel.json()["detail"]] == ["webhook_url", "extra[1]"]
    # a surrogate pair is an emoji: fine; the event is untouched by the refused ACK
    fine = app_client.post(
        f"/cep/events/{event_id}/ack", content='{"by": "ops \\ud83d\\ude00"}', headers=JSON
    )
    assert fine.status_code == 200 and fine.json()["acked_by"] == "ops \U0001f600"
