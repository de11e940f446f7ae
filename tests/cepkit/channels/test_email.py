"""Email sender against a real SMTP server (aiosmtpd): plain, STARTTLS, implicit TLS."""

from __future__ import annotations

import ssl
from email import message_from_bytes
from email.message import Message as EmailMessage
from typing import Any

import pytest

from cepkit.channels import EmailConfig
from cepkit.channels.base import Message, SendContext
from cepkit.channels.email import EmailSender
from cepkit.channels.http import HttpClient
from cepkit.clock import FakeClock
from tests.fakes import SmtpServer, free_port

pytestmark = pytest.mark.anyio

ALERT = Message(text="disk /var at 97%\nhost: web-01", severity="critical", rule_name="disk_full")
TLS = tuple[ssl.SSLContext, ssl.SSLContext]


def sender(
    port: int,
    http: HttpClient,
    clock: FakeClock,
    tls: ssl.SSLContext | None = None,
    **fields: Any,
) -> EmailSender:
    config = EmailConfig.model_validate(
        {
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "from": "cep-alerts@example.com",
            "to": ["ops@example.com", "sre@example.com"],
            **fields,
        }
    )
    return EmailSender(config, SendContext(http, clock, timeout=5.0, ssl_context=tls))


def parsed(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw)


async def test_plain_delivery_to_every_recipient(
    smtp: SmtpServer, http: HttpClient, clock: FakeClock
) -> None:
    outcome = await sender(smtp.port, http, clock, starttls=False).send(ALERT)
    assert outcome.ok and outcome.status_code == 250
    ((mail_from, rcpts, raw),) = smtp.messages
    assert mail_from == "cep-alerts@example.com"
    assert rcpts == ["ops@example.com", "sre@example.com"]
    message = parsed(raw)
    assert message["Subject"] == "[CRITICAL] disk_full"
    assert message["To"] == "ops@example.com, sre@example.com"
    assert message["Date"] == "Sun, 08 Feb 2026 10:30:00 +0000"
    assert message.get_content_type() == "text/plain"
    body = message.get_payload(decode=True).decode()
    assert body.splitlines() == ["disk /var at 97%", "host: web-01"]


async def test_starttls_with_login(
    smtp_starttls: SmtpServer, tls: TLS, http: HttpClient, clock: FakeClock
) -> None:
    mail = sender(smtp_starttls.port, http, clock, tls[1], username="alerts", password="s3cret-pw")
    outcome = await mail.send(Message(text="hello", subject="Custom subject"))
    assert outcome.ok, outcome.error
    assert parsed(smtp_starttls.messages[0][2])["Subject"] == "Custom subject"


async def test_implicit_tls_with_login(
    smtp_ssl: SmtpServer, tls: TLS, http: HttpClient, clock: FakeClock
) -> None:
    mail = sender(
        smtp_ssl.port, http, clock, tls[1], username="alerts", password="s3cret-pw", use_ssl=True
    )
    assert (await mail.send(ALERT)).ok
    assert len(smtp_ssl.messages) == 1


async def test_wrong_password_is_final(
    smtp_starttls: SmtpServer, tls: TLS, http: HttpClient, clock: FakeClock
) -> None:
    mail = sender(smtp_starttls.port, http, clock, tls[1], username="alerts", password="nope")
    outcome = await mail.send(ALERT)
    assert (outcome.ok, outcome.status_code, outcome.retryable) == (False, 535, False)
    assert outcome.error == "SMTP 535: authentication failed"
    assert smtp_starttls.messages == []


async def test_untrusted_certificate_is_refused(
    smtp_starttls: SmtpServer, http: HttpClient, clock: FakeClock
) -> None:
    mail = sender(smtp_starttls.port, http, clock, None, username="alerts", password="s3cret-pw")
    outcome = await mail.send(ALERT)
    assert not outcome.ok and not outcome.retryable
    assert (outcome.error or "").startswith("SMTP TLS error")


async def test_starttls_required_but_not_offered(
    smtp: SmtpServer, http: HttpClient, clock: FakeClock
) -> None:
    outcome = await sender(smtp.port, http, clock).send(ALERT)
    assert outcome.error == "SMTP server does not offer STARTTLS" and not outcome.retryable
    assert smtp.messages == []


async def test_credentials_never_go_in_clear(
    smtp: SmtpServer, http: HttpClient, clock: FakeClock
) -> None:
    mail = sender(smtp.port, http, clock, starttls=False, username="alerts", password="pw")
    outcome = await mail.send(ALERT)
    assert not outcome.ok and not outcome.contacted
    assert "without TLS" in (outcome.error or "")


async def test_transient_reply_is_retryable(
    smtp: SmtpServer, http: HttpClient, clock: FakeClock
) -> None:
    smtp.reply[0] = "451 4.3.0 Try again later"
    outcome = await sender(smtp.port, http, clock, starttls=False).send(ALERT)
    assert (outcome.status_code, outcome.retryable) == (451, True)
    assert outcome.error == "SMTP 451: 4.3.0 Try again later"
    smtp.reply[0] = "554 5.6.0 Rejected"
    outcome = await sender(smtp.port, http, clock, starttls=False).send(ALERT)
    assert (outcome.status_code, outcome.retryable) == (554, False)


async def test_connection_refused(http: HttpClient, clock: FakeClock) -> None:
    outcome = await sender(free_port(), http, clock, starttls=False).send(ALERT)
    assert not outcome.ok and outcome.retryable
    assert (outcome.error or "").startswith("Connection failed")
