"""Metric-polling snapshots: one row per poll of a metric rule's ``endpoint``.

A snapshot records when the endpoint was polled, whether it worked (``ok``: an answer
with a value at ``value_path``; ``error``: anything else, with the reason), the value,
the HTTP status, the latency, the start of the raw answer and the events the polled
value produced. :meth:`PollStore.latest` gives the newest snapshot per rule,
:meth:`PollStore.history` one rule's snapshots newest first, and :meth:`PollStore.prune`
keeps a bounded history per rule.

>>> from datetime import datetime, timezone
>>> from cepkit.clock import FakeClock
>>> from cepkit.store import create_store
>>> rules = create_store("sqlite:///:memory:", clock=FakeClock())
>>> polls = PollStore(rules.engine)
>>> when = datetime(2026, 2, 8, 10, 30, tzinfo=timezone.utc)
>>> first = polls.add(PollSnapshot(rule_id="rule_1", rule_name="cpu", endpoint="http://m/x",
...                                polled_at=when, status="ok", value=93, http_status=200))
>>> later = polls.add(PollSnapshot(rule_id="rule_1", rule_name="cpu", endpoint="http://m/x",
...                                polled_at=when, status="error", error="HTTP 500"))
>>> [(s.status, s.value, s.error) for s in polls.latest()]
[('error', None, 'HTTP 500')]
>>> [s.seq for s in polls.history("rule_1")] == [later.seq, first.seq]
True
>>> rules.close()
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    Column,
    Engine,
    Float,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    delete,
    func,
    select,
)

from cepkit.store.sql import UtcDateTime, mapped, metadata

__all__ = ["PollSnapshot", "PollStatus", "PollStore"]

PollStatus = Literal["ok", "error"]

snapshots_table = Table(
    "poll_snapshots",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", String(64), nullable=False),
    Column("rule_name", String, nullable=False),
    Column("endpoint", Text, nullable=False),
    Column("polled_at", UtcDateTime, nullable=False),
    Column("status", String(8), nullable=False),
    Column("value", Text, nullable=True),  # JSON
    Column("http_status", Integer, nullable=True),
    Column("latency_ms", Float, nullable=True),
    Column("error", Text, nullable=True),
    Column("raw", Text, nullable=True),
    Column("event_ids", Text, nullable=False),  # JSON list
    Index("ix_poll_snapshots_rule", "rule_id", "seq"),
)


class PollSnapshot(BaseModel):
    """One poll of one metric rule's endpoint (``seq`` is set when stored)."""

    model_config = ConfigDict(frozen=True)

    seq: int | None = None
    rule_id: str
    rule_name: str
    endpoint: str
    polled_at: datetime
    status: PollStatus
    value: Any = None
    http_status: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    raw: str | None = Field(default=None, description="The start of the answer's body.")
    event_ids: list[str] = Field(default_factory=list)


def _snapshot(row: Row[Any]) -> PollSnapshot:
    return PollSnapshot(
        seq=row.seq,
        rule_id=row.rule_id,
        rule_name=row.rule_name,
        endpoint=row.endpoint,
        polled_at=row.polled_at,
        status=row.status,
        value=json.loads(row.value) if row.value is not None else None,
        http_status=row.http_status,
        latency_ms=row.latency_ms,
        error=row.error,
        raw=row.raw,
        event_ids=json.loads(row.event_ids),
    )


class PollStore:
    """Poll snapshots on the rule store's SQL engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_table(self) -> None:
        """Create the snapshot table if it is missing (``create_store`` does it as well)."""
        with mapped("create the poll snapshot table"), self._engine.begin() as conn:
            snapshots_table.create(conn, checkfirst=True)

    def add(self, snapshot: PollSnapshot) -> PollSnapshot:
        """Append one snapshot; returns it with its ``seq``."""
        row = snapshot.model_dump(mode="python", exclude={"seq"})
        row["value"] = (
            json.dumps(snapshot.value, ensure_ascii=False, allow_nan=False, default=str)
            if snapshot.value is not None
            else None
        )
        row["event_ids"] = json.dumps(snapshot.event_ids)
        with mapped("store a poll snapshot"), self._engine.begin() as conn:
            key = conn.execute(snapshots_table.insert().values(**row)).inserted_primary_key
        assert key is not None
        return snapshot.model_copy(update={"seq": int(key[0])})

    def latest(self, rule_ids: Iterable[str] | None = None) -> builtins.list[PollSnapshot]:
        """The newest snapshot of each rule (of ``rule_ids`` when given), by rule id."""
        t = snapshots_table.c
        newest = select(func.max(t.seq).label("seq")).group_by(t.rule_id)
        if rule_ids is not None:
            newest = newest.where(t.rule_id.in_(list(rule_ids)))
        query = select(snapshots_table).where(t.seq.in_(newest.scalar_subquery()))
        with mapped("read the poll snapshots"), self._engine.connect() as conn:
            rows = conn.execute(query.order_by(t.rule_id)).all()
        return [_snapshot(r) for r in rows]

    def latest_for(self, rule_id: str) -> PollSnapshot | None:
        """The newest snapshot of one rule, or None."""
        found = self.history(rule_id, limit=1)
        return found[0] if found else None

    def history(self, rule_id: str, *, limit: int = 50) -> builtins.list[PollSnapshot]:
        """One rule's snapshots, newest first."""
        t = snapshots_table.c
        query = select(snapshots_table).where(t.rule_id == rule_id).order_by(t.seq.desc())
        with mapped("read the poll snapshots"), self._engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [_snapshot(r) for r in rows]

    def prune(self, rule_id: str, *, keep: int) -> int:
        """Delete all but the newest ``keep`` snapshots of a rule; returns how many went."""
        t = snapshots_table.c
        with mapped("prune the poll snapshots"), self._engine.begin() as conn:
            cut = conn.execute(
                select(t.seq)
                .where(t.rule_id == rule_id)
                .order_by(t.seq.desc())
                .offset(keep)
                .limit(1)
            ).scalar()
            if cut is None:
                return 0
            done = conn.execute(delete(snapshots_table).where(t.rule_id == rule_id, t.seq <= cut))
        return int(done.rowcount)

    def count(self, rule_id: str | None = None) -> int:
        """How many snapshots are stored (of one rule, when given)."""
        query = select(func.count()).select_from(snapshots_table)
        if rule_id is not None:
            query = query.where(snapshots_table.c.rule_id == rule_id)
        with mapped("count the poll snapshots"), self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
