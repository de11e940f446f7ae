"""``/cep-tuning`` in headless Chromium: sweep the pack's latency anomaly rule over the
sample day, the choice within the budget checked by a replay, promote as a new version."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cepkit.client import Client

PACK = Path(__file__).parents[2] / "data" / "rules" / "pack"


def test_sweep_choose_and_promote(
    live_server: str, api: Client, page: Any, screenshot: Any
) -> None:
    rule = api.create_rule(json.loads((PACK / "04_latency_anomaly.json").read_text()))
    page.goto(f"{live_server}/cep-tuning")
    page.locator(".tuning-rule select").wait_for()
    page.get_by_text("latency_anomaly (anomaly)").wait_for(state="attached")
    for kind in (
        "cpu_saturation",
        "disk_level_shift",
        "error_burst",
        "latency_flatline",
        "memory_leak",
    ):
        page.get_by_label(kind, exact=True).uncheck()
    page.get_by_role("button", name="Run sweep").click()
    choice = page.locator(".tuning-choice")
    choice.get_by_text("Chosen:").wait_for(timeout=30_000)
    text = choice.locator("div").first.inner_text()
    counted = re.search(r"counted (\d+) alerts; the tuned rule replayed fires (\d+) times", text)
    assert counted is not None and counted.group(1) == counted.group(2), text
    assert "recall 1.00" in text
    screenshot("chosen")
    page.get_by_role("button", name="Promote").click()
    page.get_by_text("Promoted as version 2.").wait_for()
    stored = api.rule(rule.rule_id)
    assert stored.version == 2 and stored.model_dump()["group_by"] == ["host"]
