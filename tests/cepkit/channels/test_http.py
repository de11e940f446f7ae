"""The delivery HTTP client (one aiohttp session per loop) and what ``http_send`` sends."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest

from cepkit.channels.base import SendContext, http_send
from cepkit.channels.http import HttpClient
from cepkit.clock import FakeClock
from tests.fakes import FakeService

pytestmark = pytest.mark.anyio


@pytest.fixture
def other_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in another thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


async def test_each_loop_has_its_own_session_and_aclose_closes_all(
    service: FakeService, clock: FakeClock, other_loop: asyncio.AbstractEventLoop
) -> None:
    url = service.route("/hook", 200)
    client = HttpClient()
    context = SendContext(client, clock)

    async def there() -> tuple[bool, object]:
        outcome = await http_send(context, "POST", url, json={"n": 2})
        return outcome.ok, client.session()

    here_ok = (await http_send(context, "POST", url, json={"n": 1})).ok
    there_ok, there_session = await asyncio.wrap_future(
        asyncio.run_coroutine_threadsafe(there(), other_loop)
    )
    here_session = client.session()
    assert here_ok and there_ok and there_session is not here_session
    assert [hit.json for hit in service.hits("/hook")] == [{"n": 1}, {"n": 2}]
    await client.aclose()
    assert here_session.closed and getattr(there_session, "closed", False)
    with pytest.raises(RuntimeError, match="closed"):
        client.session()


async def test_json_form_and_basic_auth_as_httpx_sent_them(
    service: FakeService, http: HttpClient, clock: FakeClock
) -> None:
    url = service.route("/hook", 200)
    context = SendContext(http, clock)
    assert (await http_send(context, "POST", url, json={"text": "café", "n": [1, 2]})).ok
    headers = {"authorization": "Bearer old", "x-tag": "a"}
    form = {"To": "+82 10", "Body": "a&b"}
    auth = ("AC1", "ké")
    assert (await http_send(context, "POST", url, data=form, headers=headers, auth=auth)).ok
    assert (await http_send(context, "PUT", url, content=b"plain")).ok
    sent_json, sent_form, sent_bytes = service.hits("/hook")
    assert sent_json.body == '{"text":"café","n":[1,2]}'.encode()
    assert sent_json.headers["content-type"] == "application/json"
    assert sent_form.form == form and sent_form.headers["x-tag"] == "a"
    assert sent_form.headers["authorization"] == "Basic QUMxOmvDqQ=="  # utf-8, replaces
    assert (sent_bytes.method, sent_bytes.body) == ("PUT", b"plain")


async def test_nan_is_not_sent(service: FakeService, http: HttpClient, clock: FakeClock) -> None:
    url = service.route("/hook", 200)
    with pytest.raises(ValueError, match="JSON"):
        await http_send(SendContext(http, clock), "POST", url, json={"x": float("nan")})
    assert service.hits("/hook") == []


async def test_error_body_hint_and_retry_after(
    service: FakeService, http: HttpClient, clock: FakeClock
) -> None:
    body = '{"message": "slow\\n   down", "code": 7}'
    url = service.route("/hook", 429, body=body, retry_after="3")
    outcome = await http_send(SendContext(http, clock), "POST", url, json={})
    assert outcome.error == "HTTP 429: Rate limited (slow down)"
    assert (outcome.retryable, outcome.retry_after, outcome.status_code) == (True, "3", 429)


async def test_proxy_from_the_environment(
    service: FakeService, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.route("/proxied", 204)
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", service.url().replace("//", "//ops:p%40ss@"))
    target = "http://hooks.example.invalid/proxied"
    async with HttpClient() as client:
        outcome = await http_send(SendContext(client, clock), "POST", target, json={})
    assert outcome.ok and outcome.status_code == 204
    (hit,) = service.hits("/proxied")
    assert hit.headers["host"] == "hooks.example.invalid"
    assert hit.headers["proxy-authorization"] == "Basic b3BzOnBAc3M="  # ops:p@ss


@pytest.mark.parametrize("no_proxy", ["example.invalid", ".example.invalid", "*"])
async def test_no_proxy(
    no_proxy: str, service: FakeService, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.route("/proxied", 204)
    monkeypatch.setenv("HTTP_PROXY", service.url())
    monkeypatch.setenv("NO_PROXY", f"10.0.0.0/8, {no_proxy}")
    monkeypatch.delenv("no_proxy", raising=False)
    target = "http://hooks.example.invalid/proxied"
    async with HttpClient() as client:
        outcome = await http_send(SendContext(client, clock), "POST", target, json={})
    assert (outcome.error or "").startswith("Connection failed") and outcome.retryable
    assert service.hits("/proxied") == []


async def test_tls_is_verified_unless_trusted(
    tls: tuple[ssl.SSLContext, ssl.SSLContext], clock: FakeClock
) -> None:
    service = FakeService(tls=tls[0])
    try:
        url = service.route("/hook", 200)
        async with HttpClient() as default:
            refused = await http_send(SendContext(default, clock), "POST", url, json={})
        async with HttpClient(ssl_context=tls[1]) as trusting:
            trusted = await http_send(SendContext(trusting, clock), "POST", url, json={})
    finally:
        service.close()
    assert refused.retryable and "certificate verify failed" in (refused.error or "")
    assert trusted.ok and len(service.hits("/hook")) == 1


async def test_errors_never_quote_the_url(http: HttpClient, clock: FakeClock) -> None:
    with socket.socket() as listener:  # answers anything with a broken status line
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"garbage\r\n\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        port = listener.getsockname()[1]
        context = SendContext(http, clock)
        broken = await http_send(context, "GET", f"http://127.0.0.1:{port}/x?token=s3cret")
        thread.join(timeout=5)
    assert (broken.error or "").startswith("Connection failed: Bad status line")
    assert broken.retryable and "\n" not in (broken.error or "")
    invalid = await http_send(context, "POST", "https://user:s3cret@[::1/x")
    assert (invalid.error, invalid.contacted) == ("Invalid URL: Invalid IPv6 URL", False)
    port = await http_send(context, "POST", "http://h:99999/x?token=s3cret")
    assert (port.error, port.contacted) == ("Invalid URL: Port out of range 0-65535", False)
    for outcome in (broken, invalid, port):
        assert "s3cret" not in (outcome.error or "")
