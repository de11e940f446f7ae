"""The suppressions the flow's firings open, shared in Redis as expiring keys."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from cepkit.clock import FakeClock
from cepkit.firing import digest
from cepkit.flow import FlowStreams, RuleCatalog, build_flow, read_firings, run_flow
from cepkit.flow.silences import SilenceRecord
from tests.cepkit.flow.conftest import load
from tests.server.conftest import wait_for


def _rule(interval: str) -> dict[str, Any]:
    return {
        "rule_name": "cpu_hot",
        "trigger_type": "metric",
        "group_by": ["host"],
        "trigger_spec": {"metric_name": "cpu", "operator": ">", "threshold": 90},
        "suppression": {"interval": interval, "key": ["host"]},
    }


def _events(t: float) -> list[dict[str, Any]]:
    return [
        {"timestamp": t - 30, "host": "h0", "cpu": 95},
        {"timestamp": t - 20, "host": "h0", "cpu": 96},  # suppressed by h0's first firing
        {"timestamp": t - 10, "host": "h1", "cpu": 97},
        {"timestamp": t - 5, "host": "h2", "cpu": 10},  # no firing
    ]


def _run(
    streams: FlowStreams,
    rule: dict[str, Any],
    events: list[dict[str, Any]],
    *,
    clock: FakeClock | None = None,
) -> None:
    load(streams, events, batch=2)
    run_flow(build_flow(streams, RuleCatalog.of_documents([rule]), clock=clock), workers=2)


def _silences(streams: FlowStreams) -> dict[str, Any]:
    client = streams.client()
    try:
        names = sorted(client.scan_iter(match=streams.silence_match("cpu_hot")))
        return {name.decode(): (client.get(name), client.pttl(name)) for name in names}
    finally:
        client.close()


def test_an_open_suppression_is_a_key_expiring_when_it_ends(streams: FlowStreams) -> None:
    now = time.time()
    _run(streams, _rule("10m"), _events(now))
    opened = {m.firing.group["host"]: m.firing for m in read_firings(streams) if m.firing.silence}
    assert sorted(opened) == ["h0", "h1"]
    found = _silences(streams)
    assert sorted(found) == sorted(
        streams.silence_key("cpu_hot", digest({"host": h})) for h in ("h0", "h1")
    )
    for host, firing in opened.items():
        raw, pttl = found[streams.silence_key("cpu_hot", digest({"host": host}))]
        record = SilenceRecord.model_validate_json(raw)
        assert (record.rule_id, record.tenant, record.key) == ("cpu_hot", "default", {"host": host})
        assert (record.firing_id, record.event_time) == (firing.firing_id, firing.event_time)
        assert firing.silence is not None and record.until == firing.silence.until
        left = (firing.silence.until.timestamp() - time.time()) * 1000
        assert left - 5_000 < pttl <= left + 50  # expires at until (PXAT)


def test_a_backfill_of_old_data_opens_no_live_suppression(streams: FlowStreams) -> None:
    _run(streams, _rule("10m"), _events(1_770_000_000.0))  # February 2026
    assert sum(1 for m in read_firings(streams) if m.firing.silence) == 2
    assert _silences(streams) == {}
    # what is past is the flow's clock's to say: a day ahead, today's silences are over
    ahead = FlowStreams(url=streams.url, prefix=f"{streams.prefix}ahead:")
    clock = FakeClock(datetime.now(UTC) + timedelta(days=1))
    _run(ahead, _rule("10m"), _events(time.time()), clock=clock)
    assert sum(1 for m in read_firings(ahead) if m.firing.silence) == 2
    assert _silences(ahead) == {}


def test_a_short_suppression_disappears_after_its_interval(streams: FlowStreams) -> None:
    now = time.time()
    _run(streams, _rule("2s"), [{"timestamp": now, "host": "h0", "cpu": 99}])
    [(raw, pttl)] = _silences(streams).values()
    assert SilenceRecord.model_validate_json(raw).key == {"host": "h0"} and 0 < pttl <= 2_000
    wait_for(lambda: _silences(streams) == {}, timeout=5)
