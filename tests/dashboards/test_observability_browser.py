"""``/cep-observability`` in headless Chromium: a manual run shows up in the rule figures
(p95/p99) and the ACK backlog."""

from __future__ import annotations

from typing import Any

from cepkit.client import Client


def test_page_shows_rule_figures_and_backlog(
    live_server: str, api: Client, page: Any, screenshot: Any
) -> None:
    rule_id = api.create_rule(
        {
            "rule_name": "cpu_over_90",
            "is_active": True,
            "trigger_type": "metric",
            "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 90},
            "actions": [{"type": "store", "target": "events"}],
        }
    ).rule_id
    api.trigger(rule_id, {"cpu_usage": 99}, dry_run=True)
    page.goto(f"{live_server}/cep-observability")
    page.get_by_text("ACK backlog: 1 unacked").wait_for()
    rules = page.locator(".cep-obs-rules .tabulator-row").filter(has_text="cpu_over_90")
    rules.wait_for()
    p95 = api.stats().rules[0].duration.p95_ms
    assert p95 is not None
    rules.get_by_text(f"{p95:.1f}").first.wait_for()
    page.locator(".cep-obs-checks .tabulator-row").first.wait_for()
    page.get_by_role("button", name="week", exact=True).click()
    page.locator(".cep-obs-checks").get_by_text("Top 5 rules", exact=False).first.wait_for()
    screenshot("week")
