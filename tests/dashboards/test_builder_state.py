"""The builder's state (no browser) against a real server: guide Labs 2, 8 and 11."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cepkit.client import Client
from cepkit.clock import FakeClock
from cepkit.plan import check_rule
from cepkit.rules import load_rule_files, parse_rule
from dashboards.state.builder import BuilderState, JsonEditorState
from dashboards.state.builder_form import FormState
from server.app import create_app
from server.settings import Settings
from tests.fakes import FakeService
from tests.server.conftest import no_sleep, serving

GUIDE = Path(__file__).parents[2] / "data" / "rules" / "guide"

#: guide Lab 8 step 8, the JSON preview of the filled-in form
LAB8_PREVIEW = json.loads((GUIDE / "lab8_production_server_monitor.json").read_text())


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("builder") / "cepkit.db"
    app = create_app(
        Settings(db=f"sqlite:///{db}", tick_seconds=0), clock=FakeClock(), sleep=no_sleep
    )
    with serving(app) as url:
        yield url


@pytest.fixture
def state(base: str) -> Iterator[BuilderState]:
    with Client(base) as client:
        builder = BuilderState(client=client)
        builder.refresh()
        yield builder


@pytest.fixture
def hook() -> Iterator[FakeService]:
    fake = FakeService()
    fake.route("/hook", 200, body="{}")
    yield fake
    fake.close()


def fill_lab8(form: FormState, name: str = "production_server_monitor") -> None:
    """Guide Lab 8 steps 1 to 7, as an operator fills the form."""
    form.rule_name = name
    form.description = "프로덕션 서버 CPU/Memory 임계치 모니터링"
    form.trigger_type = "metric"
    form.param.update(metric_name="cpu_usage", operator=">", threshold="85")
    form.param.update(metric_aggregation="avg", duration="5m")
    form.add_condition(field="cpu_usage", op=">", value="85")
    form.add_condition(field="memory_percent", op=">", value="70")
    form.logic = "AND"
    form.param.update(window_type="tumbling", window_size="5m")
    webhook = form.add_action()
    webhook.param.update(type="webhook", endpoint="https://api.internal.example.com/alerts/cpu")
    notify = form.add_action(type="notify")
    notify.message = "서버 CPU 사용률이 임계치를 초과했습니다. host={{host}}, cpu={{cpu_usage}}%"
    notify.channels = ["Slack", "Email"]


def test_lab8_form_preview_save_and_reload(state: BuilderState) -> None:
    form = state.form
    assert form.name_error.startswith("규칙명을 입력하세요")
    assert not form.can_create  # no name, no action
    fill_lab8(form)
    assert form.name_error == "" and form.problems == []
    assert form.window_sentence == "5m 크기의 윈도우로 데이터를 분할합니다"
    # the preview is the guide's JSON, key for key (plus the severity the form always sets)
    assert form.document() == {**LAB8_PREVIEW, "severity": "medium"}
    assert json.loads(form.preview) == form.document()
    # the JSON Editor shows the same rule (Lab 8 step 8)
    assert json.loads(state.editor.trigger_spec_text) == LAB8_PREVIEW["trigger_spec"]
    assert json.loads(state.editor.action_spec_text) == LAB8_PREVIEW["actions"]
    assert state.editor.document() == form.document()
    removed = form.actions[0]
    form.remove(removed)
    form.remove(form.actions[0])
    assert not form.can_create and form.problems == []  # valid, but zero actions
    assert state.save_form() is False and "action" in state.error
    form.actions = [removed]
    assert form.can_create

    assert state.save_form(), state.error
    assert state.message == "Rule created from form."
    assert state.selected is not None
    assert "production_server_monitor (metric) · draft" in state.rule_list
    # Lab 11: what the API returns is what the form made
    stored = state._api().rule(state.selected).model_dump(mode="json")
    assert {k: stored[k] for k in form.document()} == form.document()
    # choosing the rule again shows it in the JSON Editor
    state.new_rule()
    assert state.form.rule_name == "" and state.editor.trigger_spec_text == "{}"
    state.select(state.rule_names["production_server_monitor (metric)"])
    assert json.loads(state.editor.trigger_spec_text) == LAB8_PREVIEW["trigger_spec"]
    assert state.editor.rule_name == "production_server_monitor"
    assert state.form.document()["composite_condition"] == LAB8_PREVIEW["composite_condition"]
    # saving again updates the selected rule as a new version
    state.form.threshold = "90"
    assert state.save_form(), state.error
    assert state.message == "Rule updated (version 2)."
    state._api().activate(state.selected)
    state.refresh()
    assert "production_server_monitor (metric)" in state.rule_list  # active: no draft mark
    # a second rule of the same name is refused by the server, with its answer shown
    state.new_rule()
    fill_lab8(state.form)
    assert state.save_form() is False and "409" in state.error


def test_form_sections_follow_the_rule_model() -> None:
    form = FormState(rule_name="sections", trigger_type="event", event_type="error")
    form.add_action(type="store", target="events")
    # an event rule's conditions go inline into its trigger spec (guide Lab 2)
    form.add_condition(field="severity", op="==", value="critical")
    form.add_condition(field="region", op="in", value="us-east, eu-west")
    form.logic = "OR"
    spec = form.document()["trigger_spec"]
    assert spec["conditions"][1] == {"field": "region", "op": "in", "value": ["us-east", "eu-west"]}
    assert spec["logic"] == "OR" and "composite_condition" not in form.document()
    form.remove(form.conditions[0])
    assert len(form.document()["trigger_spec"]["conditions"]) == 1
    # windowing: the extra field per type, and the model's sentence
    form.param.update(window_type="sliding", window_size="5m", window_slide="1m")
    assert form.document()["window_config"] == {"type": "sliding", "size": "5m", "slide": "1m"}
    assert form.window_sentence == "5m 크기의 윈도우를 1m 간격으로 이동합니다"
    form.param.update(window_slide="10m")
    assert form.error_at("window_config").startswith("slide (10m) must not be larger")
    form.param.update(window_type="session", session_timeout="10m")
    assert form.document()["window_config"] == {"type": "session", "timeout": "10m"}
    # aggregation: no field for count; comma-separated group-by parsed as the model does
    row = form.add_aggregation(type="avg", field="cpu_percent", output_alias="avg_cpu")
    row.group_by = "region, service_name"
    assert form.document()["aggregation"] == {
        "type": "avg",
        "field": "cpu_percent",
        "outputAlias": "avg_cpu",
        "group_by": ["region", "service_name"],
    }
    row.type = "count"
    assert not row.needs_field and "field" not in form.document()["aggregation"]
    form.add_aggregation(type="max", field="")
    assert (
        form.error_at("aggregation[1]")
        == "aggregation 'max' needs a field (only count and rate do not)"
    )
    form.remove(form.aggregations[1])
    # enrichment: the inputs of the chosen type
    enrich = form.add_enrichment(source="redis://server-metadata", key="host")
    enrich.output_field = "server_info"
    assert form.document()["enrichment"] == {
        "type": "lookup",
        "source": "redis://server-metadata",
        "key": "host",
        "output_field": "server_info",
    }
    enrich.type = "aggregate"
    assert set(form.document()["enrichment"]) == {
        "type",
        "field",
        "aggregation",
        "window",
        "output_field",
    }
    assert form.error_at("enrichment.field") != ""
    enrich.field = "cpu"
    assert form.problems == [], form.problems
    # schedule trigger with its cron help text; a bad cron names trigger_spec
    form.param.update(trigger_type="schedule", schedule_expression="every 5 minutes")
    assert form.CRON_HELP == "예: 0 9 * * * (매일 9시)"
    assert "invalid cron expression" in form.error_at("trigger_spec")
    # webhook and notify: their own inputs
    action = form.actions[0]
    action.type = "webhook"
    assert set(action.document()) == {"type", "endpoint", "method"}
    assert form.error_at("actions[0].endpoint") != ""
    action.type = "notify"
    assert set(action.document()) == {"type", "message", "channels"}
    revision = form.revision
    action.channels = ["Slack"]
    assert form.revision > revision  # any edit bumps the revision the preview follows


@pytest.mark.parametrize("path", sorted(GUIDE.glob("*.json")), ids=lambda p: p.stem)
def test_loading_a_rule_into_the_form(path: Path) -> None:
    """Every guide rule loads; the form makes the same rule, or names what it cannot hold."""
    [(_, document)] = load_rule_files(path)
    form = FormState()
    form.load(document)
    try:
        same = check_rule(form.document()) == parse_rule(document)
    except ValueError:
        same = False
    assert same != bool(form.notes), form.notes


def test_lab2_json_editor_simulate_trigger_and_logs(state: BuilderState, hook: FakeService) -> None:
    state.new_rule()
    editor = state.editor
    editor.param.update(rule_name="critical_error_event", trigger_type="event", severity="critical")
    editor.description = "API Gateway critical error detection"
    editor.trigger_spec_text = json.dumps(
        {
            "event_type": "error",
            "conditions": [
                {"field": "severity", "op": "==", "value": "critical"},
                {"field": "service", "op": "==", "value": "api-gateway"},
            ],
            "logic": "AND",
        }
    )
    actions: dict[str, Any] = {
        "type": "multi_action",
        "actions": [
            {"type": "webhook", "endpoint": hook.url("/hook"), "method": "PUSH"},
            {"type": "notify", "channels": ["Slack"], "message": "{{severity}} - {{summary}}"},
        ],
    }
    editor.action_spec_text = json.dumps(actions)
    # inline errors carry the JSON path of the Action Spec as written
    assert editor.errors_for("actions").startswith("actions.actions[0].method: unknown HTTP method")
    assert editor.errors_for("trigger") == ""
    assert state.save_json() is False and "actions.actions[0].method" in state.error
    actions["actions"][0]["method"] = "POST"
    editor.action_spec_text = json.dumps(actions)
    assert editor.problems == []
    assert state.save_json(), state.error
    assert (
        state.message == "Rule created."
        and "critical_error_event (event) · draft" in state.rule_list
    )

    state.simulate()
    assert state.simulation is not None
    assert {
        k: state.simulation[k] for k in ("matched", "condition_evaluated", "extracted_value")
    } == {
        "matched": True,
        "condition_evaluated": True,
        "extracted_value": "critical",
    }
    assert state.simulation["triggered_actions"] == ["webhook", "notify"]
    assert '"matched": true' in state.simulation_text
    state.payload_text = json.dumps({"severity": "warning", "service": "api-gateway"})
    state.simulate()
    assert state.simulation["matched"] is False and state.simulation["triggered_actions"] == []
    state.payload_text = "{not json"
    state.simulate()
    assert state.error.startswith("payload: invalid JSON at line 1")
    state.payload_text = "[1, 2]"
    state.simulate()
    assert state.error == "payload: expected a JSON object"

    state.payload_text = json.dumps(
        {"severity": "critical", "service": "api-gateway", "summary": "x"}
    )
    state.trigger()
    result = state.trigger_result
    assert result is not None and result["matched"] is True, state.error
    assert len(hook.hits("/hook")) == 1  # the webhook ran for real
    assert state.logs[0]["exec_id"] == result["exec_id"]
    assert set(state.logs[0]) == {"exec_id", "status", "duration_ms", "error"}
    assert state.logs[0]["status"] == result["status"]
    events = state._api().events(rule_id=state.selected).events
    assert [e.event_id for e in events] == [result["event_id"]]


def test_json_editor_keeps_the_rest_of_the_rule() -> None:
    editor = JsonEditorState()
    [(_, document)] = load_rule_files(GUIDE / "lab5_system_resource_alert.json")
    editor.load({**document, "rule_id": "r1", "version": 3})
    assert editor.rule_name == "system_resource_alert" and editor.trigger_type == "metric"
    other = json.loads(editor.other_text)
    assert "composite_condition" in other and "rule_id" not in other
    assert parse_rule(editor.document()) == parse_rule(document)
    editor.other_text = '{"window_config": {"type": "tumbling", "size": "7q"}}'
    assert editor.errors_for("other").startswith("window_config.size: invalid duration '7q'")
    editor.other_text = "[1]"
    assert editor.errors_for("other") == "other: expected a JSON object"


def test_test_tab_needs_a_saved_rule(state: BuilderState) -> None:
    state.new_rule()
    state.simulate()
    assert state.error == "save the rule first (Create rule), then test it"
    state.select("rule_does_not_exist")
    assert "404" in state.error
