"""``EventConsoleState`` against a real server (no browser): filters, detail, ACK,
dismiss, backlog, and the live stream's thread."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cepkit.client import Client
from dashboards.state.events import GRID_COLUMNS, EventConsoleState
from tests.server.conftest import wait_for


def rule(name: str, severity: str, threshold: float) -> dict[str, Any]:
    return {
        "rule_name": name,
        "is_active": True,
        "severity": severity,
        "trigger_type": "metric",
        "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": threshold},
        "actions": [{"type": "store", "target": "events"}],
    }


@pytest.fixture
def state(state_api: Client) -> Iterator[EventConsoleState]:
    console = EventConsoleState(state_api)
    yield console
    console.stop_stream()


def test_filters_detail_ack_and_dismiss(state_api: Client, state: EventConsoleState) -> None:
    state_api.create_rule(rule("cpu_critical", "critical", 95))
    state_api.create_rule(rule("cpu_warning", "warning", 80))
    state_api.ingest([{"cpu_usage": 97, "host": "a"}, {"cpu_usage": 85, "host": "b"}])
    state.load()
    assert state.param.rule.objects == ["All", "cpu_critical", "cpu_warning"]
    assert state.ack_filter == "Unacked" and state.total == 3 and state.backlog == 3
    assert list(state.rows().columns) == list(GRID_COLUMNS)
    assert set(state.rows()["status"]) == {"unacked"}

    state.severity = "critical"
    state.refresh()
    assert [e.rule_name for e in state.events] == ["cpu_critical"]
    state.severity, state.rule = "All", "cpu_warning"
    state.refresh()
    assert {e.rule_name for e in state.events} == {"cpu_warning"} and state.total == 2
    state.since = datetime.now(UTC) + timedelta(hours=1)  # nothing after now
    state.refresh()
    assert state.total == 0
    state.since, state.until = None, datetime.now(UTC) + timedelta(hours=1)
    state.refresh()
    assert state.total == 2

    target = state.events[0]
    state.select(target.event_id)
    assert state.detail is not None and state.detail.payload is not None
    assert state.detail.condition_evaluated is not None
    state.operator, state.note = "kim", "checked the host"
    state.ack()
    assert state.message == f"Event {target.event_id} acknowledged by kim."
    assert state.backlog == 2 and state.detail.acked and state.detail.acked_by == "kim"
    assert target.event_id not in {e.event_id for e in state.events}  # Unacked filter
    assert state_api.event(target.event_id).ack_note == "checked the host"

    state.select(state.events[0].event_id)
    state.dismiss()
    assert state.backlog == 1 and state.detail is not None and state.detail.dismissed
    state.ack_filter = "Acked"
    state.rule = "All"
    state.refresh()
    assert sorted(state.rows()["status"]) == ["acked", "dismissed"]


def test_actions_without_selection_or_server_say_why(state_api: Client) -> None:
    state = EventConsoleState(state_api)
    state.ack()
    assert state.message == "Select an event first."
    state.select("nope")
    assert "HTTP 404" in state.message and "nope" in state.message
    offline = EventConsoleState(Client("http://127.0.0.1:9", timeout=1))
    offline.load()
    assert "no answer" in offline.message


def test_stream_thread_applies_changes_and_stops(
    state_api: Client, state: EventConsoleState
) -> None:
    state_api.create_rule(rule("cpu_critical", "critical", 95))
    state.load()
    state.start_stream(ping_seconds=0.1, retry_seconds=0.2, hold_seconds=0.3)
    wait_for(state.pending, timeout=10)  # the stream opened: a resync is queued
    state.apply_changes()
    assert state.live and state.total == 0
    event_id = state_api.ingest({"cpu_usage": 99}).event_ids[0]
    wait_for(state.pending, timeout=10)
    assert state.apply_changes() == 1
    assert [e.event_id for e in state.events] == [event_id] and state.backlog == 1
    time.sleep(1.0)  # three holds of 0.3 s: the thread reconnected, resuming after seq
    assert state._thread is not None and state._thread.is_alive()
    state_api.ack(event_id, by="lee")  # someone else, elsewhere
    wait_for(state.pending, timeout=10)
    state.apply_changes()
    assert state.events == [] and state.backlog == 0 and state.changes_seen == 2
    thread = state._thread
    state.stop_stream()
    assert thread is not None and not thread.is_alive() and not state.live
