"""Server test helpers: an app on a fake clock, and a real uvicorn server in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.live import LiveServices


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free port in a thread; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
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
