"""``/cep-channels`` in headless Chromium against a local fake Slack: the webhook URL is
configured in the form and comes back masked, the test message reaches the fake and the
page shows its status and latency; a dead letter is retried from the page."""

from __future__ import annotations

from typing import Any

from cepkit.client import Client
from tests.dashboards.conftest import select_row
from tests.fakes import FakeService, service
from tests.server.conftest import wait_for

__all__ = ["service"]  # the fake-service fixture, used by name

SECRET = "/services/T000/B000/secret-token-123"


def test_configure_masked_then_test_slack(
    live_server: str, api: Client, page: Any, screenshot: Any, service: FakeService
) -> None:
    service.route(SECRET, 200, body="ok")
    page.goto(f"{live_server}/cep-channels")
    status = page.locator(".cep-channel-status")
    status.locator(".tabulator-row").filter(has_text="Slack").filter(
        has_text="not_configured"
    ).wait_for()

    url_input = page.get_by_label("webhook_url *")
    url_input.fill(service.url(SECRET))
    url_input.press("Tab")
    page.get_by_role("button", name="Save configuration").click()
    page.get_by_text("Slack configuration saved.").wait_for()
    wait_for(lambda: url_input.input_value() == "**********", timeout=10)
    assert "secret-token" not in page.content()  # write-only: never sent back to the page
    assert api.channel("Slack").config == {"webhook_url": "**********"}
    screenshot("masked")

    page.get_by_role("button", name="Send test").click()
    result = page.locator(".cep-test-result")
    result.get_by_text("Test Slack: ok").wait_for()
    result.get_by_text("Test message delivered successfully").wait_for()
    assert result.get_by_text(" ms").count() == 1
    assert service.hits(SECRET)[-1].json["text"].endswith("CEP 채널 테스트")
    status.locator(".tabulator-row").filter(has_text="Slack").filter(has_text="ok").wait_for()
    screenshot("tested")


def test_dead_letter_is_retried_from_the_page(
    live_server: str, api: Client, page: Any, screenshot: Any, service: FakeService
) -> None:
    # a 404 is not retried: the delivery becomes a dead letter at once
    api.configure_channel("Slack", {"webhook_url": service.route("/gone", 404)})
    api.create_rule(
        {
            "rule_name": "cpu_over_90",
            "is_active": True,
            "trigger_type": "metric",
            "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 90},
            "actions": [{"type": "notify", "channels": ["Slack"], "message": "cpu high"}],
        }
    )
    api.ingest({"cpu_usage": 95})
    letter = wait_for(api.dead_letters, timeout=10)[0]
    api.configure_channel("Slack", {"webhook_url": service.route("/fixed", 200)})

    page.goto(f"{live_server}/cep-channels")
    row = page.locator(".cep-dead-letters .tabulator-row").filter(has_text=letter.dead_letter_id)
    row.filter(has_text="dead").wait_for()
    select_row(row)
    page.get_by_role("button", name="Retry selected").click()
    page.get_by_text(f"Dead letter {letter.dead_letter_id} redelivered.").wait_for()
    row.filter(has_text="redelivered").wait_for()
    screenshot("retried")
    assert service.hits("/fixed")[0].json["text"].endswith("cpu high")
    assert api.dead_letters() == []
