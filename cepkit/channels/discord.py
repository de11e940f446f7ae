"""Discord webhook: ``POST {webhook_url}`` with ``content`` (at most 2000 characters).

Mentions in alert text never ping anyone (``allowed_mentions`` is empty); a subject
becomes a bold first line.

>>> from cepkit.channels.base import Message
>>> discord_payload(Message(text="@everyone disk full", subject="Disk"))
{'content': '**Disk**\\n@everyone disk full', 'allowed_mentions': {'parse': []}}
"""

from __future__ import annotations

from typing import Any

from cepkit.channels import DiscordConfig
from cepkit.channels.base import Message, Outcome, Sender, http_send

__all__ = ["DISCORD_LIMIT", "DiscordSender", "discord_payload"]

#: Discord rejects a message whose content is longer than this
DISCORD_LIMIT = 2000


def discord_payload(message: Message) -> dict[str, Any]:
    """The JSON body Discord's execute-webhook endpoint expects."""
    content = f"**{message.subject}**\n{message.text}" if message.subject else message.text
    if len(content) > DISCORD_LIMIT:
        content = content[: DISCORD_LIMIT - 1] + "…"
    return {"content": content, "allowed_mentions": {"parse": []}}


class DiscordSender(Sender):
    """Posts to a Discord webhook (the URL itself is the secret)."""

    channel = "Discord"
    config_model = DiscordConfig
    config: DiscordConfig

    def targets(self) -> list[str]:
        return [self.config.webhook_url.get_secret_value()]

    async def send(self, message: Message) -> Outcome:
        url = self.config.webhook_url.get_secret_value()
        return await http_send(
            self.context, "POST", url, what="Webhook URL", json=discord_payload(message)
        )
