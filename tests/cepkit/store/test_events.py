"""EventStore, ExecutionLogStore and Journal over SQLite and PostgreSQL."""

from __future__ import annotations

import os
import random
import re
from datetime import timedelta

import pytest
import sqlalchemy

from cepkit.clock import FakeClock
from cepkit.errors import EventNotFound, StoreError
from cepkit.firing import Firing
from cepkit.store import EventStore, ExecutionLog, ExecutionLogStore, Journal, SqlRuleStore
from cepkit.store.events import EventFilter
from cepkit.store.logs import log_row, new_exec_id


def firing(t: float, host: str = "a", *, suppressed: bool = False, rule: str = "cpu") -> Firing:
    return Firing.build(
        rule_key=rule,
        rule_id=f"rule_{rule}",
        rule_name=rule,
        severity="high",
        event_time=t,
        group={"host": host},
        window_start=t - 60,
        window_end=t,
        values={"avg": t / 10},
        suppressed=suppressed,
    )


def test_events_are_stored_once_per_firing_id_in_chunks(
    store: SqlRuleStore, clock: FakeClock
) -> None:
    events = EventStore(store.engine, clock=clock)
    many = [firing(float(t)) for t in range(1, 1201)]
    assert len(events.add(many)) == 1200
    again = EventStore(store.engine, clock=clock)  # remembers nothing: looks up in chunks
    assert [e.event_id for e in again.add([*many[:700], firing(5000.0)])] == [
        firing(5000.0).firing_id
    ]
    assert events.list(limit=1).total == 1201
    assert events.add([firing(9000.0, suppressed=True)]) == []  # suppressed: not an event


def test_ack_dismiss_filters_counts_and_change_feed(store: SqlRuleStore, clock: FakeClock) -> None:
    events = EventStore(store.engine, clock=clock)
    a, b, c = (firing(t, host) for t, host in ((60, "a"), (120, "b"), (180, "a")))
    events.add([a, b], tenant="t1")
    clock.advance(timedelta(minutes=5))
    events.add([c], tenant="t2")
    counts = events.counts()
    assert counts["events"] == 3 and counts["unacked"] == 3
    assert counts["oldest_unacked"] == clock.now() - timedelta(minutes=5)
    events.ack(a.firing_id, by="kim", note="x")
    events.dismiss(b.firing_id, by="lee")
    events.ack(b.firing_id, by="again")  # already acked by the dismissal
    assert events.get(b.firing_id).acked_by == "lee"
    assert events.counts(tenant="t1")["unacked"] == 0
    assert events.list(EventFilter(tenant="t2")).total == 1
    assert events.list(EventFilter(dismissed=True)).events[0].event_id == b.firing_id
    feed = events.changes_since(0)
    assert [(ch.change, ch.event.event_id) for ch in feed] == [
        ("created", a.firing_id),
        ("created", b.firing_id),
        ("created", c.firing_id),
        ("acked", a.firing_id),
        ("dismissed", b.firing_id),
    ]
    assert events.changes_since(feed[2].seq, limit=1)[0].change == "acked"
    assert events.last_seq() == feed[-1].seq
    assert [x.event.event_id for x in events.changes_since(0, tenant="t2")] == [c.firing_id]
    labels = events.labels()
    assert [(row.label, row.by) for row in labels] == [("incident", "kim"), ("noise", "lee")]
    assert labels[0].start.timestamp() == 0.0 and labels[0].end.timestamp() == 60.0
    with pytest.raises(EventNotFound, match="nope"):
        events.ack("nope", by="x")
    with pytest.raises(EventNotFound):
        events.get(a.firing_id, tenant="t2")


