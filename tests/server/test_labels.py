"""Labels for tuning from the event console: ACK = incident, dismissed = noise."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from cepkit.clock import FakeClock
from cepkit.tuning import Incidents, sweep
from server.app import create_app
from server.settings import Settings
from tests.server.conftest import no_sleep


@pytest.fixture
def client(sqlite_url: str, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(
        create_app(Settings(db=sqlite_url, tick_seconds=0), clock=clock, sleep=no_sleep)
    ) as c:
        yield c


def test_acked_and_dismissed_events_become_labels_for_a_sweep(client: TestClient) -> None:
    rule = {
        "rule_name": "cpu_high",
        "is_active": True,
        "trigger_type": "metric",
        "trigger_spec": {"metric_name": "cpu", "operator": ">", "threshold": 80},
        "actions": [{"type": "webhook", "endpoint": "http://127.0.0.1:9/x"}],
    }
    assert client.post("/cep/rules", json=rule).status_code == 201
    cpu = [50.0] * 60
    for t in (10, 11, 12):  # a real incident
        cpu[t] = 95.0
    cpu[40] = 85.0  # a blip the operator calls noise
    frame = pd.DataFrame({"timestamp": [60 * i for i in range(60)], "host": "a", "cpu": cpu})
    ids = client.post("/cep/ingest", json=frame.to_dict("records")).json()["event_ids"]
    assert len(ids) == 4
    for event_id in ids[:3]:
        client.post(f"/cep/events/{event_id}/ack", json={"by": "kim"})
    client.post(f"/cep/events/{ids[3]}/dismiss", json={"by": "kim", "note": "noise"})
    csv_text = client.get("/cep/events/labels", params={"format": "csv"}).text
    incidents = Incidents.from_labels(io.StringIO(csv_text), group="host")
    assert [(i.start, i.group) for i in incidents] == [(600.0, None), (660.0, None), (720.0, None)]
    result = sweep(frame, "threshold", {}, thresholds=[80, 90], value="cpu", labels=incidents)
    by_threshold = result.set_index("threshold")
    assert by_threshold.loc[80.0, "precision"] == pytest.approx(0.75)
    assert by_threshold.loc[90.0, "precision"] == 1.0
    assert by_threshold.loc[90.0, "recall"] == 1.0
