"""The Copilot panel's state against a real server (uvicorn, SQLite), through
cepkit.client.Client: Preview, Test, Apply, Save, the stale draft; and its Panel view."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cepkit.client import Client
from cepkit.clock import FakeClock
from dashboards.state.builder import BuilderState
from dashboards.state.copilot import STATUS, CopilotState, for_builder
from server.app import create_app
from server.settings import Settings
from tests.server.conftest import free_port, serving

GUIDE = "CPU가 90% 넘고 메모리가 80% 넘으면 Slack으로 알림 보내줘"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("copilot") / "cepkit.db"
    settings = Settings(db=f"sqlite:///{db}", tick_seconds=0, dashboards=False)
    with serving(create_app(settings, clock=FakeClock())) as url:
        yield url


@pytest.fixture
def client(base: str) -> Iterator[Client]:
    with Client(base) as api:
        yield api


def test_preview_test_apply_save_in_the_guide_order(client: Client) -> None:
    applied: list[dict[str, Any]] = []
    state = CopilotState(client=client, text=GUIDE, on_apply=applied.append)
    state.preview()
    assert state.draft is not None and state.draft.type == "cep_draft"
    assert (state.status, state.can_apply, state.can_save) == (STATUS["ready"], False, False)
    assert '"type": "cep_draft"' in state.draft_json

    state.apply()  # not tested yet: refused
    state.save()
    assert applied == [] and state.applied is None and state.saved is None
    assert "test the draft first" in state.error

    assert state.test() is True
    assert (state.status, state.can_apply, state.can_save, state.problems) == (
        STATUS["tested"],
        True,
        True,
        [],
    )

    state.apply()
    assert applied == [state.draft.rule] and state.applied == state.draft.rule
    assert (state.status, state.stale) == (STATUS["applied"], False)
    state.form_edited()
    assert (state.status, state.stale) == ("드래프트 오래됨", True)

    state.save()
    assert state.saved is not None and state.error == ""
    stored = client.rule(state.saved["rule_id"]).model_dump()
    assert {key: stored[key] for key in state.draft.rule} == state.draft.rule

    state.save()  # the same rule_name again: the server's 409 is shown
    assert "409" in state.error or "already" in state.error


def test_a_draft_that_needs_input_fails_test_and_cannot_be_applied(client: Client) -> None:
    state = CopilotState(client=client, text="CPU가 90% 넘으면 텔레그램으로 보내줘")
    state.preview()
    assert state.status == STATUS["needs_input"]
    assert state.unparsed == ["텔레그램으로"] and state.notes
    assert state.test() is False
    assert state.status == STATUS["failed"]
    assert "이해하지 못한 부분: 텔레그램으로" in state.problems
    assert (state.can_apply, state.can_save) == (False, False)


def test_a_new_preview_starts_over(client: Client) -> None:
    state = CopilotState(client=client, text=GUIDE, on_apply=lambda _rule: None)
    state.preview()
    state.test()
    state.apply()
    state.form_edited()
    state.text = "디스크 90 이상이면 이메일로 알려줘"
    state.preview()
    assert (state.tested, state.applied, state.stale, state.can_apply) == (
        False,
        None,
        False,
        False,
    )
    assert state.draft is not None and state.draft.rule["trigger_spec"]["threshold"] == 90


def test_editing_the_text_after_test_asks_for_a_new_preview(client: Client) -> None:
    state = CopilotState(client=client, text=GUIDE)
    state.preview()
    assert state.test()
    state.text = GUIDE + " 그리고 이메일"
    assert (state.tested, state.can_apply, state.can_save) == (False, False, False)
    assert state.status == STATUS["edited"]
    state.preview()
    assert state.test() and state.draft is not None
    assert state.draft.rule["actions"][0]["channels"] == ["Slack", "Email"]


def test_blank_text_and_an_unreachable_server_are_shown_as_errors(client: Client) -> None:
    state = CopilotState(client=client, text="  ")
    state.preview()
    assert "422" in state.error and "text" in state.error and state.draft is None
    with Client(f"http://127.0.0.1:{free_port()}") as down:
        offline = CopilotState(client=down, text=GUIDE)
        offline.preview()
    assert "ConnectError" in offline.error and offline.draft is None


def test_in_the_builder_apply_fills_the_form_and_an_edit_makes_the_draft_stale(
    client: Client,
) -> None:
    builder = BuilderState(client=client)
    state = for_builder(builder)
    state.text = "호스트별 5분 평균 CPU 80% 넘으면 슬랙"
    state.preview()
    assert state.test()
    state.apply()
    form = builder.form
    assert (form.rule_name, form.trigger_type, form.metric_name) == (
        "cpu_usage_alert",
        "metric",
        "cpu_usage",
    )
    assert builder.editor.rule_name == "cpu_usage_alert"
    assert state.stale is False  # loading the form is not an edit
    form.description = "edited by hand"
    assert (state.stale, state.status) == (True, "드래프트 오래됨")
    state.save()
    assert "cpu_usage_alert (metric)" in builder.rule_names


def test_the_panel_enables_apply_and_save_only_after_test(client: Client) -> None:
    import panel as pn

    from dashboards.apps.copilot import copilot_panel

    state = CopilotState(client=client, text=GUIDE)
    view = copilot_panel(state)
    assert isinstance(view, pn.viewable.Viewable)
    assert view.get_root() is not None  # renders to Bokeh models
    buttons = {b.label: b for b in view.select(pn.widgets.Button)}
    assert set(buttons) == {"Preview", "Test", "Apply", "Save"}
    state.preview()
    assert buttons["Apply"].disabled and buttons["Save"].disabled
    state.test()
    assert not buttons["Apply"].disabled and not buttons["Save"].disabled
    [stale] = [a for a in view.select(pn.pane.Alert) if "copilot-stale" in a.css_classes]
    assert stale.visible is False
    state.apply()
    state.form_edited()
    assert stale.visible is True
    view.get_root()  # and again with a draft, notes and the badge shown
