"""Actions off the ingest path: a queue, a few workers, one execution log per job.

The runner hands every new event to :meth:`ActionQueue.submit` from whatever thread it
runs on and returns at once; workers on the event loop run the rule's actions through the
:data:`Executor` and hand the log entry to a group commit, taking their next job without
waiting for it (``join`` and ``stop`` wait for the logs). Suppressed firings go to
:meth:`ActionQueue.log_suppressed`: nothing runs, their ``suppressed`` log rows join the
same group commit; ``dry_run`` jobs list the actions they would run (status ``dry_run``).

Two time limits (DESIGN: "rule execution 5 s, HTTP webhook 10 s"; the retry schedule of
5 tries with 1/2/4/8 s between them outlasts the first):

- ``timeout``, the rule execution limit (5 s by default): when an execution has not
  finished by then, it is logged as ``failed`` with a note, and its worker is free for
  the next job. The deliveries go on in the background with their retries; when they
  end, the same log entry (same ``exec_id``) is updated with their outcome.
- ``hard_timeout``, the delivery limit (120 s by default): deliveries still running
  then are cut off, the log says so, and ``on_timeout`` may keep what was abandoned
  (the server turns every undelivered action into a dead letter, to be retried).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cepkit.clock import Clock
from cepkit.errors import StoreError
from cepkit.firing import Firing
from cepkit.rules import Rule
from cepkit.store import ExecutionLog, ExecutionLogStore
from cepkit.store.logs import ExecStatus, ExecTrigger, LogRow, log_row, new_exec_id

__all__ = ["ActionQueue", "ActionsOutcome", "Executor", "Job", "plan_actions"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One rule execution to run: the rule, its firing, and the event it created."""

    rule: Rule
    firing: Firing
    event_id: str | None
    trigger: ExecTrigger = "ingest"
    dry_run: bool = False
    tenant: str = "default"
    exec_id: str = field(default_factory=new_exec_id)


class ActionsOutcome(BaseModel):
    """What running a job's actions gave: status, first error, one result per action."""

    model_config = ConfigDict(frozen=True)

    status: ExecStatus
    error_message: str | None = None
    actions: list[dict[str, Any]] = Field(default_factory=list)
    exec_id: str | None = None  # the executor's id for this execution, kept by the log


Executor = Callable[[Job], Awaitable[ActionsOutcome]]


def _describe(action: Any) -> dict[str, Any]:
    data: Mapping[str, Any] = action.model_dump(mode="json", exclude_none=True)
    keep = ("type", "endpoint", "method", "channels", "fallback_channel", "rule_id", "store")
    return {key: data[key] for key in keep if key in data}


async def plan_actions(job: Job) -> ActionsOutcome:
    """The dry-run executor: what would run, nothing sent."""
    planned = [{**_describe(a), "status": "planned", "attempts": []} for a in job.rule.actions]
    return ActionsOutcome(status="dry_run", actions=planned)


