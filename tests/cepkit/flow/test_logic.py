"""The flow's router and engine step on their own (no Bytewax run, no Redis)."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from typing import Any

from bytewax.operators import StatefulBatchLogic

from cepkit.clock import FakeClock
from cepkit.engine import run
from cepkit.flow.logic import EngineLogic, Router, Work
from cepkit.flow.rules import FlowRule, RuleCatalog

WINDOW: dict[str, Any] = {
    "rule_name": "cpu_1m",
    "rule_id": "cpu_1m",
    "trigger_type": "event",
    "trigger_spec": {},
    "window_config": {"type": "tumbling", "size": "1m"},
    "aggregation": {"type": "avg", "field": "cpu", "group_by": ["host"]},
}
T0 = 1_770_000_000.0  # a multiple of 60


def _values(out: Any) -> list[dict[str, Any]]:
    return [json.loads(o[3])["values"] for o in out]


def test_router_splits_by_group_keeps_order_and_tenants() -> None:
    spans = {**WINDOW, "rule_name": "all", "rule_id": "all", "aggregation": {"type": "count"}}
    other = {**WINDOW, "rule_name": "theirs", "rule_id": "theirs"}
    spec = {"metric_name": "cpu", "operator": ">", "threshold": 1}
    per_event = {"rule_name": "hot", "trigger_type": "metric", "trigger_spec": spec}
    catalog = RuleCatalog(
        lambda: [
            FlowRule(key="hot", document={**per_event, "group_by": ["host"]}),
            FlowRule(key="cpu_1m", document=WINDOW),
            FlowRule(key="all", document=spans),
            FlowRule(key="theirs", tenant="acme", document=other),
        ]
    )
    events = [{"host": h, "cpu": i} for i, h in enumerate("abab")]
    routed = Router(catalog).route((5.0, "default", events))
    assert [(key, [e["cpu"] for e in work.events]) for key, work in routed] == [
        ('hot|["a"]', [0, 2]),  # a per-event rule: one runtime per group
        ('hot|["b"]', [1, 3]),
        ("cpu_1m", [0, 1, 2, 3]),  # windows: one watermark per rule, one runtime
        ("all", [0, 1, 2, 3]),  # no group-by: one runtime sees every event
    ]
    assert {work.at for _, work in routed} == {5.0}


def test_engine_step_survives_a_pickled_snapshot_mid_window() -> None:
    catalog = RuleCatalog.of_documents([WINDOW])
    events = [{"timestamp": T0 + s, "host": "a", "cpu": float(s)} for s in range(0, 180, 10)]
    expected = [f.values for f in run([WINDOW], events)]

    first = EngineLogic(catalog, None)
    out, keep = first.on_batch([Work("cpu_1m", 0.0, events[:8])])
    assert keep is StatefulBatchLogic.RETAIN
    state = pickle.loads(pickle.dumps(first.snapshot()))  # what Bytewax recovery keeps
    resumed = EngineLogic(catalog, state)
    more, _ = resumed.on_batch([Work("cpu_1m", 0.0, events[8:])])
    flushed, _ = resumed.on_eof()
    assert _values([*out, *more, *flushed]) == expected


def test_an_idle_window_rule_moves_on_with_the_wall_clock() -> None:
    clock = FakeClock(datetime.fromtimestamp(T0 + 1000, UTC))
    logic = EngineLogic(RuleCatalog.of_documents([WINDOW]), None, clock=clock, idle_seconds=5)
    assert logic.notify_at() is None  # nothing seen yet
    out, _ = logic.on_batch(
        [Work("cpu_1m", 0.0, [{"timestamp": T0 + 10, "host": "a", "cpu": 1.0}])]
    )
    assert list(out) == []
    due = logic.notify_at()
    assert due == datetime.fromtimestamp(T0 + 1005, UTC)
    clock.advance(30)  # 30 s without events: the event time runs on to T0 + 40
    early, _ = logic.on_notify()
    assert list(early) == []
    clock.advance(30)  # to T0 + 70: the window [T0, T0 + 60) closes
    closed, _ = logic.on_notify()
    assert _values(closed) == [{"avg_cpu": 1.0}]
    assert logic.notify_at() == datetime.fromtimestamp(T0 + 1065, UTC)


def test_an_edited_rule_starts_afresh_and_a_removed_one_is_discarded() -> None:
    rules = {"cpu_1m": FlowRule(key="cpu_1m", document=WINDOW)}
    ticks = iter(range(1000))
    catalog = RuleCatalog(
        lambda: list(rules.values()), refresh_seconds=1, monotonic=lambda: next(ticks)
    )
    logic = EngineLogic(catalog, None)
    logic.on_batch([Work("cpu_1m", 0.0, [{"timestamp": T0, "host": "a", "cpu": 50.0}])])
    rules["cpu_1m"] = FlowRule(key="cpu_1m", version=2, document=WINDOW)
    logic.on_batch([Work("cpu_1m", 0.0, [{"timestamp": T0 + 1, "host": "a", "cpu": 10.0}])])
    flushed, _ = logic.on_eof()
    assert _values(flushed) == [{"avg_cpu": 10.0}]  # version 1's event is gone
    rules.clear()
    out, keep = logic.on_batch([Work("cpu_1m", 0.0, [{"timestamp": T0 + 2, "host": "a"}])])
    assert (list(out), keep) == ([], StatefulBatchLogic.DISCARD)
