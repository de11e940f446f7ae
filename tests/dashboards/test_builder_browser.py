"""``/cep-builder`` in headless Chromium: guide Lab 8 (a rule made in the Form Builder) and
Lab 2 (a rule in the JSON Editor, simulated, triggered by hand, its event ACKed in
``/cep-events``), with screenshots under ``build/screenshots/``."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from cepkit.client import Client
from tests.dashboards.conftest import REPO_ROOT
from tests.fakes import FakeService, service
from tests.server.conftest import wait_for

__all__ = ["service"]  # the fake-service fixture, used by name

#: guide Lab 8 step 8, plus the severity, the aggregation (step 5) and the enrichment (step 6)
LAB8_RULE: dict[str, Any] = {
    **json.loads((REPO_ROOT / "data/rules/guide/lab8_production_server_monitor.json").read_text()),
    "severity": "medium",
    "aggregation": {
        "type": "avg",
        "field": "cpu_usage",
        "outputAlias": "avg_cpu",
        "group_by": ["host"],
    },
    "enrichment": {
        "type": "lookup",
        "source": "redis://server-metadata",
        "key": "host",
        "output_field": "server_info",
    },
}
LAB8_MESSAGE: str = LAB8_RULE["actions"][1]["message"]


def type_in(page: Any, label: str, text: str, nth: int = 0) -> None:
    """Fill a labelled input and leave it (the widget commits its value on change)."""
    field = page.get_by_label(label, exact=True).nth(nth)
    field.fill(text)
    field.press("Tab")


def tab(page: Any, name: str) -> None:
    """Open one of the builder's tabs."""
    page.locator(".bk-tab").get_by_text(name, exact=True).click()


def preview(page: Any) -> dict[str, Any]:
    text: str = page.locator(".json-preview textarea").input_value()
    return dict(json.loads(text))


