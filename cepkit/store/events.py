"""The event console's store: every firing the live runner keeps becomes an *event* (an alert).

An event is stored once per ``firing_id`` (re-delivered input or a restart that replays
the ingest journal collapses onto the first row), and can be acknowledged (who, when,
note; idempotent) or dismissed as noise. Every creation, ACK and dismissal appends a row
to a change feed with a growing ``seq``: the SSE stream sends it and a reconnecting
client resumes from its ``Last-Event-ID``. Acknowledged and dismissed events export as
labels for tuning (:meth:`EventStore.labels`).

>>> from cepkit.clock import FakeClock
>>> from cepkit.firing import Firing
>>> from cepkit.store import create_store
>>> rules = create_store("sqlite:///:memory:", clock=FakeClock())
>>> events = EventStore(rules.engine, clock=FakeClock())
>>> firing = Firing.build(rule_key="k", rule_id="rule_1", rule_name="cpu", severity="high",
...                       event_time=600.0, values={"cpu_usage": 97.0}, group={"host": "a"})
>>> [e.summary for e in events.add([firing])]
['[high] cpu: cpu_usage=97 (host=a)']
>>> events.add([firing])  # the same firing again: nothing new
[]
>>> ev = events.ack(firing.firing_id, by="kim", note="looking")
>>> ev.acked, ev.acked_by, [c.change for c in events.changes_since(0)]
(True, 'kim', ['created', 'acked'])
>>> rules.close()
"""

from __future__ import annotations

import builtins
import functools
import json
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cepkit.clock import Clock, SystemClock
from cepkit.errors import EventNotFound
from cepkit.firing import Firing
from cepkit.store.sql import UtcDateTime, mapped, metadata

__all__ = [
    "EventChange",
    "EventFilter",
    "EventPage",
    "EventStore",
    "LabelRow",
    "StoredEvent",
    "summary_of",
]

