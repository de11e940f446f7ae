"""``/cep-events``: the event console, a thin Panel view over
:class:`dashboards.state.events.EventConsoleState`.

Filters (ACK, severity, rule, time range) above a grid of events; a click on a row opens
its detail (summary, severity, the condition evaluated, the payload, the deliveries) with
ACK and "Dismiss as noise" buttons; the unacknowledged backlog is counted at the top. The
grid follows ``/cep/events/stream`` live. Every call to the server runs in a worker
thread, never on the session's event loop (the server may be this very process).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import panel as pn

from cepkit.client import Client
from dashboards.serve import in_thread, serve_standalone
from dashboards.state.events import EventConsoleState

__all__ = ["EventConsole", "create"]

#: how often the view applies what the stream brought (ms)
POLL_MS = 300


def _json(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


class EventConsole(pn.viewable.Viewer):
    """The console's layout."""

    def __init__(self, state: EventConsoleState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self._backlog = pn.pane.Markdown("", css_classes=["cep-backlog"], margin=(0, 10))
        self._live = pn.pane.Markdown("", css_classes=["cep-live"], margin=(0, 10))
        self._message = pn.pane.Alert("", alert_type="info", visible=False)
        self._grid = pn.widgets.Tabulator(
            state.rows(),
            show_index=False,
            disabled=True,
            selectable=1,
            sizing_mode="stretch_width",
            height=420,
            pagination=None,
            hidden_columns=["event_id"],
            css_classes=["cep-events-grid"],
        )
        self._grid.param.watch(self._selected, ["selection"])
        self._detail_head = pn.pane.Markdown("Select an event in the grid.")
        self._condition = pn.pane.JSON({}, depth=-1, name="Condition evaluated")
        self._payload = pn.pane.JSON({}, depth=-1, name="Payload")
        self._deliveries = pn.pane.Markdown("", name="Deliveries")
        self._ack = pn.widgets.Button(label="ACK", color="primary", disabled=True)
        self._dismiss = pn.widgets.Button(label="Dismiss as noise", color="warning", disabled=True)
        self._ack.on_click(in_thread(state.ack))
        self._dismiss.on_click(in_thread(state.dismiss))
        refresh = in_thread(state.refresh)
        state.param.watch(refresh, ["ack_filter", "severity", "rule", "since", "until"])
        state.param.watch(self._show_rows, ["events"])
        state.param.watch(self._show_counts, ["backlog", "total", "live"])
        state.param.watch(self._show_detail, ["detail"])
        state.param.watch(self._show_message, ["message"])
        self._show_counts()
        self._layout = self._build()

    def _build(self) -> pn.viewable.Viewable:
        state = self.state
        filters = pn.Row(
            pn.widgets.RadioButtonGroup.from_param(state.param.ack_filter),
            pn.widgets.Select.from_param(state.param.severity, width=140),
            pn.widgets.Select.from_param(state.param.rule, width=220),
            pn.widgets.DatetimePicker.from_param(state.param.since, width=190),
            pn.widgets.DatetimePicker.from_param(state.param.until, width=190),
        )
        actions = pn.Row(
            pn.widgets.TextInput.from_param(state.param.operator, width=160),
            pn.widgets.TextInput.from_param(state.param.note, width=260),
            self._ack,
            self._dismiss,
        )
        detail = pn.Column(
            self._detail_head,
            actions,
            pn.Tabs(
                ("Condition evaluated", self._condition),
                ("Payload", self._payload),
                ("Deliveries", self._deliveries),
            ),
            css_classes=["cep-event-detail"],
            width=520,
        )
        header = pn.Row(pn.pane.Markdown("## Event console"), self._backlog, self._live)
        return pn.Column(
            header, filters, self._message, pn.Row(self._grid, detail), sizing_mode="stretch_width"
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    # -- state -> widgets ---------------------------------------------------------------

    def _show_rows(self, *_events: object) -> None:
        self._grid.value = self.state.rows()

    def _show_counts(self, *_events: object) -> None:
        state = self.state
        self._backlog.object = f"**Unacked backlog: {state.backlog}** · showing {state.total}"
        self._live.object = "● live" if state.live else "○ connecting…"

    def _show_message(self, *_events: object) -> None:
        self._message.object = self.state.message
        self._message.visible = bool(self.state.message)

    def _show_detail(self, *_events: object) -> None:
        detail = self.state.detail
        open_ = detail is not None and not detail.acked
        self._ack.disabled = not open_
        self._dismiss.disabled = not open_
        if detail is None:
            self._detail_head.object = "Select an event in the grid."
            self._condition.object = {}
            self._payload.object = {}
            self._deliveries.object = ""
            return
        if detail.dismissed:
            verdict = f"dismissed as noise by {detail.dismissed_by} at {detail.dismissed_at}"
        elif detail.acked:
            verdict = f"acknowledged by {detail.acked_by} at {detail.acked_at}"
        else:
            verdict = "not acknowledged"
        self._detail_head.object = "\n".join(
            [
                f"### {detail.summary}",
                f"- **Severity**: {detail.severity}",
                f"- **Rule**: {detail.rule_name}",
                f"- **Created**: {detail.created_at}",
                f"- **Status**: {verdict}",
                f"- **Event id**: `{detail.event_id}`",
            ]
        )
        self._condition.object = _json(detail.condition_evaluated or {})
        self._payload.object = _json(detail.payload or {})
        lines = []
        for log in detail.deliveries:
            error = f": {log.error_message}" if log.error_message else ""
            lines.append(f"- `{log.exec_id}` {log.status} in {log.duration_ms:.0f} ms{error}")
            for action in log.actions:
                where = action.get("channel") or action.get("target") or action.get("action_type")
                tries = len(action.get("attempts") or [])
                lines.append(f"    - {where}: {action.get('status')} after {tries} attempt(s)")
        self._deliveries.object = "\n".join(lines) or "No deliveries."

    # -- widgets -> state ---------------------------------------------------------------

    async def _selected(self, event: Any) -> None:
        rows = self._grid.value
        picked = [index for index in event.new if index < len(rows)]
        if not picked:
            return
        event_id = str(rows.iloc[picked[0]]["event_id"])
        await asyncio.to_thread(self.state.select, event_id)


def create(client: Client) -> EventConsole:
    """The console for one session: loads, then follows the live stream until it ends."""
    pn.extension("tabulator")
    state = EventConsoleState(client)
    view = EventConsole(state)

    async def load() -> None:
        await asyncio.to_thread(state.load)
        state.start_stream()

    async def apply() -> None:
        if state.pending():
            await asyncio.to_thread(state.apply_changes)

    pn.state.onload(load)
    pn.state.add_periodic_callback(apply, period=POLL_MS)  # type: ignore[arg-type]
    pn.state.on_session_destroyed(lambda _context: state.stop_stream(timeout=0))
    return view


if __name__.startswith("bokeh"):  # panel serve dashboards/apps/events.py --args --url ...
    serve_standalone(create)
