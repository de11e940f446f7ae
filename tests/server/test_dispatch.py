"""The action queue: workers run jobs while their logs wait for a commit; join and stop
wait for the logs. A real SQLite file, its write lock held by another connection."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from cepkit.clock import FakeClock
from cepkit.firing import Firing
from cepkit.rules import parse_rule
from cepkit.store import ExecutionLogStore, create_store
from server.dispatch import ActionQueue, ActionsOutcome, Job

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
