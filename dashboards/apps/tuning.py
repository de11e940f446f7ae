"""``/cep-tuning``: a thin Panel view over :class:`dashboards.state.tuning.TuningState`.

On the left the inputs (rule, data file, labelled incident kinds, methods, the settings
and thresholds to sweep, the alert budget); on the right the chosen setting with its
check against a replay, the alerts/day-vs-recall curves, one group's series with the
tuned rule's detections, the tuned rule's JSON and ``Promote``. The sweep and every call
to the server run in a worker thread, never on the session's event loop.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import panel as pn
from panel.template.base import BaseTemplate

from cepkit.client import Client
from cepkit.errors import CepkitError
from dashboards.serve import in_thread
from dashboards.state.tuning import TuningState

__all__ = ["create", "tuning_view"]

_SHOWN = ["setting", "threshold", "alerts", "alerts_per_day", "precision", "recall", "f1"]


def _choice_text(state: TuningState) -> str:
    choice, check = state.choice, state.check
    if choice is None or check is None:
        return "Run a sweep: the best recall within the budget is chosen here."
    lines = [
        f"**Chosen:** `{choice['setting']}`, threshold **{choice['threshold']:g}**",
        f"- alerts/day **{choice['alerts_per_day']:.2f}** (budget {state.budget:g}), "
        f"precision {choice.get('precision') or 0:.2f}, recall **{choice['recall']:.2f}**",
        f"- the sweep counted {check['sweep_alerts']} alerts; the tuned rule replayed "
        f"fires {check['replay_firings']} times",
    ]
    if state.promoted:
        lines.append(f"- promoted: {state.promoted['rule_id']} version {state.promoted['version']}")
    return "\n".join(lines)


def _inputs(state: TuningState) -> pn.Column:
    p = state.param
    rule = pn.widgets.Select(label="Rule", options=dict(state.rules), css_classes=["tuning-rule"])

    def rules_changed(*_events: Any) -> None:
        rule.options = dict(state.rules)
        rule.value = state.rule_id or None

    state.param.watch(rules_changed, ["rules"])
    rule.param.watch(lambda e: setattr(state, "rule_id", e.new or ""), "value")
    refresh = pn.widgets.Button(label="Reload rules")
    refresh.on_click(in_thread(state.refresh_rules))
    run = pn.widgets.Button(label="Run sweep", color="primary", css_classes=["run-sweep"])
    run.on_click(in_thread(state.run_sweep))
    return pn.Column(
        rule,
        refresh,
        pn.widgets.Select.from_param(p.data_file, label="Data file"),
        pn.widgets.Select.from_param(p.labels_file, label="Labelled incidents"),
        pn.widgets.CheckBoxGroup.from_param(p.kinds, label="Incident kinds"),
        pn.widgets.TextInput.from_param(p.group_column, label="Group column"),
        pn.widgets.CheckBoxGroup.from_param(p.methods, label="Methods", inline=True),
        pn.widgets.TextInput.from_param(p.window_grid, label="window (z-score, IQR)"),
        pn.widgets.TextInput.from_param(p.multiplier_grid, label="multiplier k (IQR)"),
        pn.widgets.TextInput.from_param(p.alpha_grid, label="alpha (EMA)"),
        pn.Row(
            pn.widgets.FloatInput.from_param(p.threshold_min, label="Thresholds from", width=110),
            pn.widgets.FloatInput.from_param(p.threshold_max, label="to", width=90),
            pn.widgets.IntInput.from_param(p.threshold_steps, label="steps", width=80),
        ),
        run,
        pn.widgets.FloatInput.from_param(p.budget, label="Alert budget (alerts/day)"),
        width=320,
    )


def _shown(result: pd.DataFrame | None) -> pd.DataFrame:
    """The best row (by F1) of every setting."""
    if result is None or result.empty:
        return pd.DataFrame(columns=_SHOWN)
    ranked = result.sort_values(["f1", "alerts"], ascending=[False, True], kind="stable")
    return ranked.groupby("setting", sort=False).head(1)[_SHOWN].round(3)


def _groups(state: TuningState) -> list[str]:
    try:
        frame = state.frame()
    except CepkitError:
        return []
    key = state.group_column
    return sorted(str(g) for g in frame[key].unique()) if key in frame.columns else []


def tuning_view(state: TuningState) -> pn.viewable.Viewable:
    """The whole page for one session's state: its parts are made once and updated."""
    promote = pn.widgets.Button(label="Promote", color="success", css_classes=["promote"])
    promote.on_click(in_thread(state.promote))
    status = pn.pane.Alert("", alert_type="success", visible=False, css_classes=["tuning-status"])
    choice = pn.pane.Markdown(_choice_text(state), css_classes=["tuning-choice"])
    curves = pn.pane.Plotly(state.curve_figure(), sizing_mode="stretch_width")
    group = pn.widgets.Select(label="Series of group", options=_groups(state), width=200)
    series = pn.pane.Plotly(state.series_figure(), sizing_mode="stretch_width")
    table = pn.widgets.Tabulator(_shown(None), show_index=False, disabled=True, height=220)
    tuned = pn.pane.Str("", css_classes=["tuned-rule"])

    def show_status(*_events: Any) -> None:
        status.param.update(
            object=state.error or state.message,
            alert_type="danger" if state.error else "success",
            visible=bool(state.error or state.message),
        )

    def show_result(*_events: Any) -> None:
        curves.object = state.curve_figure()
        table.value = _shown(state.result)
        group.options = _groups(state)

    def show_choice(*_events: Any) -> None:
        choice.object = _choice_text(state)
        series.object = state.series_figure(group.value)
        doc = state.tuned
        tuned.object = json.dumps(doc, indent=2, ensure_ascii=False) if doc else ""

    state.param.watch(show_status, ["message", "error"])
    state.param.watch(show_result, ["result"])
    state.param.watch(show_choice, ["choice", "promoted", "tuned"])
    group.param.watch(show_choice, ["value"])
    main = pn.Column(
        status,
        choice,
        curves,
        group,
        series,
        "**Best setting per method and parameters (by F1)**",
        table,
        "**The tuned rule**",
        tuned,
        promote,
        sizing_mode="stretch_width",
    )
    return pn.Row(_inputs(state), main, sizing_mode="stretch_width")


def create(client: Client) -> BaseTemplate:
    """A ``/cep-tuning`` session: its own state on ``client`` (see :mod:`dashboards.serve`)."""
    state = TuningState(client=client)
    pn.state.onload(in_thread(state.refresh_rules))
    return pn.template.FastListTemplate(
        title="CEP Tuning", main=[tuning_view(state)], main_max_width="1600px"
    )


if __name__.startswith("bokeh"):  # panel serve dashboards/apps/tuning.py --args --url URL
    from dashboards.serve import serve_standalone

    serve_standalone(create)
