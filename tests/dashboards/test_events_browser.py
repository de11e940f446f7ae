"""``/cep-events`` in headless Chromium: an ingested event arrives live, its detail opens,
the operator ACKs it in the UI, the backlog drops and the server has the ACK."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx

from cepkit.client import Client
from server.app import create_app
from server.settings import Settings
from tests.dashboards.conftest import REPO_ROOT, SHUTDOWN_SECONDS, select_row, shot
from tests.fakes import FakeService, service
from tests.server.conftest import free_port, no_sleep, serving, wait_for

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
    detail.get_by_text(f"{service.url('/hook')}: success after 1 attempt(s)").wait_for()
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


def test_with_api_keys_the_console_acts_with_the_page_key(
    tmp_path: Any, browser: Any, service: FakeService
) -> None:
    """The page request's key (a reverse proxy adds it) is the session's key: the console
    sees its tenant's events only, and ACKs as that key's role."""
    keys = "acme-admin:admin:acme,acme-op:operator:acme,root:admin"
    settings = Settings(db=f"sqlite:///{tmp_path / 'keys.db'}", tick_seconds=0, api_keys=keys)
    hook = service.route("/hook", 200)
    with (
        serving(
            create_app(settings, sleep=no_sleep), timeout_graceful_shutdown=SHUTDOWN_SECONDS
        ) as base,
        Client(base, api_key="acme-admin") as acme,
        Client(base, api_key="root") as root,
    ):
        acme.create_rule(cpu_rule(hook))
        root.create_rule(cpu_rule(hook))
        mine = acme.ingest({"cpu_usage": 95, "host": "acme-1"}).event_ids[0]
        root.ingest({"cpu_usage": 96, "host": "default-1"})
        context = browser.new_context(extra_http_headers={"X-API-Key": "acme-op"})
        context.set_default_timeout(10_000)
        try:
            page = context.new_page()
            page.goto(f"{base}/cep-events")
            row = page.locator(".tabulator-row").filter(has_text="cpu_usage=95")
            row.wait_for()
            page.get_by_text("Unacked backlog: 1").wait_for()  # not the default tenant's
            assert page.locator(".tabulator-row").count() == 1
            select_row(row)
            page.get_by_role("button", name="ACK", exact=True).click()
            page.get_by_text("Unacked backlog: 0").wait_for()
            shot(page, "test_with_api_keys-acked")
        finally:
            context.close()
        event = acme.event(mine)
        assert event.acked and event.acked_by == "operator"


def test_standalone_console_works_against_a_remote_server(
    live_server: str, api: Client, page: Any, tmp_path: Any, service: FakeService
) -> None:
    """``panel serve dashboards/apps/events.py --args --url <server>``: the same console in
    its own process, talking to the server over HTTP only."""
    api.create_rule(cpu_rule(service.route("/hook", 200)))
    api.ingest({"cpu_usage": 93})
    port = free_port()
    log = (tmp_path / "panel.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "panel",
            "serve",
            str(REPO_ROOT / "dashboards/apps/events.py"),
            "--port",
            str(port),
            "--address",
            "127.0.0.1",
            "--args",
            "--url",
            live_server,
        ],
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/events"
        wait_for(lambda: _answers(url) or process.poll() is not None, timeout=30, every=0.2)
        assert process.poll() is None, (tmp_path / "panel.log").read_text()
        page.goto(url)
        page.get_by_text("Unacked backlog: 1").wait_for()
        page.locator(".tabulator-row").filter(has_text="cpu_usage=93").wait_for()
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False
