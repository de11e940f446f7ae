"""Server test helpers: an app on a fake clock, a real uvicorn server in a thread or a
server command in a subprocess.

- ``keyed_client``: a TestClient of an app on the fake clock whose API keys are ``KEYS``
  (two tenants: acme with an admin, an operator and a viewer key; globex with an admin).
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cepkit.clock import FakeClock
from server.app import create_app
from server.live import LiveServices
from server.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]

KEYS = json.dumps(
    [
        {"key": "acme-admin-key", "role": "admin", "tenant": "acme", "name": "acme-ops"},
        {"key": "acme-operator-key", "role": "operator", "tenant": "acme"},
        {"key": "acme-viewer-key", "role": "viewer", "tenant": "acme"},
        {"key": "globex-admin-key", "role": "admin", "tenant": "globex"},
    ]
)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(app: FastAPI, **config: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free port in a thread; yields the base URL.
    ``config`` goes on to :class:`uvicorn.Config` (e.g. ``timeout_graceful_shutdown``)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **config
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextmanager
def serving_subprocess(
    command: list[str], *, log: Path, env: Mapping[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run a server ``command`` (one taking ``--port``, e.g. ``cepkit serve``) in a
    subprocess from the repository root on a free 127.0.0.1 port, its output appended to
    ``log``; yields (the process, the base URL) once ``GET /cep/rules`` answers, and stops
    the process at the end if it still runs. AssertionError, with the log, if it exits or
    does not answer within 60 s."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/cep/rules", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("server did not start:\n" + log.read_text()) from None
                time.sleep(0.1)
        yield process, base
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(check: Callable[[], Any], *, timeout: float = 10.0, every: float = 0.02) -> Any:
    """Poll ``check`` until it returns something truthy; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {value!r})")
        time.sleep(every)


def client_for(base: str) -> httpx.Client:
    """An httpx client on ``base``."""
    return httpx.Client(base_url=base, timeout=10)


async def no_sleep(_seconds: float) -> None:
    """Retry backoff that does not wait (for apps whose deliveries are not under test)."""


def live_of(client: TestClient) -> LiveServices:
    """The live services of a running TestClient app."""
    live = client.app.state.live  # type: ignore[attr-defined]
    assert isinstance(live, LiveServices)
    return live


def drain(client: TestClient) -> None:
    """Wait until the action workers have logged every queued job."""
    assert client.portal is not None
    client.portal.call(live_of(client).actions.join)


@pytest.fixture
def keyed_client(sqlite_url: str, clock: FakeClock) -> Iterator[TestClient]:
    """A TestClient of an app on the fake clock whose API keys are ``KEYS``."""
    settings = Settings(db=sqlite_url, tick_seconds=0, api_keys=KEYS)
    with TestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client