def test_lab8_form_builder(live_server: str, api: Client, page: Any, screenshot: Any) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{live_server}/cep-builder")
    page.get_by_role("button", name="New Rule").click()
    tab(page, "Form Builder")
    # step 1: an empty name is refused; without actions 규칙 생성 is disabled
    name_error = page.locator(".form-error").get_by_text("규칙명을 입력하세요")
    name_error.wait_for()
    create = page.get_by_role("button", name="규칙 생성")
    assert create.is_disabled()
    type_in(page, "규칙명 (필수)", "production_server_monitor")
    type_in(page, "설명", "프로덕션 서버 CPU/Memory 임계치 모니터링")
    name_error.wait_for(state="detached")
    page.locator(".active-state").get_by_text("비활성").wait_for()
    # step 2: the metric trigger; the schedule trigger shows its cron help
    page.get_by_role("button", name="스케줄").click()
    page.get_by_text("예: 0 9 * * * (매일 9시)").wait_for()
    page.get_by_role("button", name="메트릭").click()
    type_in(page, "메트릭명 (필수)", "cpu_usage")
    type_in(page, "임계값 (필수)", "85")
    page.get_by_label("시간 윈도우 (필수)").select_option("5m")
    # step 3: two conditions, AND; a third one added and removed
    for _ in range(3):
        page.get_by_role("button", name="+ 조건 추가").click()
    page.locator(".condition-row").nth(2).wait_for()
    page.locator(".condition-row").nth(2).get_by_role("button", name="삭제").click()
    page.locator(".condition-row").nth(2).wait_for(state="detached")
    for i, (field, value) in enumerate([("cpu_usage", "85"), ("memory_percent", "70")]):
        type_in(page, "필드", field, nth=i)
        type_in(page, "값", value, nth=i)
    page.get_by_label("논리 연산").select_option("AND")
    # step 4: a tumbling window of 5m and its sentence
    page.get_by_label("Tumbling Window").check()
    page.get_by_text("5m 크기의 윈도우로 데이터를 분할합니다").wait_for()
    # step 5: no field for count; avg on cpu_usage per host
    page.get_by_role("button", name="+ 집계 추가").click()
    page.get_by_label("집계 타입").select_option("count")
    page.get_by_label("필드명").wait_for(state="hidden")
    page.get_by_label("집계 타입").select_option("avg")
    type_in(page, "필드명", "cpu_usage")
    type_in(page, "출력명", "avg_cpu")
    type_in(page, "그룹화 필드 (쉼표 구분)", "host")
    # step 6: a lookup enrichment
    page.get_by_role("button", name="+ 보강 추가").click()
    type_in(page, "데이터 소스", "redis://server-metadata")
    type_in(page, "조회 키", "host")
    type_in(page, "출력 필드명", "server_info")
    assert create.is_disabled()  # still no action
    # step 7: a webhook and a notify with two channel checkboxes
    page.get_by_role("button", name="+ 액션 추가").click()
    page.get_by_role("button", name="+ 액션 추가").click()
    type_in(page, "엔드포인트 URL", "https://api.internal.example.com/alerts/cpu")
    page.get_by_label("액션 2 타입").select_option("알림 전송")
    type_in(page, "알림 메시지", LAB8_MESSAGE)
    page.get_by_label("Slack").check()
    page.get_by_label("Email").check()
    # step 8: the JSON preview is the rule, and Copy puts it on the clipboard
    wait_for(lambda: preview(page) == LAB8_RULE, timeout=10)
    wait_for(lambda: not create.is_disabled(), timeout=10)
    page.get_by_role("button", name="Copy").click()
    assert json.loads(page.evaluate("navigator.clipboard.readText()")) == LAB8_RULE
    screenshot("filled")
    # the JSON Editor shows the same Trigger Spec and Action Spec
    tab(page, "JSON Editor")
    editor = page.locator(".json-editor")
    assert (
        json.loads(editor.get_by_label("Trigger Spec").input_value()) == LAB8_RULE["trigger_spec"]
    )
    assert json.loads(editor.get_by_label("Action Spec").input_value()) == LAB8_RULE["actions"]
    tab(page, "Form Builder")
    # step 10: saved through POST /cep/rules/form, listed on the left
    create.click()
    page.get_by_text("Rule created from form.").wait_for()
    page.get_by_role("button", name="production_server_monitor (metric) · draft").wait_for()
    screenshot("created")
    [stored] = api.rules()
    document = stored.model_dump(mode="json")
    assert {key: document[key] for key in LAB8_RULE} == LAB8_RULE  # Lab 11: form == API
    # choosing it again in the list shows the saved rule in the JSON Editor
    page.get_by_role("button", name="New Rule").click()
    wait_for(lambda: preview(page)["rule_name"] == "", timeout=10)
    page.get_by_role("button", name="production_server_monitor (metric) · draft").click()
    tab(page, "JSON Editor")
    trigger_spec = editor.get_by_label("Trigger Spec")
    wait_for(
        lambda: json.loads(trigger_spec.input_value()) == LAB8_RULE["trigger_spec"], timeout=10
    )
    assert editor.get_by_label("Rule Name").input_value() == "production_server_monitor"


LAB2_TRIGGER = {
    "event_type": "error",
    "conditions": [
        {"field": "severity", "op": "==", "value": "critical"},
        {"field": "service", "op": "==", "value": "api-gateway"},
    ],
    "logic": "AND",
}


