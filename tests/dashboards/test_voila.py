"""Voila serves the tuning notebook as an app: its kernel runs every cell without an error
and the ipywidgets controls render in headless Chromium and answer a change."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import free_port

ROOT = Path(__file__).parents[2]
NOTEBOOK = ROOT / "notebooks" / "02_tune_anomaly.ipynb"


@pytest.fixture
def voila(tmp_path: Path) -> Iterator[str]:
    """``voila notebooks/02_tune_anomaly.ipynb`` on a free port (a subprocess)."""
    port = free_port()
    voila_bin = Path(sys.executable).with_name("voila")
    log = (tmp_path / "voila.log").open("w")
    process = subprocess.Popen(
        [
            str(voila_bin),
            str(NOTEBOOK),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--ServerApp.port_retries=0",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/status", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"voila did not start: {(tmp_path / 'voila.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        log.close()


def test_voila_renders_the_tuning_widgets(voila: str, page: Any, screenshot: Any) -> None:
    page.goto(voila, timeout=120_000)
    # every cell ran: the last one draws the widgets (Voila stops at a cell that fails)
    page.get_by_role("button", name="Promote").wait_for(timeout=120_000)
    page.get_by_text("best recall within 5/day").wait_for()
    assert page.locator(".jp-OutputArea-output").get_by_text("Traceback").count() == 0
    page.locator(".js-plotly-plot .gtitle").get_by_text("gt-02: ").wait_for()
    # a widget answers: another host redraws its detections through the kernel
    page.get_by_label("host").select_option("gt-01")
    page.locator(".js-plotly-plot .gtitle").get_by_text("gt-01: ").wait_for(timeout=30_000)
    screenshot("voila")
