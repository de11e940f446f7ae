"""``/cep-events`` in headless Chromium: an ingested event arrives live, its detail opens,
the operator ACKs it in the UI, the backlog drops and the server has the ACK."""

from __future__ import annotations

from typing import Any

from cepkit.client import Client
from tests.dashboards.conftest import select_row
from tests.fakes import FakeService, service
from tests.server.conftest import wait_for

__all__ = ["service"]  # the fake-service fixture, used by name


def cpu_rule(hook: str) -> dict[str, Any]:
    return {
        "rule_name": "cpu_over_90",
        "is_active": True,
        "severity": "critical",
        "trigger_type": "metric",
        "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 90},
        "actions": [{"type": "webhook", "endpoint": hook, "method": "POST"}],
    }


def test_event_arrives_live_opens_and_is_acked_in_the_ui(
    live_server: str, api: Client, page: Any, screenshot: Any, service: FakeService
) -> None:
    api.create_rule(cpu_rule(service.route("/hook", 200)))
    page.goto(f"{live_server}/cep-events")
    page.get_by_text("Unacked backlog: 0").wait_for()
    page.get_by_text("● live").wait_for()

    result = api.ingest({"cpu_usage": 97.5, "host": "web-7"})
    event_id = result.event_ids[0]
    summary = api.event(event_id).summary
    row = page.locator(".tabulator-row").filter(has_text=summary)
    row.wait_for()  # arrived through the SSE stream, no reload
    page.get_by_text("Unacked backlog: 1").wait_for()
    screenshot("arrived")

    select_row(row)
    detail = page.locator(".cep-event-detail")
    detail.get_by_text("not acknowledged").wait_for()
    detail.get_by_text(summary).wait_for()
    assert detail.get_by_text(": critical").count() == 1  # "Severity: critical"
    detail.get_by_text("Payload", exact=True).click()
    detail.get_by_text("web-7").wait_for()
    wait_for(lambda: api.event(event_id).deliveries, timeout=10)
    detail.get_by_text("Deliveries", exact=True).click()
    screenshot("detail")

    page.get_by_label("Operator").fill("kim")
    page.get_by_role("button", name="ACK", exact=True).click()
    detail.get_by_text("acknowledged by kim").wait_for()
    page.get_by_text("Unacked backlog: 0").wait_for()
    screenshot("acked")
    acked = api.event(event_id)
    assert acked.acked and acked.acked_by == "kim"
    # the Unacked filter no longer lists it
    row.wait_for(state="detached")
