"""SMS sender against a local fake of Twilio's Messages API."""

from __future__ import annotations

import base64

import pytest

from cepkit.channels import SMSConfig
from cepkit.channels.base import Message, SendContext
from cepkit.channels.http import HttpClient
from cepkit.channels.sms import SMS_LIMIT, SMSSender, sms_form
from cepkit.clock import FakeClock
from tests.fakes import FakeService

pytestmark = pytest.mark.anyio

PATH = "/2010-04-01/Accounts/AC123/Messages.json"


def config(service: FakeService, **extra: object) -> SMSConfig:
    return SMSConfig.model_validate(
        {
            "provider": "twilio",
            "api_key": "twilio-token-xyz",
            "account_sid": "AC123",
            "base_url": service.url(),
            "from_number": "+821012345678",
            "to_numbers": ["+821087654321", "+821011112222"],
            **extra,
        }
    )


def test_body_is_prefixed_and_cut() -> None:
    form = sms_form(Message(text="y" * 2000, severity="high"), "+1", "+2")
    assert form["Body"].startswith("[HIGH] y") and len(form["Body"]) == SMS_LIMIT


async def test_one_form_post_per_recipient_with_basic_auth(
    service: FakeService, http: HttpClient, clock: FakeClock
) -> None:
    service.route(PATH, 201, body='{"sid": "SM1", "status": "queued"}')
    sender = SMSSender(config(service), SendContext(http, clock))
    outcome = await sender.send(Message(text="disk full", severity="critical"))
    assert outcome.ok
    first, second = service.hits(PATH)
    assert first.form == {
        "To": "+821087654321",
        "From": "+821012345678",
        "Body": "[CRITICAL] disk full",
    }
    assert second.form["To"] == "+821011112222"
    expected = base64.b64encode(b"AC123:twilio-token-xyz").decode()
    assert first.headers["authorization"] == f"Basic {expected}"
    assert first.headers["content-type"] == "application/x-www-form-urlencoded"


async def test_a_retry_only_goes_to_who_did_not_get_it(
    service: FakeService, http: HttpClient, clock: FakeClock
) -> None:
    service.route(PATH, 201, 503, 201)
    sender = SMSSender(config(service), SendContext(http, clock))
    first = await sender.send(Message(text="x"))
    assert first.status_code == 503 and first.retryable
    assert first.error == "HTTP 503: Service Unavailable (1 of 2 recipients failed)"
    assert (await sender.send(Message(text="x"))).ok
    assert [hit.form["To"] for hit in service.hits(PATH)] == [
        "+821087654321",
        "+821011112222",
        "+821011112222",
    ]


async def test_twilio_error_message_is_shown(
    service: FakeService, http: HttpClient, clock: FakeClock
) -> None:
    service.route(PATH, 401, body='{"code": 20003, "message": "Authenticate", "status": 401}')
    outcome = await SMSSender(config(service), SendContext(http, clock)).send(Message(text="x"))
    assert outcome.error == (
        "HTTP 401: Unauthorized (check the token or API key) (Authenticate)"
        " (2 of 2 recipients failed)"
    )
    assert not outcome.retryable


async def test_account_sid_is_required(
    service: FakeService, http: HttpClient, clock: FakeClock
) -> None:
    sender = SMSSender(config(service, account_sid=None), SendContext(http, clock))
    outcome = await sender.send(Message(text="x"))
    assert not outcome.ok and not outcome.contacted and "account_sid" in (outcome.error or "")
    assert service.requests == []
