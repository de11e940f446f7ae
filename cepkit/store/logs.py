"""Execution logs: one row per rule execution that got as far as its actions.

``status`` is ``success`` (every action delivered), ``failed`` (none), ``partial``,
``dry_run`` (actions planned, not run) or ``suppressed`` (the firing was suppressed, so
nothing ran). ``actions`` holds one result per action with its attempts, as the
dispatcher reported it.

>>> from datetime import datetime, timezone
>>> from cepkit.clock import FakeClock
>>> from cepkit.store import create_store
>>> rules = create_store("sqlite:///:memory:", clock=FakeClock())
>>> logs = ExecutionLogStore(rules.engine)
>>> when = datetime(2026, 2, 8, 9, 0, tzinfo=timezone.utc)
>>> entry = logs.add(ExecutionLog.new(rule_id="rule_1", rule_name="cpu", trigger="manual",
...                                   status="dry_run", started_at=when, duration_ms=1.5))
>>> [(e.status, e.duration_ms, e.error_message) for e in logs.for_rule("rule_1")]
[('dry_run', 1.5, None)]
>>> rules.close()
"""

from __future__ import annotations

import builtins
import json
import os
import random
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Column, Engine, Float, Index, Integer, Row, String, Table, Text, func, select

from cepkit.store.sql import UtcDateTime, mapped, metadata

__all__ = ["ExecStatus", "ExecutionLog", "ExecutionLogStore", "LogRow", "log_row", "new_exec_id"]

ExecStatus = Literal["success", "failed", "partial", "dry_run", "suppressed"]
ExecTrigger = Literal["ingest", "manual", "schedule", "poll", "chain", "retry"]

logs_table = Table(
    "exec_logs",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("exec_id", String(64), nullable=False, unique=True),
    Column("tenant", String(64), nullable=False, default="default"),
    Column("rule_id", String(64), nullable=True),
    Column("rule_name", String, nullable=False),
    Column("event_id", String(64), nullable=True),
    Column("trigger", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("error_message", Text, nullable=True),
    Column("actions", Text, nullable=False),
    Index("ix_exec_logs_rule", "rule_id", "started_at"),
    Index("ix_exec_logs_event", "event_id"),
)

_ids = random.Random()  # seeded from os.urandom; reseeded below in every forked child
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ids.seed)


def new_exec_id() -> str:
    """A fresh execution id: ``exec_`` and 12 lowercase hex digits, 48 random bits.

    The same 48 bits as ``"exec_" + uuid.uuid4().hex[:12]`` gave (a version-4 UUID's first
    12 hex digits are all random), so the same odds of two ids colliding (about one in
    ten thousand after 240,000 ids of one table; the unique ``exec_id`` column refuses
    a clash, as it always did), without uuid4's ``getrandom`` syscall and UUID object per
    id. The generator is this module's own, seeded from ``os.urandom`` at import and
    reseeded in every forked child, so replicas and workers do not repeat each other's
    ids, and a ``random.seed(n)`` elsewhere (Hypothesis seeds the ``random`` module for
    each example) cannot make ids repeat. Ids name executions; they are not secrets.

    >>> first, second = new_exec_id(), new_exec_id()
    >>> len(first), first[:5], int(first[5:], 16) < 2**48, first != second
    (17, 'exec_', True, True)
    """
    return f"exec_{_ids.getrandbits(48):012x}"


class LogRow(TypedDict):
    """One ``exec_logs`` row as inserted: every column but ``seq``, ``actions`` as JSON
    text. Built straight from its parts where a model per row would cost too much (the
    runner's suppressed firings, a few dozen per batch), else by :func:`log_row`."""

    exec_id: str
    tenant: str
    rule_id: str | None
    rule_name: str
    event_id: str | None
    trigger: ExecTrigger
    status: ExecStatus
    started_at: datetime
    duration_ms: float
    error_message: str | None
    actions: str


class ExecutionLog(BaseModel):
    """One execution of one rule."""

    model_config = ConfigDict(frozen=True)

    exec_id: str
    tenant: str = "default"
    rule_id: str | None
    rule_name: str
    event_id: str | None = None
    trigger: ExecTrigger
    status: ExecStatus
    started_at: datetime
    duration_ms: float
    error_message: str | None = None
    actions: list[dict[str, Any]] = Field(default_factory=list)

    @classmethod
    def new(cls, *, exec_id: str | None = None, **fields: Any) -> ExecutionLog:
        """A log entry with ``exec_id``, or a fresh one (``exec_<12 hex>``)."""
        return cls(exec_id=exec_id or new_exec_id(), **fields)


