"""Email over SMTP: STARTTLS (587) or implicit TLS (465), optional login, many recipients.

The message is ``text/plain`` UTF-8; the subject is the notification's subject or
``[SEVERITY] rule_name``. ``smtplib`` runs in a worker thread with the attempt's timeout.
Credentials are never sent over a connection without TLS. SMTP reply codes are
reported like HTTP statuses: 4xx replies are retried, 5xx (authentication, refused
recipients) are not.

>>> from cepkit.channels import EmailConfig
>>> from cepkit.channels.base import Message
>>> config = EmailConfig.model_validate({"smtp_host": "smtp.example.com",
...     "from": "cep@example.com", "to": ["ops@example.com", "sre@example.com"]})
>>> msg = email_message(config, Message(text="cpu=92", severity="high", rule_name="cpu"))
>>> msg["Subject"], msg["To"]
('[HIGH] cpu', 'ops@example.com, sre@example.com')
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from cepkit.channels import EmailConfig
from cepkit.channels.base import Message, Outcome, Sender

__all__ = ["EmailSender", "email_message"]


def email_message(
    config: EmailConfig, message: Message, now: datetime | None = None
) -> EmailMessage:
    """The RFC 5322 message sent to every recipient."""
    subject = message.subject
    if not subject:
        severity = f"[{message.severity.upper()}] " if message.severity else ""
        subject = f"{severity}{message.rule_name or 'CEP alert'}"
    msg = EmailMessage()
    msg["Subject"] = " ".join(subject.split())
    msg["From"] = config.from_
    msg["To"] = ", ".join(config.to)
    if now is not None:
        msg["Date"] = format_datetime(now)
    domain = config.from_.rpartition("@")[2] or None
    msg["Message-ID"] = make_msgid(domain=domain)
    msg.set_content(message.text)
    return msg


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
    return " ".join(text.split())[:120]


class EmailSender(Sender):
    """Sends through an SMTP server (``smtplib``, in a thread)."""

    channel = "Email"
    config_model = EmailConfig
    config: EmailConfig

    def targets(self) -> list[str]:
        return [f"smtp://{self.config.smtp_host}:{self.config.smtp_port}"]

    def describe(self) -> str:
        return (
            f"{self.config.smtp_host}:{self.config.smtp_port}, {len(self.config.to)} recipient(s)"
        )

    async def send(self, message: Message) -> Outcome:
        msg = email_message(self.config, message, self.context.clock.now())
        return await asyncio.to_thread(self._deliver, msg)

    def _connect(self, tls: ssl.SSLContext) -> smtplib.SMTP:
        cfg, timeout = self.config, self.context.timeout
        if cfg.use_ssl:
            return smtplib.SMTP_SSL(cfg.smtp_host, cfg.smtp_port, timeout=timeout, context=tls)
        return smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=timeout)

    def _deliver(self, msg: EmailMessage) -> Outcome:
        cfg = self.config
        tls = self.context.ssl_context or ssl.create_default_context()
        try:
            with self._connect(tls) as smtp:
                smtp.ehlo()
                if not cfg.use_ssl and cfg.starttls:
                    if not smtp.has_extn("starttls"):
                        return Outcome(ok=False, error="SMTP server does not offer STARTTLS")
                    smtp.starttls(context=tls)
                    smtp.ehlo()
                if cfg.username:
                    if not (cfg.use_ssl or cfg.starttls):
                        return Outcome(
                            ok=False,
                            error="refusing to send SMTP credentials without TLS "
                            "(enable starttls or use_ssl)",
                            contacted=False,
                        )
                    password = cfg.password.get_secret_value() if cfg.password else ""
                    smtp.login(cfg.username, password)
                refused = smtp.send_message(msg)
        except smtplib.SMTPAuthenticationError as exc:
            return Outcome(
                ok=False,
                status_code=exc.smtp_code,
                error=f"SMTP {exc.smtp_code}: authentication failed",
            )
        except smtplib.SMTPRecipientsRefused as exc:
            return Outcome(ok=False, error=f"SMTP: all {len(exc.recipients)} recipient(s) refused")
        except smtplib.SMTPResponseException as exc:
            code = exc.smtp_code
            return Outcome(
                ok=False,
                status_code=code,
                error=f"SMTP {code}: {_reply(exc)}".rstrip(": "),
                retryable=400 <= code < 500,
            )
        except TimeoutError:
            error = f"SMTP: Timed out after {self.context.timeout:g} s"
            return Outcome(ok=False, error=error, retryable=True)
        except smtplib.SMTPServerDisconnected as exc:
            return Outcome(ok=False, error=f"SMTP: disconnected ({exc})", retryable=True)
        except ssl.SSLError as exc:
            return Outcome(ok=False, error=f"SMTP TLS error: {exc.reason or exc}")
        except (OSError, smtplib.SMTPException) as exc:
            return Outcome(ok=False, error=f"Connection failed: {exc}", retryable=True)
        if refused:
            return Outcome(
                ok=False, error=f"SMTP: {len(refused)} of {len(cfg.to)} recipient(s) refused"
            )
        return Outcome(ok=True, status_code=250)
