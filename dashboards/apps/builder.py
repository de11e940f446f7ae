"""``/cep-builder``: the rule list on the left, ``New Rule``, and the guide's four tabs.

A thin Panel view over :class:`dashboards.state.builder.BuilderState` (guide section 0.2):
JSON Editor (Trigger Spec / Action Spec as JSON, errors inline with their JSON path),
Form Builder (:mod:`dashboards.apps.builder_form`), Test (Simulate, Manual trigger) and
Logs (exec_id, status, duration_ms, error). The Copilot panel (``dashboards.apps.copilot``)
sits on the right. :func:`create` builds one session's state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pandas as pd
import panel as pn
from panel.io.state import set_curdoc
from panel.template.base import BaseTemplate

from cepkit.client import Client
from dashboards.apps.builder_form import follow, form_builder
from dashboards.apps.copilot import copilot_panel
from dashboards.serve import in_thread
from dashboards.state.builder import BuilderState, JsonEditorState
from dashboards.state.copilot import for_builder

__all__ = ["builder_view", "create"]

_LOG_COLUMNS = ["exec_id", "status", "duration_ms", "error"]


def _error(text: str) -> pn.pane.Markdown:
    return pn.pane.Markdown(
        text.replace("\n", "  \n"),
        styles={"color": "#c62828"},
        visible=bool(text),
        css_classes=["json-error"],
    )


def _rule_list(state: BuilderState) -> pn.Column:
    new = pn.widgets.Button(label="New Rule", color="primary", sizing_mode="stretch_width")
    new.on_click(lambda _e: state.new_rule())  # no server call: on the loop

    listing = pn.widgets.RadioButtonGroup(
        options=state.rule_list,
        value=state.selected,
        orientation="vertical",
        color="light",
        sizing_mode="stretch_width",
        css_classes=["rule-list"],
    )

    async def chosen(event: Any) -> None:
        if event.new is not None and event.new != state.selected:
            await asyncio.to_thread(state.select, event.new)

    def shown(*_events: Any) -> None:
        listing.param.update(options=state.rule_list, value=state.selected)

    listing.param.watch(chosen, "value")
    state.param.watch(shown, ["rules", "selected"])
    return pn.Column("### Rules", new, listing, width=260)


def _json_editor(state: BuilderState) -> pn.Column:
    editor: JsonEditorState = state.editor
    p = editor.param
    watched = [p.rule_name, p.trigger_type, p.trigger_spec_text, p.action_spec_text, p.other_text]

    def errors(part: str) -> Any:
        return follow(lambda *_v: _error(editor.errors_for(part)), *watched)

    save = pn.widgets.Button(color="success", css_classes=["save-json"])
    save.label = "Create rule"

    def label(selected: str | None) -> None:
        save.label = "Create rule" if selected is None else "Update rule"

    state.param.watch(lambda e: label(e.new), ["selected"])
    save.on_click(in_thread(state.save_json))
    area: dict[str, Any] = {"sizing_mode": "stretch_width", "rows": 8}
    return pn.Column(
        pn.Row(
            pn.widgets.TextInput.from_param(p.rule_name, label="Rule Name"),
            pn.widgets.Select.from_param(p.trigger_type, label="Trigger Type"),
            pn.widgets.Select.from_param(p.severity, label="Severity"),
        ),
        pn.Row(
            pn.widgets.TextInput.from_param(p.description, label="Description", width=420),
            pn.widgets.Checkbox.from_param(p.is_active, label="Active"),
        ),
        errors("basic"),
        pn.widgets.TextAreaInput.from_param(p.trigger_spec_text, label="Trigger Spec", **area),
        errors("trigger"),
        pn.widgets.TextAreaInput.from_param(p.action_spec_text, label="Action Spec", **area),
        errors("actions"),
        pn.widgets.TextAreaInput.from_param(
            p.other_text, label="Other fields (conditions, window, aggregation...)", **area
        ),
        errors("other"),
        save,
        sizing_mode="stretch_width",
        css_classes=["json-editor"],
    )


def _result(title: str, text: str, css: str) -> pn.Column:
    return pn.Column(
        f"**{title}**",
        pn.pane.Str(text or "(none yet)", css_classes=[css], sizing_mode="stretch_width"),
    )


def _test_tab(state: BuilderState) -> pn.Column:
    simulate = pn.widgets.Button(label="Simulate", color="primary")
    simulate.on_click(in_thread(state.simulate))
    trigger = pn.widgets.Button(label="Manual trigger", color="warning")
    trigger.on_click(in_thread(state.trigger))
    payload = pn.widgets.TextAreaInput.from_param(
        state.param.payload_text, label="Payload", rows=8, sizing_mode="stretch_width"
    )
    simulation = follow(
        lambda _v: _result("Simulation result", state.simulation_text, "simulation-result"),
        state.param.simulation,
    )
    manual = follow(
        lambda _v: _result("Manual trigger result", state.trigger_text, "trigger-result"),
        state.param.trigger_result,
    )
    return pn.Column(
        payload, pn.Row(simulate, trigger), simulation, manual, sizing_mode="stretch_width"
    )


def _logs_tab(state: BuilderState) -> pn.Column:
    refresh = pn.widgets.Button(label="Refresh logs")
    refresh.on_click(in_thread(state.load_logs))
    table = pn.widgets.Tabulator(
        pd.DataFrame(columns=_LOG_COLUMNS),
        show_index=False,
        disabled=True,
        sizing_mode="stretch_width",
        css_classes=["logs-table"],
    )

    def update(*_events: Any) -> None:
        table.value = pd.DataFrame(state.logs, columns=_LOG_COLUMNS)

    state.param.watch(update, ["logs"])
    update()
    return pn.Column(refresh, table, sizing_mode="stretch_width")


def _status(state: BuilderState) -> Any:
    def show(message: str, error: str) -> pn.pane.Alert:
        if error:
            return pn.pane.Alert(error, alert_type="danger", css_classes=["builder-status"])
        return pn.pane.Alert(
            message, alert_type="success", visible=bool(message), css_classes=["builder-status"]
        )

    return follow(show, state.param.message, state.param.error)


def builder_view(state: BuilderState) -> pn.viewable.Viewable:
    """The whole page for one session's state."""
    create = pn.widgets.Button(label="규칙 생성", color="success", css_classes=["create-rule"])
    create.on_click(in_thread(state.save_form))
    tabs = pn.Tabs(
        ("JSON Editor", _json_editor(state)),
        ("Form Builder", form_builder(state.form, create)),
        ("Test", _test_tab(state)),
        ("Logs", _logs_tab(state)),
        dynamic=False,
        sizing_mode="stretch_width",
    )
    main = pn.Column(_status(state), tabs, sizing_mode="stretch_width")
    copilot = pn.Column(copilot_panel(for_builder(state)), width=380)  # guide Lab 8 step 9
    return pn.Row(_rule_list(state), main, copilot, sizing_mode="stretch_width")


def _on_session_loop() -> Callable[[Callable[[], None]], None]:
    """How this session's state makes a chosen or saved rule's page changes
    (:attr:`BuilderState.on_loop`): on the session's event loop, in one tick, as Panel
    itself schedules a change made off the loop; at once where there is no session."""
    doc = pn.state.curdoc

    def schedule(change: Callable[[], None]) -> None:
        with set_curdoc(doc):
            pn.state.execute(change, schedule=True)

    return schedule


def create(client: Client) -> BaseTemplate:
    """A ``/cep-builder`` session: its own state on ``client`` (see :mod:`dashboards.serve`)."""
    state = BuilderState(client=client, on_loop=_on_session_loop())
    pn.state.onload(in_thread(state.refresh))  # after the page is up, off the loop
    return pn.template.FastListTemplate(
        title="CEP Builder", main=[builder_view(state)], main_max_width="1600px"
    )


if __name__.startswith("bokeh"):  # panel serve dashboards/apps/builder.py --args --url URL
    from dashboards.serve import serve_standalone

    serve_standalone(create)
