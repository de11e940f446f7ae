"""The event console's state (``/cep-events``): filters, the grid, the detail, ACK, live.

:class:`EventConsoleState` reads and writes through :class:`cepkit.client.Client` only.
Its I/O methods (:meth:`~EventConsoleState.refresh`, :meth:`~EventConsoleState.select`,
:meth:`~EventConsoleState.ack`, ...) block, so a view calls them off its event loop.
The live part is a thread reading ``/cep/events/stream`` into a queue
(:meth:`~EventConsoleState.start_stream`); :meth:`~EventConsoleState.apply_changes`
drains it and re-reads the page and the backlog when anything changed, so the grid
always shows what the server says (filters applied there, never re-implemented here).
Nothing here imports Panel.

>>> EventConsoleState.ack_query("Unacked"), EventConsoleState.ack_query("All")
('unacked', 'all')
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import param

from cepkit.client import AckFilter, Client
from cepkit.errors import ClientError
from cepkit.rules import SEVERITIES
from cepkit.store.events import EventChange, StoredEvent
from server.routes.events import EventDetail

__all__ = ["ACK_FILTERS", "GRID_COLUMNS", "EventConsoleState"]

log = logging.getLogger(__name__)

#: the ACK filter's labels and the API's ``ack`` values
ACK_FILTERS: dict[str, AckFilter] = {"Unacked": "unacked", "Acked": "acked", "All": "all"}
#: the grid's columns, in order
GRID_COLUMNS = ("created_at", "severity", "rule_name", "summary", "status", "event_id")
ALL = "All"
_RESYNC = None  # queued when the stream (re)opens: read everything again


def _utc(when: date | None) -> datetime | None:
    """A picker's naive datetime is UTC (a date is its midnight)."""
    if when is None:
        return None
    if not isinstance(when, datetime):
        return datetime(when.year, when.month, when.day, tzinfo=UTC)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _status(event: StoredEvent) -> str:
    if event.dismissed:
        return "dismissed"
    return "acked" if event.acked else "unacked"


