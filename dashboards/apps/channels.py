"""``/cep-channels``: channel status, configuration, tests and dead letters (guide Lab 6,
Lab 12), a thin Panel view over :class:`dashboards.state.channels.ChannelsState`.

Every call to the server runs in a worker thread, never on the session's event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import panel as pn

from cepkit.client import Client
from dashboards.serve import in_thread, serve_standalone
from dashboards.state.channels import ChannelsState, FormField

__all__ = ["ChannelsPage", "create"]


def _input(field: FormField, value: str) -> Any:
    label = field.key + (" *" if field.required else "")
    if field.kind == "secret":
        return pn.widgets.PasswordInput(label=label, value=value, width=420)
    if field.kind == "bool":
        return pn.widgets.Select(label=label, options=["", "true", "false"], value=value, width=140)
    hint = {"list": "comma-separated", "json": "a JSON object", "int": "a number"}.get(field.kind)
    return pn.widgets.TextInput(label=label, value=value, placeholder=hint or "", width=420)


class ChannelsPage(pn.viewable.Viewer):
    """The page's layout."""

    def __init__(self, state: ChannelsState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self._message = pn.pane.Alert("", alert_type="info", visible=False)
        self._status = pn.widgets.Tabulator(
            state.status_rows(),
            show_index=False,
            disabled=True,
            sizing_mode="stretch_width",
            css_classes=["cep-channel-status"],
        )
        self._form = pn.Column(css_classes=["cep-channel-form"])
        self._inputs: dict[str, Any] = {}
        self._result = pn.pane.Markdown("", css_classes=["cep-test-result"])
        save = pn.widgets.Button(label="Save configuration", color="primary")
        test = pn.widgets.Button(label="Send test", color="success")
        save.on_click(in_thread(state.save))
        test.on_click(in_thread(state.test))
        self._letters = pn.widgets.Tabulator(
            state.dead_letter_rows(),
            show_index=False,
            disabled=True,
            selectable=1,
            sizing_mode="stretch_width",
            css_classes=["cep-dead-letters"],
        )
        retry = pn.widgets.Button(label="Retry selected", color="warning")
        retry.on_click(self._retry)
        state.param.watch(self._changed_channel, ["channel"])
        state.param.watch(self._show_texts, ["texts"])
        state.param.watch(self._show_status, ["statuses"])
        state.param.watch(self._show_letters, ["dead_letters"])
        state.param.watch(self._show_result, ["test_result"])
        state.param.watch(self._show_message, ["message"])
        self._build_form()
        self._layout = pn.Column(
            pn.pane.Markdown("## Channels"),
            self._message,
            pn.pane.Markdown("### Status"),
            self._status,
            pn.pane.Markdown("### Configuration"),
            pn.widgets.Select.from_param(state.param.channel, width=200),
            self._form,
            pn.Row(save),
            pn.Row(pn.widgets.TextInput.from_param(state.param.test_message, width=320), test),
            self._result,
            pn.pane.Markdown("### Recent failures (dead letters)"),
            self._letters,
            retry,
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    # -- state -> widgets ---------------------------------------------------------------

    def _build_form(self) -> None:
        texts = self.state.texts
        self._inputs = {}
        for field in self.state.fields():
            widget = _input(field, texts.get(field.key, field.default))
            widget.param.watch(
                lambda event, key=field.key: self.state.set_text(key, event.new), "value"
            )
            self._inputs[field.key] = widget
        self._form.objects = list(self._inputs.values())

    async def _changed_channel(self, event: Any) -> None:
        self._build_form()
        await asyncio.to_thread(self.state.open_channel, event.new)

    def _show_texts(self, *_events: object) -> None:
        for key, widget in self._inputs.items():
            text = self.state.texts.get(key, "")
            if widget.value != text:
                widget.value = text

    def _show_status(self, *_events: object) -> None:
        self._status.value = self.state.status_rows()

    def _show_letters(self, *_events: object) -> None:
        self._letters.value = self.state.dead_letter_rows()

    def _show_result(self, *_events: object) -> None:
        result = self.state.test_result
        if result is None:
            self._result.object = ""
            return
        self._result.object = (
            f"**Test {result.channel}: {result.status}** · {result.message} · "
            f"{result.latency_ms:.0f} ms"
        )

    def _show_message(self, *_events: object) -> None:
        self._message.object = self.state.message
        self._message.visible = bool(self.state.message)

    # -- widgets -> state ---------------------------------------------------------------

    async def _retry(self, _event: object) -> None:
        rows = self._letters.value
        picked = [index for index in self._letters.selection if index < len(rows)]
        if not picked:
            self.state.message = "Select a dead letter first."
            return
        await asyncio.to_thread(self.state.retry, str(rows.iloc[picked[0]]["dead_letter_id"]))


def create(client: Client) -> ChannelsPage:
    """The page for one session."""
    pn.extension("tabulator")
    state = ChannelsState(client)
    pn.state.onload(in_thread(state.load))
    return ChannelsPage(state)


if __name__.startswith("bokeh"):  # panel serve dashboards/apps/channels.py --args --url ...
    serve_standalone(create)