class ActionQueue:
    """Workers that run jobs through an executor and log each one."""

    def __init__(
        self,
        executor: Executor,
        logs: ExecutionLogStore,
        *,
        clock: Clock,
        workers: int = 4,
        timeout: float = 5.0,
        hard_timeout: float = 120.0,
        on_logged: Callable[[], None] | None = None,
        on_timeout: Callable[[Job, str], Awaitable[list[dict[str, Any]]]] | None = None,
    ) -> None:
        self._executor = executor
        self._logs = logs
        self._clock = clock
        self._workers = workers
        self._timeout = timeout
        self._hard_timeout = max(timeout, hard_timeout)
        self._late: dict[asyncio.Task[None], Job] = {}
        self._current: dict[asyncio.Task[None], Job] = {}  # the job each worker runs
        self._writes: set[asyncio.Future[None]] = set()  # logs handed over, not yet written
        self._on_logged = on_logged
        self._on_timeout = on_timeout
        self._queue: asyncio.Queue[Job] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._unwritten: list[tuple[list[LogRow], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the workers on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]

    async def stop(self, *, drain_seconds: float = 5.0) -> None:
        """Let queued jobs finish (up to ``drain_seconds``), then stop the workers.

        Nothing is dropped: a job still queued, or cut off in a worker, is logged as failed
        and ``on_timeout`` keeps its deliveries (the server's dead letters, to retry)."""
        left: list[Job] = []
        if self._queue is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain_seconds):
                    await self._queue.join()
            while not self._queue.empty():
                left.append(self._queue.get_nowait())
                self._queue.task_done()
        if self._late:  # deliveries past the execution limit: a last chance, then cut off
            _done, still = await asyncio.wait(list(self._late), timeout=drain_seconds)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=drain_seconds)
        left.extend(self._current.values())  # in a worker: cut off below
        for task in self._tasks:
            task.cancel()
        if self._tasks:  # never hang the shutdown on a worker that swallowed its cancel
            _done, stuck = await asyncio.wait(self._tasks, timeout=drain_seconds)
            if stuck:
                log.error("%d action workers did not stop", len(stuck))
        self._tasks = []
        if self._writes:  # logs of finished jobs still waiting for a commit
            await asyncio.wait(self._writes, timeout=drain_seconds)
        for job in left:
            await self._not_run(job)
        if left:
            log.warning("action queue stopped: %d executions kept for a retry", len(left))

    async def _not_run(self, job: Job) -> None:
        """A job the stopping server could not run (or finish): a failed log entry, its
        deliveries kept by ``on_timeout``."""
        outcome = await self._cut_off(job, "not run: the server stopped")
        entry = _entry(job, outcome, self._clock.now(), 0.0)
        try:
            await asyncio.to_thread(self._logs.add, entry)
        except StoreError:  # it was cut off after its own log was written: that one stands
            log.info("execution %s was logged before the stop", job.exec_id)

    def submit(self, job: Job) -> None:
        """Queue a job from any thread (dropped with an error log before ``start``)."""
        loop, queue = self._loop, self._queue
        if loop is None or queue is None or loop.is_closed():
            log.error("action queue not running; job for %s dropped", job.rule.rule_name)
            return
        loop.call_soon_threadsafe(queue.put_nowait, job)

    def log_suppressed(self, suppressed: Sequence[tuple[Firing, Rule, str]]) -> None:
        """Log suppressed firings, ``(firing, rule, tenant)`` as the runner gives them (from
        any thread): nothing runs, so no worker and no job is needed; each is one row, as
        :func:`_entry` would log it, written with the next group commit."""
        loop = self._loop
        if loop is None or loop.is_closed():
            log.error("action queue not running; %d suppressed logs dropped", len(suppressed))
            return
        loop.call_soon_threadsafe(self._log_suppressed, list(suppressed))

    def _log_suppressed(self, suppressed: list[tuple[Firing, Rule, str]]) -> None:
        self._logged_later(_suppressed_rows(suppressed, self._clock.now()))

    def pending(self) -> int:
        """Jobs waiting for a worker."""
        return self._queue.qsize() if self._queue is not None else 0

    async def join(self) -> None:
        """Wait until every queued job has been logged (late deliveries included)."""
        if self._queue is not None:
            await self._queue.join()
        while self._late or self._writes:
            await asyncio.wait([*self._late, *self._writes])

    async def run_now(self, job: Job) -> ExecutionLog:
        """Run one job here and now (manual trigger) and return its log."""
        return await self._execute(job)

    def _write_soon(self, rows: list[LogRow]) -> asyncio.Future[None]:
        """Queue ``rows`` for the log; the future is done once they are written.
        Rows that arrive while a write is in flight are written together by the next
        one (group commit: one transaction, one thread hop, and never two writers racing
        for the database)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._unwritten.append((rows, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
        return future

    def _logged_later(self, rows: list[LogRow]) -> None:
        """Hand ``rows`` to the next group commit without waiting for it (a worker takes
        its next job meanwhile; ``join`` and ``stop`` wait for them; ``on_logged`` hears
        once they are written)."""
        if not rows:
            return
        future = self._write_soon(rows)
        self._writes.add(future)

        def written(done: asyncio.Future[None]) -> None:
            self._writes.discard(done)
            if done.cancelled() or done.exception() is not None:
                why = "cancelled" if done.cancelled() else done.exception()
                ids = ", ".join(row["exec_id"] for row in rows)
                log.error("execution logs not written (%s): %s", why, ids)
            elif self._on_logged is not None:
                self._on_logged()

        future.add_done_callback(written)

    async def _write_pending(self) -> None:
        while self._unwritten:
            batch, self._unwritten = self._unwritten, []
            try:
                rows = [row for pending, _ in batch for row in pending]
                await asyncio.to_thread(self._logs.add_rows, rows)
            except Exception as exc:  # each waiting execution sees the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            job = await self._queue.get()
            me = asyncio.current_task()
            assert me is not None
            self._current[me] = job
            try:
                await self._execute(job, wait_for_log=False)
            except Exception:  # a worker must survive anything
                log.exception("action worker: job for %s failed", job.rule.rule_name)
            finally:
                self._current.pop(me, None)
                self._queue.task_done()

    async def _execute(self, job: Job, *, wait_for_log: bool = True) -> ExecutionLog:
        """Run ``job`` and log it; ``wait_for_log=False`` (the workers) returns before the
        log is written, unless the deliveries outlive the execution limit (their later
        update must find the entry written)."""
        started = self._clock.now()
        t0 = time.perf_counter()
        running: asyncio.Future[ActionsOutcome] | None = None
        if job.firing.suppressed:
            outcome = ActionsOutcome(status="suppressed")
        else:
            running = asyncio.ensure_future(self._deliver(job))
            try:
                outcome = await asyncio.wait_for(asyncio.shield(running), self._timeout)
                running = None
            except TimeoutError:  # over the rule execution limit: logged now, goes on
                outcome = ActionsOutcome(status="failed", error_message=self._late_note())
        entry = _entry(job, outcome, started, round((time.perf_counter() - t0) * 1000.0, 3))
        if not wait_for_log and running is None:
            self._logged_later([log_row(entry)])
            return entry
        await self._write_soon([log_row(entry)])
        if self._on_logged is not None:
            self._on_logged()
        if running is not None:
            task = asyncio.create_task(self._finish_late(running, job, entry, t0))
            self._late[task] = job
            task.add_done_callback(lambda done: self._late.pop(done, None))
        return entry

    def _late_note(self) -> str:
        return (
            f"the rule execution took longer than {self._timeout:g} s; its deliveries go on "
            "in the background and this log is updated when they end"
        )

    async def _deliver(self, job: Job) -> ActionsOutcome:
        """The job's actions within the delivery limit (``hard_timeout``)."""
        executor = plan_actions if job.dry_run else self._executor
        try:
            async with asyncio.timeout(self._hard_timeout):
                return await executor(job)
        except TimeoutError:
            return await self._cut_off(job, f"deliveries cut off after {self._hard_timeout:g} s")

    async def _cut_off(self, job: Job, message: str) -> ActionsOutcome:
        kept = await self._on_timeout(job, message) if self._on_timeout else []
        return ActionsOutcome(status="failed", error_message=message, actions=kept)

    async def _finish_late(
        self, running: asyncio.Future[ActionsOutcome], job: Job, entry: ExecutionLog, t0: float
    ) -> None:
        """The outcome of an execution that outlived the rule execution limit, into its log."""
        try:
            outcome = await running
        except asyncio.CancelledError:  # the server stops: keep what was not delivered
            running.cancel()
            outcome = await self._cut_off(job, "cut off by the server stopping")
        except Exception as exc:  # an executor that raised: logged, never lost silently
            log.exception("late delivery of %s failed", entry.exec_id)
            outcome = ActionsOutcome(status="failed", error_message=str(exc))
        note = self._late_note().split(";")[0]
        updated = entry.model_copy(
            update={
                "status": outcome.status,
                "error_message": f"{note}; {outcome.error_message or 'then it finished'}",
                "actions": outcome.actions,
                "duration_ms": round((time.perf_counter() - t0) * 1000.0, 3),
            }
        )
        await asyncio.to_thread(self._logs.update, updated)
        if self._on_logged is not None:
            self._on_logged()


