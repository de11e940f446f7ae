"""Dead letters: deliveries that finally failed, kept until they are delivered again.

One row per ``dead_letter_id`` (stable for a firing, action and channel, so a failed
retry replaces its row). ``status`` is ``dead`` until a retry gets through
(``redelivered``).

>>> from datetime import datetime, timezone
>>> from cepkit.clock import FakeClock
>>> from cepkit.firing import Firing
>>> from cepkit.actions.results import DeadLetter
>>> from cepkit.store import create_store
>>> rules = create_store("sqlite:///:memory:", clock=FakeClock())
>>> letters = DeadLetterStore(rules.engine, clock=FakeClock())
>>> firing = Firing.build(rule_key="k", rule_name="cpu", severity="high", event_time=0)
>>> letter = DeadLetter(dead_letter_id="dl_1", rule_id="rule_1", rule_name="cpu",
...     action_index=0, action_type="notify", channel="Slack", firing=firing,
...     error="HTTP 500", attempts=5, created_at=datetime(2026, 2, 8, tzinfo=timezone.utc))
>>> letters.put(letter, exec_id="exec_1").status
'dead'
>>> [d.dead_letter_id for d in letters.list()], letters.mark_redelivered("dl_1").status
(['dl_1'], 'redelivered')
>>> rules.close()
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, Engine, Integer, Row, String, Table, Text, select

from cepkit.actions.results import DeadLetter
from cepkit.clock import Clock, SystemClock
from cepkit.errors import NotFound
from cepkit.store.sql import UtcDateTime, mapped, metadata

__all__ = ["DeadLetterNotFound", "DeadLetterStore", "StoredDeadLetter"]

letters_table = Table(
    "dead_letters",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("dead_letter_id", String(64), nullable=False, unique=True),
    Column("tenant", String(64), nullable=False, default="default"),
    Column("exec_id", String(64), nullable=True),
    Column("rule_id", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("body", Text, nullable=False),
)


class DeadLetterNotFound(NotFound):
    """No dead letter with that id."""

    kind = "delivery"


class StoredDeadLetter(BaseModel):
    """A dead letter and what became of it."""

    model_config = ConfigDict(frozen=True)

    dead_letter_id: str
    tenant: str
    exec_id: str | None
    status: Literal["dead", "redelivered"]
    updated_at: datetime
    letter: DeadLetter


def _stored(row: Row[Any]) -> StoredDeadLetter:
    return StoredDeadLetter(
        dead_letter_id=row.dead_letter_id,
        tenant=row.tenant,
        exec_id=row.exec_id,
        status=row.status,
        updated_at=row.updated_at,
        letter=DeadLetter.model_validate_json(row.body),
    )


class DeadLetterStore:
    """Dead letters on the rule store's SQL engine."""

    def __init__(self, engine: Engine, *, clock: Clock | None = None) -> None:
        self._engine = engine
        self._clock = clock if clock is not None else SystemClock()

    def put(
        self, letter: DeadLetter, *, exec_id: str | None = None, tenant: str = "default"
    ) -> StoredDeadLetter:
        """Store (or replace) a dead letter as ``dead``."""
        t = letters_table.c
        values = {
            "tenant": tenant,
            "exec_id": exec_id,
            "rule_id": letter.rule_id,
            "status": "dead",
            "updated_at": self._clock.now(),
            "body": letter.model_dump_json(),
        }
        with mapped("store the dead letter"), self._engine.begin() as conn:
            done = conn.execute(
                letters_table.update()
                .where(t.dead_letter_id == letter.dead_letter_id)
                .values(**values)
            )
            if done.rowcount == 0:
                conn.execute(
                    letters_table.insert().values(dead_letter_id=letter.dead_letter_id, **values)
                )
        return self.get(letter.dead_letter_id)

    def mark_redelivered(self, dead_letter_id: str) -> StoredDeadLetter:
        """A retry got through."""
        with mapped("update the dead letter"), self._engine.begin() as conn:
            done = conn.execute(
                letters_table.update()
                .where(letters_table.c.dead_letter_id == dead_letter_id)
                .values(status="redelivered", updated_at=self._clock.now())
            )
        if done.rowcount == 0:
            raise DeadLetterNotFound(dead_letter_id)
        return self.get(dead_letter_id)

    def get(self, dead_letter_id: str, *, tenant: str | None = None) -> StoredDeadLetter:
        """One dead letter (:class:`DeadLetterNotFound` otherwise)."""
        query = select(letters_table).where(letters_table.c.dead_letter_id == dead_letter_id)
        if tenant is not None:
            query = query.where(letters_table.c.tenant == tenant)
        with mapped("read the dead letter"), self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise DeadLetterNotFound(dead_letter_id)
        return _stored(row)

    def list(
        self,
        *,
        status: Literal["dead", "redelivered"] | None = "dead",
        rule_id: str | None = None,
        tenant: str | None = None,
        limit: int = 100,
    ) -> builtins.list[StoredDeadLetter]:
        """Newest first, by default only the ones still dead."""
        t = letters_table.c
        query = select(letters_table).order_by(t.seq.desc()).limit(limit)
        if status is not None:
            query = query.where(t.status == status)
        if rule_id is not None:
            query = query.where(t.rule_id == rule_id)
        if tenant is not None:
            query = query.where(t.tenant == tenant)
        with mapped("list dead letters"), self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_stored(r) for r in rows]
