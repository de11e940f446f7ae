"""Slack sender against a local fake of Slack's incoming webhook."""

from __future__ import annotations

import pytest

from cepkit.channels import SlackConfig
from cepkit.channels.base import Message, SendContext
from cepkit.channels.http import HttpClient
from cepkit.channels.slack import SlackSender, slack_payload
from cepkit.clock import FakeClock
from tests.fakes import FakeService, free_port

pytestmark = pytest.mark.anyio

MESSAGE = Message(
    text="cpu=92 > 90 <host a&b>", subject="CPU high", severity="high", rule_name="cpu"
)


def sender(url: str, http: HttpClient, clock: FakeClock, timeout: float = 2.0) -> SlackSender:
    return SlackSender(SlackConfig(webhook_url=url), SendContext(http, clock, timeout))


def test_payload_escapes_and_uses_blocks() -> None:
    body = slack_payload(MESSAGE)
    assert body["text"] == "*CPU high*\ncpu=92 &gt; 90 &lt;host a&amp;b&gt;"
    assert [block["type"] for block in body["blocks"]] == ["header", "section", "context"]
    assert body["blocks"][0]["text"] == {"type": "plain_text", "text": "CPU high"}
    assert body["blocks"][2]["elements"][0]["text"] == "cpu · high"


async def test_posts_json_to_the_webhook(
    service: FakeService, http: HttpClient, clock: FakeClock
) -> None:
    url = service.route("/services/T1/B2/xyz", 200, body="ok")
    outcome = await sender(url, http, clock).send(MESSAGE)
    assert outcome.ok and outcome.status_code == 200
    (request,) = service.hits("/services/T1/B2/xyz")
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.json == slack_payload(MESSAGE)


@pytest.mark.parametrize(
    ("status", "body", "error", "retryable"),
    [
        (404, "no_service", "HTTP 404: Webhook URL not found (no_service)", False),
        (
            403,
            "invalid_token",
            "HTTP 403: Forbidden (check the token or its permissions) (invalid_token)",
            False,
        ),
        (401, "", "HTTP 401: Unauthorized (check the token or API key)", False),
        (400, "invalid_payload", "HTTP 400: Bad Request (invalid_payload)", False),
        (500, "<html>oops</html>", "HTTP 500: Internal Server Error", True),
        (503, "", "HTTP 503: Service Unavailable", True),
    ],
)
async def test_error_statuses(
    service: FakeService,
    http: HttpClient,
    clock: FakeClock,
    status: int,
    body: str,
    error: str,
    retryable: bool,
) -> None:
    url = service.route("/hook", status, body=body)
    outcome = await sender(url, http, clock).send(MESSAGE)
    assert (outcome.ok, outcome.status_code, outcome.error, outcome.retryable) == (
        False,
        status,
        error,
        retryable,
    )


async def test_rate_limit_passes_retry_after(
    service: FakeService, http: HttpClient, clock: FakeClock
) -> None:
    url = service.route("/hook", 429, retry_after="7")
    outcome = await sender(url, http, clock).send(MESSAGE)
    assert (outcome.status_code, outcome.retryable, outcome.retry_after) == (429, True, "7")
    assert outcome.error == "HTTP 429: Rate limited"


async def test_slow_answer_times_out(
    service: FakeService, http: HttpClient, clock: FakeClock
) -> None:
    url = service.route("/hook", 200, delay=1.0)
    outcome = await sender(url, http, clock, timeout=0.2).send(MESSAGE)
    assert (outcome.ok, outcome.retryable, outcome.error) == (False, True, "Timed out after 0.2 s")


async def test_connection_refused_is_retryable(http: HttpClient, clock: FakeClock) -> None:
    outcome = await sender(f"http://127.0.0.1:{free_port()}/hook", http, clock).send(MESSAGE)
    assert not outcome.ok and outcome.retryable and outcome.status_code is None
    assert outcome.error is not None and outcome.error.startswith("Connection failed")


async def test_redirect_is_not_followed(
    service: FakeService, http: HttpClient, clock: FakeClock
) -> None:
    target = service.route("/elsewhere", 200)
    url = service.route("/hook", 302, headers={"Location": target})
    outcome = await sender(url, http, clock).send(MESSAGE)
    assert outcome.error == "HTTP 302: redirect not followed" and not outcome.retryable
    assert service.hits("/elsewhere") == []