def _entry(
    job: Job, outcome: ActionsOutcome, started: datetime, duration_ms: float
) -> ExecutionLog:
    """The execution log entry of ``job`` with ``outcome``."""
    return ExecutionLog.new(
        exec_id=outcome.exec_id or job.exec_id,
        tenant=job.tenant,
        rule_id=job.rule.rule_id,
        rule_name=job.rule.rule_name,
        event_id=job.event_id,
        trigger=job.trigger,
        status=outcome.status,
        started_at=started,
        duration_ms=duration_ms,
        error_message=outcome.error_message,
        actions=outcome.actions,
    )


def _suppressed_rows(suppressed: list[tuple[Firing, Rule, str]], now: datetime) -> list[LogRow]:
    """The log rows of suppressed firings, equal to what :func:`_entry` would log for
    each one's job with a ``suppressed`` outcome (see the store's ``log_row``), built
    without a job and a model per firing: a batch may hold dozens of them."""
    return [
        {
            "exec_id": new_exec_id(),
            "tenant": tenant,
            "rule_id": rule.rule_id,
            "rule_name": rule.rule_name,
            "event_id": None,
            "trigger": "ingest",
            "status": "suppressed",
            "started_at": now,
            "duration_ms": 0.0,
            "error_message": None,
            "actions": "[]",
        }
        for _firing, rule, tenant in suppressed
    ]
