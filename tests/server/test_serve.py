"""The real server: uvicorn in a subprocess on a free 127.0.0.1 port, over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_uvicorn_serves_the_rules_api(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CEPKIT_DB": str(tmp_path / "served.db"),
        "CEPKIT_RULE_PACK": str(REPO_ROOT / "data" / "rules" / "pack"),
    }
    log_path = tmp_path / "uvicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "server.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            with httpx.Client(base_url=base, timeout=5) as client:
                while True:
                    try:
                        answer = client.get("/cep/rules")
                        break
                    except httpx.TransportError:
                        if process.poll() is not None or time.monotonic() > deadline:
                            raise AssertionError(
                                "uvicorn did not come up:\n" + log_path.read_text()
                            ) from None
                        time.sleep(0.1)
                assert answer.status_code == 200
                assert answer.json()["total"] == 5
                assert client.get("/").json()["rules"] == "/cep/rules"
        finally:
            process.terminate()
            process.wait(timeout=15)


def test_cepkit_serve_stops_promptly_with_an_sse_client_connected(tmp_path: Path) -> None:
    """SIGTERM while a client streams /cep/events/stream: the stream ends at once and the
    server shuts down cleanly, well before uvicorn's 5 s cut-off."""
    port = free_port()
    env = {**os.environ, "CEPKIT_DASHBOARDS": "false"}
    log_path = tmp_path / "serve.log"
    command = [sys.executable, "-m", "cepkit.cli", "serve", "--db", str(tmp_path / "s.db")]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            timeout = httpx.Timeout(5, read=30)
            with httpx.Client(base_url=base, timeout=timeout) as client:
                while True:
                    try:
                        client.get("/cep/rules").raise_for_status()
                        break
                    except httpx.TransportError:
                        assert process.poll() is None and time.monotonic() < deadline
                        time.sleep(0.1)
                with client.stream("GET", "/cep/events/stream") as stream:
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
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
