"""The Copilot panel (guide Lab 8, step 9): a thin Panel view over
:class:`dashboards.state.copilot.CopilotState`.

A text area, Preview / Test / Apply / Save (Apply and Save enabled only after Test
passed), the status line with the "드래프트 오래됨" badge, the draft JSON, its notes and
the fragments that were not understood. Server calls run off the session's event loop.
"""

from __future__ import annotations

from collections.abc import Callable

import panel as pn

from dashboards.serve import in_thread
from dashboards.state.copilot import STATUS, CopilotState

__all__ = ["copilot_panel"]


def _items(title: str, items: list[str], css: str) -> pn.pane.Markdown:
    lines = "\n".join(f"- {item}" for item in items)
    return pn.pane.Markdown(
        f"**{title}**\n\n{lines}", visible=bool(items), css_classes=[css], margin=(0, 5)
    )


def _button(label: str, kind: str, css: str, work: Callable[[], object]) -> pn.widgets.Button:
    button = pn.widgets.Button(label=label, color=kind, css_classes=[css])
    button.on_click(in_thread(work))
    return button


def _negate(value: bool) -> bool:
    return not value


def _bold(text: str) -> str:
    return f"**{text}**" if text else ""


def _json(text: str) -> str:
    return text or "{}"


def copilot_panel(state: CopilotState) -> pn.viewable.Viewable:
    """The panel for one session's Copilot state."""
    text = pn.widgets.TextAreaInput.from_param(
        state.param.text,
        name="Copilot",
        placeholder="예) CPU가 90% 넘고 메모리가 80% 넘으면 Slack으로 알림 보내줘",
        height=110,
        sizing_mode="stretch_width",
        css_classes=["copilot-text"],
    )
    preview = _button("Preview", "primary", "copilot-preview", state.preview)
    test = _button("Test", "light", "copilot-test", state.test)
    apply = _button("Apply", "success", "copilot-apply", state.apply)
    save = _button("Save", "success", "copilot-save", state.save)
    apply.disabled = pn.bind(_negate, state.param.can_apply)
    save.disabled = pn.bind(_negate, state.param.can_save)
    status = pn.pane.Markdown(
        pn.bind(_bold, state.param.status),
        css_classes=["copilot-status"],
    )
    stale = pn.pane.Alert(
        STATUS["stale"],
        alert_type="warning",
        visible=state.param.stale,
        css_classes=["copilot-stale"],
    )
    error = pn.pane.Alert(
        state.param.error,
        alert_type="danger",
        visible=pn.bind(bool, state.param.error),
        css_classes=["copilot-error"],
    )
    draft_json = pn.pane.JSON(
        pn.bind(_json, state.param.draft_json),
        depth=3,
        sizing_mode="stretch_width",
        css_classes=["copilot-draft"],
    )
    details = pn.bind(
        lambda _draft, problems: pn.Column(
            _items("Notes", state.notes, "copilot-notes"),
            _items("Unparsed", state.unparsed, "copilot-unparsed"),
            _items("Test", problems, "copilot-problems"),
        ),
        state.param.draft,
        state.param.problems,
    )
    return pn.Column(
        pn.pane.Markdown("### Copilot"),
        text,
        pn.Row(preview, test, apply, save),
        status,
        stale,
        error,
        details,
        draft_json,
        sizing_mode="stretch_width",
        css_classes=["copilot-panel"],
    )