events_table = Table(
    "events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("tenant", String(64), nullable=False, default="default"),
    Column("rule_id", String(64), nullable=True),
    Column("rule_name", String, nullable=False),
    Column("severity", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("summary", Text, nullable=False),
    Column("event_time", UtcDateTime, nullable=False),
    Column("window_start", UtcDateTime, nullable=True),
    Column("window_end", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("body", Text, nullable=False),  # group, values, condition, payload, notes (JSON)
    Column("acked", Boolean, nullable=False, default=False),
    Column("acked_by", String, nullable=True),
    Column("acked_at", UtcDateTime, nullable=True),
    Column("ack_note", Text, nullable=True),
    Column("dismissed", Boolean, nullable=False, default=False),
    Column("dismissed_by", String, nullable=True),
    Column("dismissed_at", UtcDateTime, nullable=True),
    Column("dismiss_note", Text, nullable=True),
    Index("ix_events_rule_time", "rule_id", "event_time"),
    Index("ix_events_ack", "acked", "created_at"),
)

changes_table = Table(
    "event_changes",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("tenant", String(64), nullable=False, default="default"),
    Column("change", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

Change = Literal["created", "acked", "dismissed"]
Source = Literal["ingest", "manual", "schedule", "poll", "store"]


class StoredEvent(BaseModel):
    """One event of the console, as stored."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    tenant: str = "default"
    rule_id: str | None
    rule_name: str
    severity: str
    kind: str
    source: str
    summary: str
    event_time: datetime
    window_start: datetime | None = None
    window_end: datetime | None = None
    created_at: datetime
    group: dict[str, Any] = Field(default_factory=dict)
    values: dict[str, Any] = Field(default_factory=dict)
    condition_evaluated: dict[str, Any] | None = None
    payload: dict[str, Any] | None = None
    notes: list[str] = Field(default_factory=list)
    acked: bool = False
    acked_by: str | None = None
    acked_at: datetime | None = None
    ack_note: str | None = None
    dismissed: bool = False
    dismissed_by: str | None = None
    dismissed_at: datetime | None = None
    dismiss_note: str | None = None


class EventChange(BaseModel):
    """One row of the change feed (what the SSE stream sends, ``seq`` as its id)."""

    model_config = ConfigDict(frozen=True)

    seq: int
    change: Change
    event: StoredEvent


class EventFilter(BaseModel):
    """What ``GET /cep/events`` filters on; every field optional."""

    model_config = ConfigDict(frozen=True)

    rule_id: str | None = None
    severity: str | None = None
    ack: Literal["acked", "unacked", "all"] = "all"
    dismissed: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    tenant: str | None = None


class EventPage(BaseModel):
    """One page of events, newest first, and the total that matched."""

    model_config = ConfigDict(frozen=True)

    events: list[StoredEvent]
    total: int
    limit: int
    offset: int


class LabelRow(BaseModel):
    """An operator's verdict on one event: ``incident`` (acknowledged) or ``noise``."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    rule_id: str | None
    rule_name: str
    label: Literal["incident", "noise"]
    start: datetime
    end: datetime
    group: dict[str, Any] = Field(default_factory=dict)
    by: str | None = None
    note: str | None = None


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def summary_of(firing: Firing) -> str:
    """One line for the console: severity, rule, values and group.

    >>> f = Firing.build(rule_key="k", rule_name="cpu", severity="high", event_time=0.0,
    ...                  values={"avg_cpu": 91.23456789}, group={"host": "a"})
    >>> summary_of(f)
    '[high] cpu: avg_cpu=91.2346 (host=a)'
    """
    values = ", ".join(f"{k}={_number(v)}" for k, v in firing.values.items())
    group = ", ".join(f"{k}={v}" for k, v in firing.group.items())
    kind = " recovered" if firing.kind == "recovery" else ""
    text = f"[{firing.severity}] {firing.rule_name}{kind}"
    if values:
        text += f": {values}"
    if group:
        text += f" ({group})"
    return text


def _body(firing: Firing) -> str:
    return json.dumps(
        {
            "group": firing.group,
            "values": firing.values,
            "condition_evaluated": (
                firing.explain.model_dump(mode="json") if firing.explain is not None else None
            ),
            "payload": firing.payload,
            "notes": firing.notes,
        },
        ensure_ascii=False,
        default=str,
    )


def _event(row: Row[Any] | Mapping[str, Any]) -> StoredEvent:
    """A stored event from a table row (or the values just inserted as one)."""
    data = row._mapping if isinstance(row, Row) else row
    body = json.loads(data["body"])
    return StoredEvent(
        **{key: data[key] for key in _COLUMNS if key in data},
        group=body.get("group") or {},
        values=body.get("values") or {},
        condition_evaluated=body.get("condition_evaluated"),
        payload=body.get("payload"),
        notes=body.get("notes") or [],
    )


#: the table columns that are fields of :class:`StoredEvent` as they are
_COLUMNS = (
    "event_id",
    "tenant",
    "rule_id",
    "rule_name",
    "severity",
    "kind",
    "source",
    "summary",
    "event_time",
    "window_start",
    "window_end",
    "created_at",
    "acked",
    "acked_by",
    "acked_at",
    "ack_note",
    "dismissed",
    "dismissed_by",
    "dismissed_at",
    "dismiss_note",
)


#: per dialect, the INSERT that skips known ids and says which rows it inserted
_UPSERTS: dict[str, Any] = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}
_RECENT = 10_000  # event ids an EventStore remembers having committed


@functools.cache
def _upsert(dialect: str) -> Any:
    """One statement: insert what is new, and say which it was (built once per dialect)."""
    return (
        _UPSERTS[dialect](events_table)  # SQLite and PostgreSQL, as the store
        .on_conflict_do_nothing(index_elements=[events_table.c.event_id])
        .returning(events_table.c.event_id)
    )


class EventStore:
    """Events, ACKs, dismissals and the change feed, on the rule store's SQL engine."""

    def __init__(self, engine: Engine, *, clock: Clock | None = None) -> None:
        self._engine = engine
        self._clock = clock if clock is not None else SystemClock()
        self._recent: dict[str, None] = {}  # ids this store committed lately, oldest first
        self._recent_lock = threading.Lock()

    @property
    def local(self) -> bool:
        """Whether the database is SQLite (a file here, or memory): a short read costs
        less than handing it to a thread, where a server would wait for its answer."""
        return bool(self._engine.dialect.name == "sqlite")

    def recently_stored(self, event_id: str) -> bool:
        """True when this store committed ``event_id`` lately (no database read): a firing
        stored again (a ``store`` action to ``events``) need not be looked up."""
        return event_id in self._recent

    def _remember(self, event_ids: Iterable[str]) -> None:
        with self._recent_lock:
            for event_id in event_ids:
                self._recent[event_id] = None
            while len(self._recent) > _RECENT:
                del self._recent[next(iter(self._recent))]

    # --- writes ------------------------------------------------------------------------

    def add(
        self,
        firings: Iterable[Firing],
        *,
        source: Source = "ingest",
        tenant: str = "default",
        conn: Connection | None = None,
    ) -> builtins.list[StoredEvent]:
        """Store the firings not stored yet (by ``firing_id``); returns the new events.

        Suppressed firings are not events (the engine counts them; the execution log
        records them). Pass ``conn`` to write inside a caller's transaction.
        """
        wanted: dict[str, Firing] = {}
        for firing in firings:
            if not firing.suppressed and firing.firing_id not in self._recent:
                wanted.setdefault(firing.firing_id, firing)
        if not wanted:
            return []
        if conn is None:
            with mapped("store events"), self._engine.begin() as own:
                added = self._add(own, wanted, source, tenant)
            self._remember(event.event_id for event in added)  # committed
            return added
        with mapped("store events"):
            return self._add(conn, wanted, source, tenant)

    def _add(
        self, conn: Connection, wanted: dict[str, Firing], source: str, tenant: str
    ) -> builtins.list[StoredEvent]:
        now = self._clock.now()
        rows = [
            {
                "event_id": firing_id,
                "tenant": tenant,
                "rule_id": firing.rule_id,
                "rule_name": firing.rule_name,
                "severity": firing.severity,
                "kind": firing.kind,
                "source": source,
                "summary": summary_of(firing),
                "event_time": firing.event_time,
                "window_start": firing.window_start,
                "window_end": firing.window_end,
                "created_at": now,
                "body": _body(firing),
                "acked": False,
                "dismissed": False,
            }
            for firing_id, firing in wanted.items()
        ]
        inserted = set(conn.execute(_upsert(conn.dialect.name), rows).scalars())
        rows = [row for row in rows if row["event_id"] in inserted]
        if not rows:
            return []
        conn.execute(
            changes_table.insert(),
            [
                {"event_id": row["event_id"], "tenant": tenant, "change": "created", "at": now}
                for row in rows
            ],
        )
        return [_event(row) for row in rows]  # what was inserted; no second read

    def ack(
        self,
        event_id: str,
        *,
        by: str,
        note: str | None = None,
        tenant: str | None = None,
    ) -> StoredEvent:
        """Acknowledge; a second ACK keeps the first one's who/when/note (idempotent)."""
        return self._mark(event_id, "acked", by=by, note=note, tenant=tenant)

    def dismiss(
        self,
        event_id: str,
        *,
        by: str,
        note: str | None = None,
        tenant: str | None = None,
    ) -> StoredEvent:
        """Dismiss as noise (also acknowledges it); idempotent like :meth:`ack`."""
        return self._mark(event_id, "dismissed", by=by, note=note, tenant=tenant)

    def _mark(
        self, event_id: str, change: Change, *, by: str, note: str | None, tenant: str | None
    ) -> StoredEvent:
        now = self._clock.now()
        t = events_table.c
        with mapped(f"mark the event {change}"), self._engine.begin() as conn:
            row = self._row(conn, event_id, tenant)
            values: dict[str, Any] = {}
            if not row.acked:
                values.update(acked=True, acked_by=by, acked_at=now, ack_note=note)
            if change == "dismissed" and not row.dismissed:
                values.update(dismissed=True, dismissed_by=by, dismissed_at=now, dismiss_note=note)
            if values:
                conn.execute(events_table.update().where(t.event_id == event_id).values(**values))
                conn.execute(
                    changes_table.insert().values(
                        event_id=event_id, tenant=row.tenant, change=change, at=now
                    )
                )
                row = self._row(conn, event_id, tenant)
        return _event(row)

    # --- reads -------------------------------------------------------------------------

    def get(self, event_id: str, *, tenant: str | None = None) -> StoredEvent:
        """The event with that id (:class:`~cepkit.errors.EventNotFound` otherwise)."""
        with mapped("read the event"), self._engine.connect() as conn:
            return _event(self._row(conn, event_id, tenant))

    def list(
        self, where: EventFilter | None = None, *, limit: int = 50, offset: int = 0
    ) -> EventPage:
        """Events matching ``where``, newest first, one page."""
        where = where or EventFilter()
        t = events_table.c
        clauses: builtins.list[Any] = []
        if where.tenant is not None:
            clauses.append(t.tenant == where.tenant)
        if where.rule_id is not None:
            clauses.append(t.rule_id == where.rule_id)
        if where.severity is not None:
            clauses.append(func.lower(t.severity) == where.severity.lower())
        if where.ack == "acked":
            clauses.append(t.acked.is_(True))
        elif where.ack == "unacked":
            clauses.append(t.acked.is_(False))
        if where.dismissed is not None:
            clauses.append(t.dismissed.is_(where.dismissed))
        if where.since is not None:
            clauses.append(t.event_time >= where.since)
        if where.until is not None:
            clauses.append(t.event_time < where.until)
        if where.text:
            pattern = f"%{where.text.lower()}%"
            clauses.append(
                or_(func.lower(t.summary).like(pattern), func.lower(t.rule_name).like(pattern))
            )
        query = select(events_table).where(*clauses)
        count = select(func.count()).select_from(events_table).where(*clauses)
        with mapped("list the events"), self._engine.connect() as conn:
            total = int(conn.execute(count).scalar_one())
            rows = conn.execute(
                query.order_by(t.event_time.desc(), t.seq.desc()).limit(limit).offset(offset)
            ).all()
        return EventPage(events=[_event(r) for r in rows], total=total, limit=limit, offset=offset)

    def changes_since(
        self, seq: int, *, limit: int = 1000, tenant: str | None = None
    ) -> builtins.list[EventChange]:
        """Change-feed rows after ``seq``, oldest first, each with the event as it is now."""
        c = changes_table.c
        query = (
            select(c.seq, c.change, events_table)
            .join(events_table, events_table.c.event_id == c.event_id)
            .where(c.seq > seq)
            .order_by(c.seq)
            .limit(limit)
        )
        if tenant is not None:
            query = query.where(c.tenant == tenant)
        with mapped("read the change feed"), self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [EventChange(seq=row.seq, change=row.change, event=_event(row)) for row in rows]

    def last_seq(self) -> int:
        """The newest change-feed ``seq`` (0 when empty)."""
        with mapped("read the change feed"), self._engine.connect() as conn:
            return int(conn.execute(select(func.max(changes_table.c.seq))).scalar() or 0)

    def labels(
        self, *, rule_id: str | None = None, tenant: str | None = None
    ) -> builtins.list[LabelRow]:
        """Acknowledged events as ``incident`` and dismissed ones as ``noise``, oldest first.

        An event's span is its window (``window_start``..``window_end``) or, for a
        per-event firing, its instant.
        """
        t = events_table.c
        query = select(events_table).where(t.acked.is_(True)).order_by(t.event_time, t.seq)
        if rule_id is not None:
            query = query.where(t.rule_id == rule_id)
        if tenant is not None:
            query = query.where(t.tenant == tenant)
        with mapped("export labels"), self._engine.connect() as conn:
            rows = conn.execute(query).all()
        out = []
        for row in rows:
            event = _event(row)
            noise = event.dismissed
            out.append(
                LabelRow(
                    event_id=event.event_id,
                    rule_id=event.rule_id,
                    rule_name=event.rule_name,
                    label="noise" if noise else "incident",
                    start=event.window_start or event.event_time,
                    end=event.window_end or event.event_time,
                    group=event.group,
                    by=event.dismissed_by if noise else event.acked_by,
                    note=event.dismiss_note if noise else event.ack_note,
                )
            )
        return out

    def counts(self, *, tenant: str | None = None) -> dict[str, Any]:
        """Totals for the console and ``/cep/stats``: events, unacked, oldest unacked."""
        t = events_table.c
        base = [t.tenant == tenant] if tenant is not None else []
        with mapped("count events"), self._engine.connect() as conn:
            total = conn.execute(
                select(func.count()).select_from(events_table).where(*base)
            ).scalar_one()
            unacked = conn.execute(
                select(func.count(), func.min(t.created_at))
                .select_from(events_table)
                .where(*base, t.acked.is_(False))
            ).one()
        oldest = unacked[1]
        if oldest is not None and oldest.tzinfo is None:
            oldest = UtcDateTime().process_result_value(oldest, self._engine.dialect)
        return {"events": int(total), "unacked": int(unacked[0]), "oldest_unacked": oldest}

    @staticmethod
    def _row(conn: Connection, event_id: str, tenant: str | None) -> Row[Any]:
        query = select(events_table).where(events_table.c.event_id == event_id)
        if tenant is not None:
            query = query.where(events_table.c.tenant == tenant)
        row = conn.execute(query).first()
        if row is None:
            raise EventNotFound(event_id)
        return row
