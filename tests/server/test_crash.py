"""SIGKILL the real server (``cepkit serve`` in a subprocess) in the middle of an ingest.

Every batch whose ingest was answered must be in the events after a restart: the stored
events equal what :func:`cepkit.replay.replay` gives on the answered batches (plus, at
most, the one batch in flight when the process died, if it reached the journal).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from cepkit.replay import replay
from tests.server.conftest import serving_subprocess

RULES: list[dict[str, Any]] = [
    {
        "rule_name": "cpu_over_95",
        "is_active": True,
        "trigger_type": "metric",
        "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 95},
        "actions": [{"type": "notify", "channels": ["Slack"], "message": "cpu"}],
    },
    {
        "rule_name": "avg_cpu_1m",
        "is_active": True,
        "trigger_type": "metric",
        "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 60},
        "window_config": {"type": "tumbling", "size": "1m"},
        "aggregation": {"type": "avg", "field": "cpu_usage", "group_by": ["host"]},
        "actions": [{"type": "notify", "channels": ["Slack"], "message": "avg"}],
    },
    {
        "rule_name": "cpu_z",
        "is_active": True,
        "trigger_type": "anomaly",
        "trigger_spec": {"value_path": "cpu_usage", "threshold": 2.5, "min_baseline": 20},
        "group_by": ["host"],
        "actions": [{"type": "notify", "channels": ["Slack"], "message": "z"}],
    },
]


def _batches(count: int, size: int) -> list[list[dict[str, Any]]]:
    rng = np.random.default_rng(7)
    out = []
    for b in range(count):
        batch = []
        for i in range(size):
            t = (b * size + i) * 2
            batch.append(
                {
                    "timestamp": t,
                    "host": f"h{i % 4}",
                    "cpu_usage": round(float(rng.normal(55, 15)), 3),
                }
            )
        out.append(batch)
    return out


def _all_events(client: httpx.Client) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = client.get("/cep/events", params={"limit": 1000, "offset": len(out)}).json()
        out.extend(page["events"])
        if len(out) >= page["total"]:
            return out


def _expected(rule_ids: dict[str, str], batches: list[list[dict[str, Any]]]) -> set[str]:
    documents = [{**rule, "rule_id": rule_ids[rule["rule_name"]]} for rule in RULES]
    rows = [event for batch in batches for event in batch]
    firings = replay(documents, pd.DataFrame(rows)).firings
    # the live windows still open at the end are not flushed: compare closed ones only
    end = rows[-1]["timestamp"]
    closed = firings["window_end"].isna() | (
        firings["window_end"] <= pd.Timestamp(end - end % 60, unit="s", tz="UTC")
    )
    return set(firings[~firings["suppressed"] & closed]["firing_id"])


def test_sigkill_mid_ingest_loses_no_answered_event(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "cepkit.cli", "serve", "--db", str(tmp_path / "crash.db")]
    env = {**os.environ, "CEPKIT_CHECKPOINT_SECONDS": "0.5", "CEPKIT_TICK_SECONDS": "0"}
    log = tmp_path / "server.log"
    batches = _batches(120, 250)
    answered: list[int] = []
    in_flight: list[int] = []
    with (
        serving_subprocess(command, log=log, env=env) as (server, base),
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        rule_ids = {}
        for rule in RULES:
            created = client.post("/cep/rules", json=rule)
            assert created.status_code == 201, created.text
            rule_ids[rule["rule_name"]] = created.json()["rule_id"]

        def send() -> None:
            for index, batch in enumerate(batches):
                in_flight.append(index)
                try:
                    answer = client.post("/cep/ingest", json=batch)
                except httpx.TransportError:
                    return
                assert answer.json()["accepted"] == len(batch)
                answered.append(index)

        sender = threading.Thread(target=send)
        sender.start()
        while len(answered) < 40:
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        sender.join(timeout=30)
    assert 40 <= len(answered) < len(batches), "the kill did not land mid-ingest"
    with (
        serving_subprocess(command, log=log, env=env) as (_, base),
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        stored = {e["event_id"] for e in _all_events(client)}
    done = [batches[i] for i in answered]
    with_flight = [batches[i] for i in in_flight]
    candidates = [_expected(rule_ids, done), _expected(rule_ids, with_flight)]
    assert len(candidates[0]) > 50
    assert stored in candidates, (
        f"stored {len(stored)} events; expected {len(candidates[0])} "
        f"(or {len(candidates[1])} with the batch in flight); "
        f"missing {len(candidates[0] - stored)}, extra {len(stored - candidates[1])}"
    )