class EventConsoleState(param.Parameterized):
    """What the event console shows and does."""

    ack_filter: param.Selector[str] = param.Selector(
        default="Unacked", objects=list(ACK_FILTERS), label="ACK"
    )
    severity: param.Selector[str] = param.Selector(default=ALL, objects=[ALL, *SEVERITIES])
    rule: param.Selector[str] = param.Selector(default=ALL, objects=[ALL], label="Rule")
    since = param.Date(default=None, allow_None=True, label="From (UTC)")
    until = param.Date(default=None, allow_None=True, label="Until (UTC)")
    operator = param.String(default="operator", label="Operator")
    note = param.String(default="", label="Note")

    events = param.List(default=[], item_type=StoredEvent, doc="The page, newest first.")
    total = param.Integer(default=0, doc="Events matching the filters.")
    backlog = param.Integer(default=0, doc="Unacknowledged events (all rules).")
    detail = param.ClassSelector(class_=EventDetail, default=None, allow_None=True)
    message = param.String(default="", doc="The last action's outcome or error.")
    live = param.Boolean(default=False, doc="The SSE stream is open.")
    changes_seen = param.Integer(default=0, doc="Changes received from the stream.")

    def __init__(self, client: Client, *, page_size: int = 100, **params: Any) -> None:
        super().__init__(**params)  # type: ignore[no-untyped-call]
        self.client = client
        self.page_size = page_size
        self._rule_ids: dict[str, str] = {}
        self._queue: queue.Queue[EventChange | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_seq: int | None = None
        self._live_flag = False  # set by the stream's thread, copied to ``live`` by the view's

    # -- reading --------------------------------------------------------------------

    @staticmethod
    def ack_query(label: str) -> AckFilter:
        """The API's ``ack`` value of a filter label."""
        return ACK_FILTERS[label]

    def load(self) -> None:
        """Rules for the rule filter, then the page and the backlog."""
        self.load_rules()
        self.refresh()

    def load_rules(self) -> None:
        """The rule filter's choices: every rule by name."""
        try:
            rules = self.client.rules()
        except ClientError as exc:
            self.message = f"Could not read the rules: {exc}"
            return
        self._rule_ids = {rule.rule_name: rule.rule_id for rule in rules}
        self.param.rule.objects = [ALL, *sorted(self._rule_ids)]

    def refresh(self) -> None:
        """Read the page for the filters, the backlog, and the open detail again."""
        rule_id = None if self.rule == ALL else self._rule_ids.get(self.rule)
        try:
            page = self.client.events(
                ack=self.ack_query(self.ack_filter),
                severity=None if self.severity == ALL else self.severity,
                rule_id=rule_id,
                since=_utc(self.since),
                until=_utc(self.until),
                limit=self.page_size,
            )
            backlog = self.client.events(ack="unacked", limit=1).total
            detail = self.client.event(self.detail.event_id) if self.detail else None
        except ClientError as exc:
            self.message = str(exc)
            return
        self.param.update(events=page.events, total=page.total, backlog=backlog, detail=detail)

    def rows(self) -> pd.DataFrame:
        """The grid: one row per event of the page."""
        records = [
            {
                "created_at": event.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                "severity": event.severity,
                "rule_name": event.rule_name,
                "summary": event.summary,
                "status": _status(event),
                "event_id": event.event_id,
            }
            for event in self.events
        ]
        return pd.DataFrame(records, columns=list(GRID_COLUMNS))

    def select(self, event_id: str | None) -> None:
        """Open an event's detail (None closes it)."""
        if event_id is None:
            self.detail = None
            return
        try:
            self.detail = self.client.event(event_id)
        except ClientError as exc:
            self.message = str(exc)

    # -- acting ---------------------------------------------------------------------

    def ack(self) -> None:
        """Acknowledge the open event as :attr:`operator`, with :attr:`note`."""
        self._verdict("ack")

    def dismiss(self) -> None:
        """Dismiss the open event as noise (which also acknowledges it)."""
        self._verdict("dismiss")

    def _verdict(self, kind: str) -> None:
        if self.detail is None:
            self.message = "Select an event first."
            return
        event_id = self.detail.event_id
        note = self.note.strip() or None
        by = self.operator.strip() or "operator"
        try:
            if kind == "ack":
                self.client.ack(event_id, by=by, note=note)
                self.message = f"Event {event_id} acknowledged by {by}."
            else:
                self.client.dismiss(event_id, by=by, note=note)
                self.message = f"Event {event_id} dismissed as noise by {by}."
        except ClientError as exc:
            self.message = str(exc)
            return
        self.refresh()

    # -- live -----------------------------------------------------------------------

    def start_stream(
        self,
        *,
        ping_seconds: float = 1.0,
        retry_seconds: float = 1.0,
        hold_seconds: float = 5.0,
    ) -> None:
        """Read the SSE stream in a thread until :meth:`stop_stream`.

        Each request is held at most ``hold_seconds``, then the thread reconnects at once,
        resuming after the last change (and re-reading the page when it has none), so a
        server shutting down never waits long for this stream; after an error it retries
        every ``retry_seconds``.
        """
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._read,
            args=(ping_seconds, retry_seconds, hold_seconds),
            name="cep-events-stream",
            daemon=True,
        )
        self._thread.start()

    def stop_stream(self, timeout: float = 5.0) -> None:
        """Stop the stream's thread (it sees the stop at its next frame or ping)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        self.live = False

    def _read(self, ping_seconds: float, retry_seconds: float, hold_seconds: float) -> None:
        while not self._stop.is_set():
            try:
                for change in self.client.changes(
                    last_event_id=self._last_seq,
                    ping_seconds=ping_seconds,
                    stop=self._stop,
                    on_open=self._opened,
                    max_seconds=hold_seconds,
                ):
                    self._last_seq = change.seq
                    self._queue.put(change)
            except ClientError as exc:
                log.info("event stream interrupted: %s", exc)
                self._set_live(False)
                self._stop.wait(retry_seconds)

    def _opened(self) -> None:
        if not self._live_flag or self._last_seq is None:
            self._queue.put(_RESYNC)  # changes before this stream began may be unseen
        self._set_live(True)

    def _set_live(self, value: bool) -> None:
        self._live_flag = value

    def pending(self) -> bool:
        """Whether the stream brought something :meth:`apply_changes` has not applied."""
        return not self._queue.empty() or self._live_flag != self.live

    def apply_changes(self) -> int:
        """Apply what the stream brought: re-read the page and the backlog when anything
        changed. Returns the number of changes applied."""
        changes: list[EventChange] = []
        resync = False
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                resync = True
            else:
                changes.append(item)
        self.live = self._live_flag
        if changes or resync:
            self.changes_seen += len(changes)
            self.refresh()
        return len(changes)
