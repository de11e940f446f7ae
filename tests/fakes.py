"""Real local stand-ins for remote services (Slack, Discord, Twilio, webhooks, SMTP).

:class:`FakeService` is an HTTP server on 127.0.0.1 (a thread) whose answers are set per
path: a sequence of statuses (the last one repeats), a body, a ``Retry-After``, a delay
before answering; every request is recorded. :class:`SmtpServer` runs ``aiosmtpd``
(plain, STARTTLS or implicit TLS, optional login) and keeps the messages it accepted.
:class:`FakeSleep` records the waits a dispatcher asks for and moves a fake clock.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from cepkit.channels.http import HttpClient
from cepkit.clock import FakeClock
from cepkit.firing import Firing
from cepkit.rules import Rule


def free_port() -> int:
    """A TCP port on 127.0.0.1 with nothing listening (for "connection refused")."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Route:
    statuses: list[int]
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    served: int = 0

    def next_status(self) -> int:
        status = self.statuses[min(self.served, len(self.statuses) - 1)]
        self.served += 1
        return status


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


class FakeService:
    """An HTTP server answering like the service a test needs (HTTPS with ``tls``, a
    server context)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                with service._lock:
                    service.requests.append(
                        Request(
                            method=self.command,
                            path=parts.path,
                            query=parse_qs(parts.query),
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=body,
                        )
                    )
                    route = service.routes.get(parts.path)
                    status = route.next_status() if route else 404
                if route and route.delay:
                    time.sleep(route.delay)
                payload = (route.body if route else "").encode()
                self.send_response(status)
                for name, value in (route.headers if route else {}).items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that timed out and left is expected here

        self._server = Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def route(
        self,
        path: str,
        *statuses: int,
        body: str = "",
        retry_after: str | None = None,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Answer ``path`` with ``statuses`` in turn (the last repeats); returns its URL."""
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = retry_after
        with self._lock:
            self.routes[path] = Route(list(statuses) or [200], body, extra, delay)
        return self.url(path)

    def hits(self, path: str) -> list[Request]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class FakeSleep:
    """An async sleep that only records (and moves the fake clock)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds)
        await asyncio.sleep(0)


# -- SMTP --------------------------------------------------------------------------------


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost and its key, made by the openssl CLI."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ]
    subprocess.run(
        [*command, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class SmtpServer:
    """An aiosmtpd server; ``messages`` are (envelope sender, recipients, raw bytes)."""

    port: int
    messages: list[tuple[str, list[str], bytes]]
    controller: Any
    reply: list[str | None]

    def close(self) -> None:
        self.controller.stop()


class _Handler:
    def __init__(self, server_reply: list[str | None], messages: list[Any]) -> None:
        self.reply = server_reply
        self.messages = messages

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply[0] is not None:
            return self.reply[0]
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def start_smtp(
    *,
    tls: ssl.SSLContext | None = None,
    implicit_tls: bool = False,
    login: tuple[str, str] | None = None,
) -> SmtpServer:
    """Start aiosmtpd on a free port: STARTTLS offered when ``tls`` is given (or implicit
    TLS with ``implicit_tls``); with ``login``, AUTH is required and checked."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    messages: list[tuple[str, list[str], bytes]] = []
    reply: list[str | None] = [None]
    kwargs: dict[str, Any] = {}
    if login is not None:

        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and (
                    data.login.decode(),
                    data.password.decode(),
                )
                == login
            )
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticator, auth_required=not implicit_tls)
    if tls is not None and implicit_tls:
        # aiosmtpd does not count implicit TLS as TLS: AUTH is offered, not required
        kwargs.update(ssl_context=tls, auth_require_tls=False)
    elif tls is not None:
        kwargs.update(tls_context=tls)
    port = free_port()
    controller = Controller(
        _Handler(reply, messages), hostname="127.0.0.1", port=port, ready_timeout=5, **kwargs
    )
    controller.start()
    return SmtpServer(port=port, messages=messages, controller=controller, reply=reply)


def tls_contexts(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for TLS tests."""
    cert, key = self_signed_cert(folder)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


# -- fixtures (imported by the conftest of each test folder that uses them) -----------------


@pytest.fixture
def service() -> Iterator[FakeService]:
    """A fake HTTP service on 127.0.0.1; route paths with ``service.route(...)``."""
    fake = FakeService()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def sleep(clock: FakeClock) -> FakeSleep:
    """Records retry waits and moves the test clock by them."""
    return FakeSleep(clock)


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server, client) TLS contexts around a fresh self-signed certificate."""
    return tls_contexts(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A plain SMTP server (no TLS, no login)."""
    server = start_smtp()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def smtp_starttls(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> Iterator[SmtpServer]:
    """An SMTP server offering STARTTLS and requiring login ``alerts`` / ``s3cret-pw``."""
    server = start_smtp(tls=tls[0], login=("alerts", "s3cret-pw"))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def smtp_ssl(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> Iterator[SmtpServer]:
    """An SMTP server over implicit TLS requiring login ``alerts`` / ``s3cret-pw``."""
    server = start_smtp(tls=tls[0], implicit_tls=True, login=("alerts", "s3cret-pw"))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    """An HTTP client closed after the test."""
    async with HttpClient() as client:
        yield client


# -- rules and firings -------------------------------------------------------------------

#: 2026-02-08T10:30:00Z, the tests' clock start
EVENT_TIME = 1770546600.0


def make_rule(*actions: dict[str, Any], **fields: Any) -> Rule:
    """An event rule with ``actions`` (dicts as in the guide)."""
    document = {
        "rule_name": "cpu_high",
        "trigger_type": "event",
        "trigger_spec": {},
        "severity": "high",
        "actions": list(actions),
        **fields,
    }
    return Rule.model_validate(document)


def make_firing(rule: Rule, **values: Any) -> Firing:
    """A firing of ``rule`` at :data:`EVENT_TIME` with aggregation ``values``."""
    return Firing.build(
        rule_key=rule.rule_id or rule.rule_name,
        rule_id=rule.rule_id,
        rule_name=rule.rule_name,
        severity=rule.severity,
        event_time=EVENT_TIME,
        values=values,
    )
