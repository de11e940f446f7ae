"""Enrichment: lookups (static, SQLite, real Redis), historical aggregates, models."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cepkit.engine import RuleRuntime, run
from cepkit.enrichment import Enricher, Resources
from cepkit.errors import RuleValidationError

SERVERS = {"gt-01": {"owner": "platform", "tier": 1}, "gt-02": {"owner": "data", "tier": 2}}


def tier1_rule(source: str) -> dict[str, Any]:
    return {
        "rule_name": "tier1_cpu",
        "trigger_type": "metric",
        "trigger_spec": {"metric_name": "cpu", "operator": ">", "threshold": 90},
        "enrichment": {
            "type": "lookup",
            "source": source,
            "key": "host",
            "output_field": "server_info",
        },
        "composite_condition": {
            "conditions": [{"field": "server_info.tier", "op": "==", "value": 1}]
        },
    }


EVENTS = [
    {"timestamp": 0, "host": "gt-01", "cpu": 95},
    {"timestamp": 1, "host": "gt-02", "cpu": 97},
    {"timestamp": 2, "host": "gt-09", "cpu": 99},
    {"timestamp": 3, "host": "gt-01", "cpu": 50},
]


def check_tier1(firings: list[Any]) -> None:
    assert [f.payload["host"] for f in firings] == ["gt-01"]
    info = firings[0].payload["server_info"]
    assert (info["owner"], info["tier"]) == ("platform", 1)


def test_static_table_lookup_runs_before_conditions() -> None:
    runtime = RuleRuntime(tier1_rule("servers"), resources=Resources(tables={"servers": SERVERS}))
    firings = [f for e in EVENTS for f in runtime.process(e)]
    check_tier1(firings)
    # gt-09 is not in the table: reported, and its condition is an evaluation error
    assert runtime.stats.enrichment_errors == 1
    assert "no entry for host='gt-09' in 'servers'" in " ".join(runtime.stats.error_samples)
    assert runtime.stats.evaluation_errors == 1


def test_sqlite_table_lookup(tmp_path: Path) -> None:
    db = tmp_path / "meta.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE servers (host TEXT PRIMARY KEY, owner TEXT, tier INTEGER)")
        conn.executemany(
            "INSERT INTO servers VALUES (?, ?, ?)",
            [(h, v["owner"], v["tier"]) for h, v in SERVERS.items()],
        )
    conn.close()
    check_tier1(run([tier1_rule(f"sqlite:///{db}?table=servers&key=host")], EVENTS))


def test_sqlite_failure_is_reported_not_fatal(tmp_path: Path) -> None:
    rule = tier1_rule(f"sqlite:///{tmp_path}/absent.db?table=servers&key=host")
    runtime = RuleRuntime(rule)
    assert [f for e in EVENTS for f in runtime.process(e)] == []
    assert runtime.stats.enrichment_errors == 4
    assert "unable to open database file" in runtime.stats.error_samples[0]


def test_redis_hash_lookup(redis_client: Any) -> None:
    name = redis_client.prefix + "server-metadata"
    for host, info in SERVERS.items():
        redis_client.hset(name, host, json.dumps(info))
    redis_client.hset(name, "gt-03", "plain text")
    firings = run([tier1_rule(f"redis://{name}")], EVENTS, resources=Resources(redis=redis_client))
    check_tier1(firings)
    enricher = Enricher.build(
        [{"type": "lookup", "source": f"redis://{name}", "key": "host", "output_field": "info"}],
        Resources(redis=redis_client),
    )
    assert enricher.apply({"host": "gt-03"}, ts=0, group=())[0]["info"] == "plain text"


def test_redis_unreachable_or_absent_is_reported() -> None:
    import redis

    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    enricher = Enricher.build(
        [{"type": "lookup", "source": "redis://meta", "key": "host", "output_field": "info"}],
        Resources(redis=dead),
    )
    enriched, errors = enricher.apply({"host": "a"}, ts=0, group=())
    assert "info" not in enriched and "ConnectionError" in errors[0]
    no_client = Enricher.build(
        [{"type": "lookup", "source": "redis://meta", "key": "host", "output_field": "info"}]
    )
    assert "no Redis client" in no_client.apply({"host": "a"}, ts=0, group=())[1][0]


def test_failed_lookup_is_reported_in_the_firing() -> None:
    rule = {
        "rule_name": "errors",
        "trigger_type": "event",
        "trigger_spec": {"event_type": "error"},
        "enrichment": [{"type": "lookup", "source": "servers", "key": "host", "output_field": "s"}],
    }
    [firing] = run([rule], [{"event_type": "error"}], resources=Resources(tables={"servers": {}}))
    assert firing.notes == ["enrichment[0] lookup: key field 'host' is missing"]


def test_aggregate_of_the_last_hour_per_group() -> None:
    rule = {
        "rule_name": "above_usual",
        "trigger_type": "event",
        "trigger_spec": {},
        "group_by": ["host"],
        "enrichment": {
            "type": "aggregate",
            "field": "cpu",
            "aggregation": "avg",
            "window": "1h",
            "output_field": "cpu_1h_avg",
        },
        "composite_condition": {"conditions": [{"field": "cpu_1h_avg", "op": "<", "value": 50}]},
    }
    events = [
        {"timestamp": 0, "host": "a", "cpu": 40},
        {"timestamp": 1800, "host": "a", "cpu": 60},
        {"timestamp": 1900, "host": "b", "cpu": 10},  # b has no history yet: avg is None
        {"timestamp": 3000, "host": "a", "cpu": 95},  # avg(40, 60) = 50, not < 50
        {"timestamp": 3700, "host": "a", "cpu": 20},  # 40 left the hour: avg(60, 95)
        {"timestamp": 5500, "host": "a", "cpu": 30},  # avg(95, 20) = 57.5
        {"timestamp": 7000, "host": "a", "cpu": 30},  # avg(20, 30) = 25 -> fires
    ]
    runtime = RuleRuntime(rule)
    firings = [f for e in events for f in runtime.process(e)]
    assert [(f.payload["timestamp"], f.payload["cpu_1h_avg"]) for f in firings] == [
        (1800, 40.0),
        (7000, 25.0),
    ]
    # state survives a snapshot
    again = RuleRuntime.restore(rule, json.loads(json.dumps(runtime.snapshot())))
    [later] = again.process({"timestamp": 7100, "host": "a", "cpu": 1})
    assert later.payload is not None and later.payload["cpu_1h_avg"] == pytest.approx(80 / 3)


def test_ml_model_detector_and_user_callable() -> None:
    enricher = Enricher.build(
        [
            {"type": "ml_model", "model": "zscore", "input_field": "x", "output_field": "z"},
            {"type": "ml_model", "model": "double", "input_field": "x", "output_field": "x2"},
        ],
        Resources(models={"double": lambda v: v * 2}),
    )
    outputs = [enricher.apply({"x": float(i % 3)}, ts=i, group=())[0] for i in range(40)]
    assert outputs[0]["z"] is None  # baseline insufficient
    assert outputs[-1]["z"] is not None and outputs[-1]["x2"] == 2 * (39 % 3)
    failing = Enricher.build(
        [{"type": "ml_model", "model": "boom", "input_field": "x", "output_field": "y"}],
        Resources(models={"boom": lambda v: 1 / 0}),
    )
    assert "ZeroDivisionError" in failing.apply({"x": 1}, ts=0, group=())[1][0]


def test_unknown_sources_and_models_name_the_path() -> None:
    with pytest.raises(RuleValidationError) as info:
        RuleRuntime(tier1_rule("servers"))
    assert info.value.problems[0].path == "enrichment[0].source"
    assert "no lookup table named 'servers'" in info.value.problems[0].message
    with pytest.raises(RuleValidationError) as info:
        Enricher.build(
            [{"type": "ml_model", "model": "gpt", "input_field": "x", "output_field": "y"}]
        )
    assert "unknown model 'gpt'; expected one of: ema, iqr, mad, zscore" in str(info.value)
    with pytest.raises(RuleValidationError, match="unknown source scheme 'mongodb'"):
        Enricher.build(
            [{"type": "lookup", "source": "mongodb://x", "key": "k", "output_field": "y"}]
        )
