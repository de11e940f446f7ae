"""SMS through an HTTP provider with Twilio's REST shape.

One ``POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`` per recipient,
form-encoded ``To``, ``From``, ``Body``, HTTP basic auth ``account_sid:api_key``.
``base_url`` defaults to Twilio's; any provider speaking the same shape works. A
retried attempt only goes to the recipients that have not received the message yet.

>>> from cepkit.channels.base import Message
>>> sms_form(Message(text="disk full", severity="critical"), "+8210", "+8299")
{'To': '+8299', 'From': '+8210', 'Body': '[CRITICAL] disk full'}
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from cepkit.channels import SMSConfig
from cepkit.channels.base import Message, Outcome, SendContext, Sender, http_send

__all__ = ["SMS_LIMIT", "TWILIO_BASE_URL", "SMSSender", "sms_form"]

TWILIO_BASE_URL = "https://api.twilio.com"
#: Twilio's maximum body length
SMS_LIMIT = 1600


def sms_form(message: Message, from_number: str, to_number: str) -> dict[str, str]:
    """The form fields of one message (a severity prefix, the text, cut at the limit)."""
    prefix = f"[{message.severity.upper()}] " if message.severity else ""
    body = prefix + (f"{message.subject}: " if message.subject else "") + message.text
    if len(body) > SMS_LIMIT:
        body = body[: SMS_LIMIT - 1] + "…"
    return {"To": to_number, "From": from_number, "Body": body}


class SMSSender(Sender):
    """Sends one SMS per recipient through a Twilio-shaped REST API."""

    channel = "SMS"
    config_model = SMSConfig
    config: SMSConfig

    def __init__(self, config: SMSConfig, context: SendContext) -> None:
        super().__init__(config, context)
        self._delivered: set[str] = set()

    def _base(self) -> str:
        return (self.config.base_url or TWILIO_BASE_URL).rstrip("/")

    def targets(self) -> list[str]:
        return [self._base()]

    def describe(self) -> str:
        host = urlsplit(self._base()).hostname or ""
        return f"{self.config.provider} ({host}), {len(self.config.to_numbers)} recipient(s)"

    async def send(self, message: Message) -> Outcome:
        sid = self.config.account_sid
        if not sid:
            return Outcome(
                ok=False,
                error=f"SMS provider {self.config.provider!r} needs account_sid (Twilio API shape)",
                contacted=False,
            )
        url = f"{self._base()}/2010-04-01/Accounts/{quote(sid, safe='')}/Messages.json"
        auth = (sid, self.config.api_key.get_secret_value())
        pending = [number for number in self.config.to_numbers if number not in self._delivered]
        failures: list[Outcome] = []
        last = Outcome(ok=True)
        for number in pending:
            form = sms_form(message, self.config.from_number, number)
            last = await http_send(
                self.context, "POST", url, what="SMS API URL", data=form, auth=auth
            )
            if last.ok:
                self._delivered.add(number)
            else:
                failures.append(last)
        if not failures:
            return last
        first = failures[0]
        total = len(self.config.to_numbers)
        note = f" ({len(failures)} of {total} recipients failed)" if total > 1 else ""
        return first.model_copy(update={"error": f"{first.error}{note}"})