def test_execution_logs_by_rule_and_event(store: SqlRuleStore, clock: FakeClock) -> None:
    logs = ExecutionLogStore(store.engine)
    for i, status in enumerate(("success", "failed", "partial")):
        logs.add(
            ExecutionLog.new(
                rule_id="rule_1",
                rule_name="cpu",
                event_id=f"ev{i % 2}",
                trigger="ingest",
                status=status,
                started_at=clock.now() + timedelta(seconds=i),
                duration_ms=float(i),
                actions=[{"type": "notify", "status": status, "attempts": [{"attempt": 1}]}],
            )
        )
    assert [e.status for e in logs.for_rule("rule_1")] == ["partial", "failed", "success"]
    assert [e.status for e in logs.for_event("ev0")] == ["success", "partial"]
    first = logs.for_event("ev1")[0]
    assert first.actions[0]["attempts"] == [{"attempt": 1}]
    logs.update(first.model_copy(update={"status": "success"}))
    assert logs.get(first.exec_id) is not None
    assert logs.get(first.exec_id).status == "success"  # type: ignore[union-attr]
    assert len(logs.since(clock.now() + timedelta(seconds=1))) == 2 and logs.count() == 3


def test_ready_rows_store_what_their_entries_would(store: SqlRuleStore, clock: FakeClock) -> None:
    """``add_rows`` (the group commit's insert) of ``log_row(entry)`` reads back as
    ``entry``; a clashing ``exec_id`` is refused and nothing of its transaction is kept."""
    logs = ExecutionLogStore(store.engine)
    entry = ExecutionLog.new(
        tenant="acme",
        rule_id=None,
        rule_name="cpu",
        trigger="ingest",
        status="partial",
        started_at=clock.now() + timedelta(microseconds=7),
        duration_ms=2.5,
        error_message="webhook: 503",
        actions=[{"type": "webhook", "status": "failed", "note": "café"}],
    )
    row = log_row(entry)
    assert row["actions"] == '[{"type": "webhook", "status": "failed", "note": "café"}]'
    logs.add_rows([row])
    assert logs.get(entry.exec_id) == entry
    other = log_row(ExecutionLog.new(**entry.model_dump(exclude={"exec_id"})))
    with pytest.raises(StoreError):
        logs.add_rows([other, row])
    assert logs.count() == 1


def test_exec_ids_keep_their_format_and_do_not_follow_the_random_module() -> None:
    """48 random bits as 12 hex digits; ``random.seed`` elsewhere (as Hypothesis does for
    each example) does not make them repeat; a forked child does not repeat its parent."""
    ids, state = [], random.getstate()
    for _ in range(2):
        random.seed(1)
        ids.append(new_exec_id())
    random.setstate(state)
    assert all(re.fullmatch(r"exec_[0-9a-f]{12}", x) for x in ids) and ids[0] != ids[1]
    assert len({new_exec_id() for _ in range(10_000)}) == 10_000
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, then gone
        os.write(write, new_exec_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        assert pipe.read() != new_exec_id()


def test_journal_keeps_what_no_checkpoint_covers(store: SqlRuleStore) -> None:
    journal = Journal(store.engine)
    first = journal.append_batch([{"x": 1}], received_at=1.0, tenant="t1")
    second = journal.append_tick(2.0)
    third = journal.append_batch([{"x": 2}, {"x": 3}], received_at=3.0)
    assert first < second < third
    journal.checkpoint(second, {"rules": {"r": 1}})
    recovery = journal.recover()
    assert recovery.seq == second and recovery.state == {"rules": {"r": 1}}
    assert [(e.seq, e.kind, list(e.events)) for e in recovery.entries] == [
        (third, "batch", [{"x": 2}, {"x": 3}])
    ]
    journal.checkpoint(third, {"rules": {}})
    assert journal.append_tick(4.0) > third  # seq never reused after trimming


def test_a_firing_stored_lately_is_not_looked_up_again(
    store: SqlRuleStore, clock: FakeClock
) -> None:
    events = EventStore(store.engine, clock=clock)
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    sqlalchemy.event.listen(store.engine, "before_cursor_execute", seen)
    try:
        [stored] = events.add([firing(60)])
        assert events.recently_stored(stored.event_id) and not events.recently_stored("x")
        statements.clear()
        assert events.add([firing(60)]) == [] and statements == []  # no round trip
        other = EventStore(store.engine, clock=clock)  # another process, say: it asks
        assert other.add([firing(60)]) == [] and any("INSERT" in s for s in statements)
    finally:
        sqlalchemy.event.remove(store.engine, "before_cursor_execute", seen)
