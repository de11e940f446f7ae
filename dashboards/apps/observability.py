"""``/cep-observability``: rule durations (p95/p99), channel success and fallback rates,
breaker opens and the ACK backlog (guide section 25), a thin Panel view over
:class:`dashboards.state.observability.ObservabilityState`; refreshed every 10 s.
"""

from __future__ import annotations

from typing import Any

import panel as pn

from cepkit.client import Client
from dashboards.serve import in_thread, serve_standalone
from dashboards.state.observability import (
    AVG_TARGET_MS,
    P95_TARGET_MS,
    P99_TARGET_MS,
    ObservabilityState,
)

__all__ = ["ObservabilityPage", "create"]

#: how often the page reads the figures again (ms)
REFRESH_MS = 10_000


def _grid(frame: Any, css: str) -> Any:
    return pn.widgets.Tabulator(
        frame, show_index=False, disabled=True, sizing_mode="stretch_width", css_classes=[css]
    )


class ObservabilityPage(pn.viewable.Viewer):
    """The page's layout."""

    def __init__(self, state: ObservabilityState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self._backlog = pn.pane.Markdown("", css_classes=["cep-obs-backlog"])
        self._events = pn.pane.Markdown("")
        self._message = pn.pane.Alert("", alert_type="danger", visible=False)
        self._rules = _grid(state.rule_rows(), "cep-obs-rules")
        self._channels = _grid(state.channel_rows(), "cep-obs-channels")
        self._checks = _grid(state.check_rows(), "cep-obs-checks")
        refresh = pn.widgets.Button(label="Refresh", color="primary")
        refresh.on_click(in_thread(state.refresh))
        state.param.watch(in_thread(state.refresh), ["period"])
        state.param.watch(self._show, ["stats", "checks", "message"])
        targets = (
            f"targets: average < {AVG_TARGET_MS:.0f} ms, p95 < {P95_TARGET_MS / 1000:g} s, "
            f"p99 < {P99_TARGET_MS / 1000:g} s"
        )
        self._layout = pn.Column(
            pn.pane.Markdown("## Observability"),
            pn.Row(pn.widgets.RadioButtonGroup.from_param(state.param.period), refresh),
            self._message,
            self._backlog,
            self._events,
            pn.pane.Markdown(f"### Rules ({targets})"),
            self._rules,
            pn.pane.Markdown("### Channels"),
            self._channels,
            pn.pane.Markdown("### Checklist"),
            self._checks,
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def _show(self, *_events: object) -> None:
        state = self.state
        self._backlog.object = f"**{state.backlog_text()}**"
        self._events.object = state.events_text()
        self._rules.value = state.rule_rows()
        self._channels.value = state.channel_rows()
        self._checks.value = state.check_rows()
        self._message.object = state.message
        self._message.visible = bool(state.message)


def create(client: Client) -> ObservabilityPage:
    """The page for one session."""
    pn.extension("tabulator")
    state = ObservabilityState(client)
    pn.state.onload(in_thread(state.refresh))
    pn.state.add_periodic_callback(in_thread(state.refresh), period=REFRESH_MS)  # type: ignore[arg-type]
    return ObservabilityPage(state)


if __name__.startswith("bokeh"):  # panel serve dashboards/apps/observability.py --args ...
    serve_standalone(create)
