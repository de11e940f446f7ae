"""The ingest journal and the live runner's checkpoints: what makes a restart lose nothing.

Every accepted ingest batch (and every clock tick that moved the runner's watermark) is
appended to the journal *before* the ingest is answered. Now and then the runner saves
a checkpoint (the engine state of every rule, plus the journal ``seq`` it covers) and
the journal is trimmed up to it. After a crash the runner restores the checkpoint and
replays the journal entries after it; the firings this re-derives carry the same ids,
so the event store keeps one row each.

>>> from cepkit.clock import FakeClock
>>> from cepkit.store import create_store
>>> rules = create_store("sqlite:///:memory:", clock=FakeClock())
>>> journal = Journal(rules.engine)
>>> seq = journal.append_batch([{"cpu": 91}], received_at=60.0)
>>> journal.checkpoint(seq, {"rule_1": {"state": 1}})
>>> journal.append_tick(120.0) > seq
True
>>> state = journal.recover()
>>> state.seq == seq, [e.kind for e in state.entries]
(True, ['tick'])
>>> rules.close()
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Column, Engine, Float, Integer, String, Table, Text, delete, select

from cepkit.store.sql import INGEST_SCHEMA, mapped, metadata

__all__ = ["Journal", "JournalEntry", "Recovery"]

journal_table = Table(
    "ingest_journal",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),
    Column("at", Float, nullable=False),
    Column("tenant", String(64), nullable=False, default="default"),
    Column("body", Text, nullable=False),
    schema=INGEST_SCHEMA,  # a file of its own beside a SQLite store (cepkit.store.sql)
    sqlite_autoincrement=True,  # seq never reused after the journal is trimmed
)

checkpoint_table = Table(
    "runner_checkpoints",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("state", Text, nullable=False),
    schema=INGEST_SCHEMA,
)


@dataclass(frozen=True)
class JournalEntry:
    """One journal entry: a batch of events received at ``at``, or a tick to ``at``."""

    seq: int
    kind: Literal["batch", "tick"]
    at: float
    tenant: str
    events: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class Recovery:
    """The last checkpoint (``seq`` 0 and no state when none) and the entries after it."""

    seq: int
    state: Mapping[str, Any] = field(default_factory=dict)
    entries: Sequence[JournalEntry] = ()


class Journal:
    """Append-only ingest journal plus checkpoints, on the rule store's SQL engine."""

    def __init__(self, engine: Engine, *, name: str = "live") -> None:
        self._engine = engine
        self._name = name

    def append_batch(
        self,
        events: Sequence[Mapping[str, Any]],
        *,
        received_at: float,
        tenant: str = "default",
        text: str | None = None,
    ) -> int:
        """Make a batch durable; returns its ``seq``. ``text``, when given, is ``events``
        already as the JSON text of a list (a request body) and is kept as it is."""
        body = (
            text
            if text is not None
            else json.dumps(list(events), ensure_ascii=False, allow_nan=False, default=str)
        )
        return self._append("batch", received_at, tenant, body)

    def append_tick(self, at: float) -> int:
        """Record that the runner advanced its clock to ``at``; returns its ``seq``."""
        return self._append("tick", at, "default", "[]")

    def _append(self, kind: str, at: float, tenant: str, body: str) -> int:
        with mapped("write the ingest journal"), self._engine.begin() as conn:
            result = conn.execute(
                journal_table.insert().values(kind=kind, at=at, tenant=tenant, body=body)
            )
            key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def checkpoint(self, seq: int, state: Mapping[str, Any], *, trim: bool = True) -> None:
        """Save the runner state covering the journal up to ``seq``; then, unless told not
        to, :meth:`trim` the journal up to it."""
        text = json.dumps(state, allow_nan=False, default=str)
        c = checkpoint_table.c
        with mapped("save a checkpoint"), self._engine.begin() as conn:
            done = conn.execute(
                checkpoint_table.update().where(c.name == self._name).values(seq=seq, state=text)
            )
            if done.rowcount == 0:
                conn.execute(checkpoint_table.insert().values(name=self._name, seq=seq, state=text))
        if trim:
            self.trim(seq)

    def trim(self, seq: int, *, rows: int = 64) -> int:
        """Delete the entries up to ``seq`` (a checkpoint covers them), ``rows`` per
        transaction so that appends are never held up for long; returns how many."""
        t = journal_table.c
        deleted = 0
        with mapped("trim the ingest journal"):
            while True:
                with self._engine.begin() as conn:
                    upto = conn.execute(
                        select(t.seq).where(t.seq <= seq).order_by(t.seq).offset(rows - 1).limit(1)
                    ).scalar()
                    bound = seq if upto is None else int(upto)
                    deleted += conn.execute(delete(journal_table).where(t.seq <= bound)).rowcount
                if upto is None or bound >= seq:
                    return deleted

    def recover(self) -> Recovery:
        """The last checkpoint and every journal entry after it, in order."""
        with mapped("read the ingest journal"), self._engine.connect() as conn:
            row = conn.execute(
                select(checkpoint_table).where(checkpoint_table.c.name == self._name)
            ).first()
            seq = int(row.seq) if row is not None else 0
            state = json.loads(row.state) if row is not None else {}
            rows = conn.execute(
                select(journal_table).where(journal_table.c.seq > seq).order_by(journal_table.c.seq)
            ).all()
        entries = [
            JournalEntry(
                seq=r.seq,
                kind=r.kind,
                at=r.at,
                tenant=r.tenant,
                events=json.loads(r.body) if r.kind == "batch" else (),
            )
            for r in rows
        ]
        return Recovery(seq=seq, state=state, entries=entries)
