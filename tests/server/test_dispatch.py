"""The action queue: workers run jobs while their logs wait for a commit; join and stop
wait for the logs. A real SQLite file, its write lock held by another connection; the
suppressed firings' rows over SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from cepkit.clock import FakeClock
from cepkit.firing import Firing
from cepkit.rules import parse_rule
from cepkit.store import ExecutionLogStore, SqlRuleStore, create_store
from cepkit.store.logs import logs_table
from server.dispatch import ActionQueue, ActionsOutcome, Job, _entry

RULE = parse_rule(
    {
        "rule_id": "r1",
        "rule_name": "cpu_high",
        "trigger_type": "metric",
        "trigger_spec": {"metric_name": "cpu", "operator": ">", "threshold": 90},
        "actions": [{"type": "webhook", "endpoint": "https://hooks.example/x"}],
    }
)


def _job(i: int) -> Job:
    firing = Firing.build(rule_key="r1", rule_name="cpu_high", severity="high", event_time=i)
    return Job(RULE, firing, f"evt-{i}")


def test_workers_take_the_next_job_while_their_logs_wait_for_the_database(
    tmp_path: Path,
) -> None:
    path = tmp_path / "logs.db"
    store = create_store(f"sqlite:///{path}", clock=FakeClock())
    logs = ExecutionLogStore(store.engine)
    ran: list[float] = []

    async def executor(job: Job) -> ActionsOutcome:
        ran.append(time.monotonic())
        return ActionsOutcome(status="success")

    async def main() -> tuple[int, float]:
        queue = ActionQueue(executor, logs, clock=FakeClock(), workers=2)
        await queue.start()
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the write lock: every log write waits
        locked_at = time.monotonic()
        for i in range(20):
            queue.submit(_job(i))
        while len(ran) < 20 and time.monotonic() - locked_at < 3:
            await asyncio.sleep(0.01)
        ran_while_locked = len(ran)
        blocker.execute("COMMIT")
        blocker.close()
        await queue.join()  # returns once every log is written
        written = len(logs.for_rule("r1", limit=100))
        await queue.stop()
        return ran_while_locked, written

    ran_while_locked, written = asyncio.run(main())
    store.close()
    assert ran_while_locked == 20  # two workers held by their logs would have run two
    assert written == 20


def test_stop_writes_the_logs_still_waiting(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    store = create_store(f"sqlite:///{path}", clock=FakeClock())
    logs = ExecutionLogStore(store.engine)

    async def executor(job: Job) -> ActionsOutcome:
        return ActionsOutcome(status="success")

    async def main() -> None:
        queue = ActionQueue(executor, logs, clock=FakeClock(), workers=1)
        await queue.start()
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        for i in range(5):
            queue.submit(_job(i))
        await asyncio.sleep(0.3)  # run, their logs waiting for the lock
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, lambda: (blocker.execute("COMMIT"), blocker.close()))
        await queue.stop()

    asyncio.run(main())
    assert sorted(e.event_id or "" for e in logs.for_rule("r1")) == [f"evt-{i}" for i in range(5)]
    store.close()


def test_suppressed_firings_are_logged_as_their_jobs_were(store: SqlRuleStore) -> None:
    """``log_suppressed`` writes plain rows, no job or model per firing: read back (and as
    stored), each equals the entry a suppressed job's ``_entry`` gave, written by ``add``."""
    when = datetime(2026, 2, 8, 11, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    clock = FakeClock(when)
    logs = ExecutionLogStore(store.engine)
    unnamed = RULE.model_copy(update={"rule_id": None, "rule_name": "unsaved"})
    items = [
        (_job(i).firing.model_copy(update={"suppressed": True}), rule, tenant)
        for i, (rule, tenant) in enumerate([(RULE, "default"), (RULE, "acme"), (unnamed, "t")])
    ]
    heard: list[None] = []

    async def executor(job: Job) -> ActionsOutcome:
        raise AssertionError("a suppressed firing runs nothing")

    async def main() -> None:
        queue = ActionQueue(
            executor, logs, clock=clock, workers=1, on_logged=lambda: heard.append(None)
        )
        await queue.start()
        queue.log_suppressed(items)
        await asyncio.sleep(0)  # handed over from "another thread"
        await queue.join()  # waits for the rows
        assert heard  # listeners hear that logs were written
        await queue.stop()

    asyncio.run(main())
    new = logs.since()
    assert len(new) == 3 and len({e.exec_id for e in new}) == 3
    suppressed = ActionsOutcome(status="suppressed")
    for entry, (firing, rule, tenant) in zip(new, items, strict=True):
        assert re.fullmatch(r"exec_[0-9a-f]{12}", entry.exec_id)
        old = _entry(Job(rule, firing, None, "ingest", tenant=tenant), suppressed, when, 0.0)
        logs.add(old.model_copy(update={"exec_id": "old_" + entry.exec_id}))
        old_back = logs.get("old_" + entry.exec_id)
        assert old_back is not None
        assert entry.model_dump() == {**old_back.model_dump(), "exec_id": entry.exec_id}
        assert entry.started_at == when and entry.actions == [] and entry.rule_id == rule.rule_id
    with store.engine.connect() as conn:  # the columns as stored, seq and exec_id aside
        rows = conn.execute(select(logs_table).order_by(logs_table.c.seq)).mappings().all()
    stored = [{k: v for k, v in row.items() if k not in ("seq", "exec_id")} for row in rows]
    assert stored[3:] == [stored[0], stored[1], stored[2]]
