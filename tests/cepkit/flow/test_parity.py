"""Replay and the flow (1 and 2 workers) give the same firings, ids and content included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cepkit.flow import FlowStreams, RuleCatalog, build_flow, run_flow
from cepkit.replay import replay
from cepkit.rules import load_rule_files
from tests.cepkit.flow.conftest import RULES, comparable, events_of, flow_firings, load, metrics
from tests.conftest import REPO_ROOT, RULE_PACK
from tests.server.conftest import free_port


def _documents() -> list[dict[str, Any]]:
    pack = [d for _, d in load_rule_files(RULE_PACK)]
    return [{**d, "rule_id": d["rule_name"]} for d in pack + RULES]


@pytest.mark.parametrize("workers", [1, 2])
def test_the_flow_fires_as_replay_does(streams: FlowStreams, workers: int) -> None:
    documents = _documents()
    frame = pd.read_csv(REPO_ROOT / "data" / "samples" / "server_metrics.csv")
    expected = {f.firing_id: comparable(f) for f in replay(documents, frame).firing_models}
    assert {f["rule_name"] for f in expected.values()} >= {
        "critical_cpu",  # tumbling window by host, suppression by host
        "health_check",  # schedule (keyed by rule)
        "latency_anomaly",  # z-score over every host (keyed by rule)
        "latency_host",  # z-score per host
        "cpu_window",
        "cpu_point",  # per-event threshold per host
    }
    load(streams, events_of(frame), batch=97)

    run_flow(build_flow(streams, RuleCatalog.of_documents(documents)), workers=workers)

    got = flow_firings(streams)
    assert all(len(copies) == 1 for copies in got.values())  # no restart: no repeats
    assert {k: v[0] for k, v in got.items()} == expected


def test_two_flow_processes_form_one_cluster(streams: FlowStreams, tmp_path: Path) -> None:
    """``cepkit flow -i/-a``: two processes share the keys and fire as replay does."""
    documents = [{**d, "rule_id": d["rule_name"]} for d in RULES if d["rule_name"] != "hourly"]
    frame = metrics(minutes=600, hosts=4)
    expected = {f.firing_id: comparable(f) for f in replay(documents, frame).firing_models}
    load(streams, events_of(frame), batch=100)
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(documents), encoding="utf-8")
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "cepkit.cli", "flow", "--redis", streams.url]
    command += ["--prefix", streams.prefix, "--rules", str(rules), "-a", addresses]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    processes = [
        subprocess.Popen([*command, "-i", str(i)], env=env, cwd=REPO_ROOT, stderr=subprocess.PIPE)
        for i in range(2)
    ]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()[-2000:]

    got = flow_firings(streams)
    assert all(len(copies) == 1 for copies in got.values())
    assert {k: v[0] for k, v in got.items()} == expected


def test_out_of_order_groups_give_replays_late_events_and_windows(streams: FlowStreams) -> None:
    """Host h01 lags h00 by 150 s: replay's one watermark per rule finds h01's events late
    for a 1-minute count per host; the flow keys the windowed rule by rule and agrees
    (keyed by group, h01's windows would have fired)."""
    per_minute = {
        "rule_name": "per_minute",
        "rule_id": "per_minute",
        "trigger_type": "event",
        "trigger_spec": {},
        "window_config": {"type": "tumbling", "size": "1m"},
        "aggregation": [{"type": "count", "group_by": ["host"]}],
    }
    once_an_hour = {  # per host, but suppressed for the whole rule: one state
        **RULES[1],
        "rule_name": "cpu_point_once",
        "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 30},
        "suppression": {"interval": "20m"},
    }
    documents = [
        per_minute,
        *({**d, "rule_id": d["rule_name"]} for d in [*RULES[1:3], once_an_hour]),
    ]
    frame = metrics(minutes=60, hosts=2)
    frame.loc[frame["host"] == "h01", "timestamp"] -= 150.0
    result = replay(documents, frame)
    assert result.summary.rules["per_minute"].late == 60  # every h01 event
    once = [f for f in result.firing_models if f.rule_name == "cpu_point_once"]
    assert sum(not f.suppressed for f in once) <= 4 < 10 < len(once)  # 1 per 20m per rule
    assert {f.group["host"] for f in result.firing_models if f.rule_name == "per_minute"} == {"h00"}
    expected = {f.firing_id: comparable(f) for f in result.firing_models}
    load(streams, events_of(frame), batch=50)
    run_flow(build_flow(streams, RuleCatalog.of_documents(documents)), workers=2)
    assert {k: v[0] for k, v in flow_firings(streams).items()} == expected