def test_lab2_json_editor_simulate_trigger_and_ack(
    live_server: str, api: Client, page: Any, screenshot: Any, service: FakeService
) -> None:
    hook = service.route("/pagerduty", 202)
    actions: dict[str, Any] = {
        "type": "multi_action",
        "actions": [
            {"type": "webhook", "endpoint": hook, "method": "POST"},
            {
                "type": "notify",
                "channels": ["Slack"],
                "message": "[CRITICAL] {{severity}} - {{summary}}",
            },
        ],
    }
    page.goto(f"{live_server}/cep-builder")
    page.get_by_role("button", name="New Rule").click()
    editor = page.locator(".json-editor")
    type_in(editor, "Rule Name", "critical_error_event")
    type_in(editor, "Description", "API Gateway critical error detection")
    editor.get_by_label("Trigger Type").select_option("event")
    editor.get_by_label("Severity").select_option("critical")
    type_in(editor, "Trigger Spec", json.dumps(LAB2_TRIGGER, indent=2))
    # a typo in the Action Spec is shown inline with its JSON path
    actions["actions"][0]["method"] = "PUSH"
    type_in(editor, "Action Spec", json.dumps(actions, indent=2))
    error = editor.get_by_text("actions.actions[0].method: unknown HTTP method 'PUSH'")
    error.wait_for()
    screenshot("json-error")
    actions["actions"][0]["method"] = "POST"
    type_in(editor, "Action Spec", json.dumps(actions, indent=2))
    error.wait_for(state="detached")
    page.get_by_role("button", name="Create rule").click()
    page.get_by_text("Rule created.").wait_for()
    page.get_by_role("button", name="critical_error_event (event) · draft").wait_for()
    # the Form Builder shows the saved rule too
    tab(page, "Form Builder")
    assert preview(page)["trigger_spec"] == LAB2_TRIGGER

    tab(page, "Test")
    page.get_by_role("button", name="Simulate").click()
    result = page.locator(".simulation-result pre")
    result.get_by_text('"matched": true').wait_for()
    simulated = json.loads(result.inner_text())
    assert simulated["condition_evaluated"] is True and simulated["extracted_value"] == "critical"
    assert simulated["triggered_actions"] == ["webhook", "notify"]
    type_in(page, "Payload", json.dumps({"severity": "warning", "service": "api-gateway"}))
    page.get_by_role("button", name="Simulate").click()
    result.get_by_text('"matched": false').wait_for()
    type_in(
        page,
        "Payload",
        json.dumps(
            {
                "severity": "critical",
                "service": "api-gateway",
                "summary": "Connection pool exhausted",
            }
        ),
    )
    page.get_by_role("button", name="Manual trigger").click()
    manual = page.locator(".trigger-result pre")
    manual.get_by_text('"exec_id"').wait_for()
    triggered = json.loads(manual.inner_text())
    assert triggered["matched"] is True and len(service.hits("/pagerduty")) == 1
    screenshot("triggered")
    tab(page, "Logs")
    page.locator(".logs-table").get_by_text(triggered["exec_id"]).wait_for()
    screenshot("logs")

    page.goto(f"{live_server}/cep-events")
    page.get_by_text("● live").wait_for()  # the console's session is up and following
    row = page.locator(".tabulator-row").filter(has_text="critical_error_event")
    row.wait_for()
    detail = page.locator(".cep-event-detail")
    severity = detail.get_by_text("Severity", exact=True)

    for _attempt in range(3):  # again when a refresh of the grid took the click
        row.click()
        try:
            severity.wait_for(timeout=5_000)
            break
        except PlaywrightTimeout:
            continue
    severity.wait_for()
    detail.get_by_text("not acknowledged").wait_for()  # Lab 2: UNACK
    detail.get_by_text("critical_error_event").first.wait_for()
    detail.get_by_text("Payload", exact=True).click()
    detail.get_by_text("Connection pool exhausted").first.wait_for()
    page.get_by_label("Operator").fill("lee")
    page.get_by_role("button", name="ACK", exact=True).click()
    detail.get_by_text("acknowledged by lee").wait_for()
    screenshot("acked")
    event = api.event(triggered["event_id"])
    assert event.acked and event.acked_by == "lee" and event.rule_name == "critical_error_event"


def test_lab8_copilot_apply_fills_the_form(live_server: str, page: Any, screenshot: Any) -> None:
    """Guide Lab 8 step 9: a sentence becomes a draft, tested, applied to the form; an edit
    of the form afterwards marks the draft stale."""
    page.goto(f"{live_server}/cep-builder")
    tab(page, "Form Builder")
    copilot = page.locator(".copilot-panel")
    text = copilot.locator("textarea")
    text.fill("CPU가 90% 넘고 메모리가 80% 넘으면 Slack으로 알림 보내줘")
    text.press("Tab")
    copilot.get_by_role("button", name="Preview").click()
    copilot.get_by_text("Draft 준비됨").wait_for()
    apply = copilot.get_by_role("button", name="Apply")
    assert apply.is_disabled()  # only after Test passed
    copilot.get_by_role("button", name="Test").click()
    copilot.get_by_text("테스트 통과").wait_for()
    apply.click()
    copilot.get_by_text("폼에 적용됨").wait_for()
    # the form fills from a worker thread: the preview may show no action for a moment
    wait_for(
        lambda: [a.get("channels") for a in preview(page)["actions"]] == [["Slack"]], timeout=10
    )
    rule = preview(page)
    fields = {c["field"]: (c["op"], c["value"]) for c in rule["composite_condition"]["conditions"]}
    assert rule["composite_condition"]["logic"] == "AND" and len(fields) == 2, rule
    assert {op for op, _ in fields.values()} == {">"}
    assert sorted(float(v) for _, v in fields.values()) == [80.0, 90.0]
    screenshot("applied")
    type_in(page, "설명", "edited after Apply")
    copilot.get_by_text("드래프트 오래됨").first.wait_for()
