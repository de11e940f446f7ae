"""The real server: uvicorn in a subprocess on a free 127.0.0.1 port, over real HTTP."""

from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from server.app import create_app
from server.settings import Settings
from tests.server.conftest import REPO_ROOT, serving_subprocess


def test_uvicorn_serves_the_rules_api(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CEPKIT_DB": str(tmp_path / "served.db"),
        "CEPKIT_RULE_PACK": str(REPO_ROOT / "data" / "rules" / "pack"),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "server.app:create_app"]
    with (
        serving_subprocess(command, log=tmp_path / "uvicorn.log", env=env) as (_, base),
        httpx.Client(base_url=base, timeout=5) as client,
    ):
        answer = client.get("/cep/rules")
        assert answer.status_code == 200
        assert answer.json()["total"] == 5
        assert client.get("/").json()["rules"] == "/cep/rules"


def test_cepkit_serve_stops_promptly_with_an_sse_client_connected(tmp_path: Path) -> None:
    """SIGTERM while a client streams /cep/events/stream: the stream ends at once and the
    server shuts down cleanly, well before uvicorn's 5 s cut-off."""
    env = {**os.environ, "CEPKIT_DASHBOARDS": "false"}
    log_path = tmp_path / "serve.log"
    command = [sys.executable, "-m", "cepkit.cli", "serve", "--db", str(tmp_path / "s.db")]
    timeout = httpx.Timeout(5, read=30)
    with (
        serving_subprocess(command, log=log_path, env=env) as (process, base),
        httpx.Client(base_url=base, timeout=timeout) as client,
        client.stream("GET", "/cep/events/stream") as stream,
    ):
        lines = stream.iter_lines()
        assert next(lines) == ": connected"
        started = time.monotonic()
        process.terminate()
        remaining = list(lines)  # the server ends the stream
        process.wait(timeout=10)  # uvicorn re-raises SIGTERM once shut down
        took = time.monotonic() - started
    assert took < 4.0, took
    assert all(line.startswith(("retry", ":")) or not line for line in remaining)
    output = log_path.read_text()
    assert "Application shutdown complete" in output and "Traceback" not in output
    assert "start-up heap frozen" in output  # cepkit serve: one app for the process


def test_freeze_heap_leaves_the_start_up_objects_out_of_collections(sqlite_url: str) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    settings = Settings(db=sqlite_url, tick_seconds=0, dashboards=False)
    try:
        with TestClient(create_app(settings, freeze_heap=True)) as client:
            assert client.get("/cep/rules").status_code == 200
            assert gc.get_freeze_count() > 10_000  # the modules, the app, the stores
    finally:
        gc.unfreeze()