def log_row(entry: ExecutionLog) -> LogRow:
    """The row that stores ``entry`` (its actions as JSON text, never copied first)."""
    return LogRow(
        exec_id=entry.exec_id,
        tenant=entry.tenant,
        rule_id=entry.rule_id,
        rule_name=entry.rule_name,
        event_id=entry.event_id,
        trigger=entry.trigger,
        status=entry.status,
        started_at=entry.started_at,
        duration_ms=entry.duration_ms,
        error_message=entry.error_message,
        actions=json.dumps(entry.actions, ensure_ascii=False, default=str),
    )


def _log(row: Row[Any]) -> ExecutionLog:
    return ExecutionLog(
        exec_id=row.exec_id,
        tenant=row.tenant,
        rule_id=row.rule_id,
        rule_name=row.rule_name,
        event_id=row.event_id,
        trigger=row.trigger,
        status=row.status,
        started_at=row.started_at,
        duration_ms=row.duration_ms,
        error_message=row.error_message,
        actions=json.loads(row.actions),
    )


class ExecutionLogStore:
    """Execution logs on the rule store's SQL engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, entry: ExecutionLog) -> ExecutionLog:
        """Append one entry."""
        self.add_many([entry])
        return entry

    def add_many(self, entries: Sequence[ExecutionLog]) -> None:
        """Append entries in one transaction."""
        self.add_rows([log_row(entry) for entry in entries])

    def add_rows(self, rows: Sequence[LogRow]) -> None:
        """Append ready rows in one transaction (the action queue's group commit), through
        the table's insert, so ``started_at`` is stored as on every backend."""
        if rows:
            with mapped("write the execution log"), self._engine.begin() as conn:
                conn.execute(logs_table.insert(), rows)

    def update(self, entry: ExecutionLog) -> ExecutionLog:
        """Replace the entry with the same ``exec_id`` (a retried delivery's new outcome)."""
        row = log_row(entry)
        with mapped("update the execution log"), self._engine.begin() as conn:
            conn.execute(
                logs_table.update().where(logs_table.c.exec_id == entry.exec_id).values(**row)
            )
        return entry

    def for_rule(
        self, rule_id: str, *, limit: int = 50, tenant: str | None = None
    ) -> builtins.list[ExecutionLog]:
        """The rule's newest entries first."""
        t = logs_table.c
        query = select(logs_table).where(t.rule_id == rule_id)
        if tenant is not None:
            query = query.where(t.tenant == tenant)
        with mapped("read the execution logs"), self._engine.connect() as conn:
            rows = conn.execute(query.order_by(t.seq.desc()).limit(limit)).all()
        return [_log(r) for r in rows]

    def for_event(self, event_id: str) -> builtins.list[ExecutionLog]:
        """The executions an event caused (its deliveries), oldest first."""
        t = logs_table.c
        with mapped("read the execution logs"), self._engine.connect() as conn:
            rows = conn.execute(
                select(logs_table).where(t.event_id == event_id).order_by(t.seq)
            ).all()
        return [_log(r) for r in rows]

    def get(self, exec_id: str) -> ExecutionLog | None:
        """One entry, or None."""
        with mapped("read the execution log"), self._engine.connect() as conn:
            row = conn.execute(select(logs_table).where(logs_table.c.exec_id == exec_id)).first()
        return _log(row) if row is not None else None

    def since(
        self, when: datetime | None = None, *, tenant: str | None = None
    ) -> builtins.list[ExecutionLog]:
        """Every entry started at or after ``when`` (all when None), oldest first."""
        t = logs_table.c
        query = select(logs_table).order_by(t.seq)
        if when is not None:
            query = query.where(t.started_at >= when)
        if tenant is not None:
            query = query.where(t.tenant == tenant)
        with mapped("read the execution logs"), self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_log(r) for r in rows]

    def count(self) -> int:
        """How many entries are stored."""
        with mapped("count the execution logs"), self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(logs_table)).scalar_one())
