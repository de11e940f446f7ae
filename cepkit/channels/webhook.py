"""Generic webhook channel: ``POST {url}`` with the message as a JSON object.

Configured headers (e.g. ``Authorization``) are secrets: sent, never shown.

>>> from cepkit.channels.base import Message
>>> body = webhook_payload(Message(text="cpu=92", severity="high", rule_name="cpu"))
>>> body["text"], body["severity"], body["source"], sorted(body)[:3]
('cpu=92', 'high', 'cepkit', ['event_time', 'firing_id', 'rule_id'])
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from cepkit.channels import WebhookChannelConfig
from cepkit.channels.base import Message, Outcome, Sender, http_send, url_secrets

__all__ = ["WebhookSender", "webhook_payload"]


def webhook_payload(message: Message) -> dict[str, Any]:
    """The JSON body: every field of the message plus ``source``."""
    return {**message.model_dump(mode="json"), "source": "cepkit"}


class WebhookSender(Sender):
    """Posts the message to any HTTP endpoint."""

    channel = "Webhook"
    config_model = WebhookChannelConfig
    config: WebhookChannelConfig

    def targets(self) -> list[str]:
        return [self.config.url]

    def secrets(self) -> list[str]:
        return [*super().secrets(), *url_secrets(self.config.url)]

    def describe(self) -> str:
        parts = urlsplit(self.config.url)
        return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"

    async def send(self, message: Message) -> Outcome:
        headers = {name: value.get_secret_value() for name, value in self.config.headers.items()}
        return await http_send(
            self.context,
            "POST",
            self.config.url,
            what="Webhook URL",
            json=webhook_payload(message),
            headers=headers,
        )
