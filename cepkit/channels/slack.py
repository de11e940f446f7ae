"""Slack Incoming Webhook: ``POST {webhook_url}`` with ``text`` and Block Kit blocks.

Slack wants ``&``, ``<`` and ``>`` escaped in message text; the plain ``text`` is the
notification fallback, the blocks carry a header (the subject) and the body as mrkdwn.

>>> from cepkit.channels.base import Message
>>> slack_payload(Message(text="cpu > 90 & rising", subject="CPU high"))["text"]
'*CPU high*\\ncpu &gt; 90 &amp; rising'
"""

from __future__ import annotations

from typing import Any

from cepkit.channels import SlackConfig
from cepkit.channels.base import Message, Outcome, Sender, http_send

__all__ = ["SlackSender", "slack_payload"]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(message: Message) -> dict[str, Any]:
    """The JSON body Slack's incoming webhook expects."""
    body = _escape(message.text)
    text = f"*{_escape(message.subject)}*\n{body}" if message.subject else body
    blocks: list[dict[str, Any]] = []
    if message.subject:
        header = {"type": "plain_text", "text": message.subject[:150]}
        blocks.append({"type": "header", "text": header})
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}})
    context = [part for part in (message.rule_name, message.severity) if part]
    if context:
        line = {"type": "mrkdwn", "text": _escape(" · ".join(context))}
        blocks.append({"type": "context", "elements": [line]})
    return {"text": text, "blocks": blocks}


class SlackSender(Sender):
    """Posts to a Slack Incoming Webhook (the URL itself is the secret)."""

    channel = "Slack"
    config_model = SlackConfig
    config: SlackConfig

    def targets(self) -> list[str]:
        return [self.config.webhook_url.get_secret_value()]

    async def send(self, message: Message) -> Outcome:
        url = self.config.webhook_url.get_secret_value()
        return await http_send(
            self.context, "POST", url, what="Webhook URL", json=slack_payload(message)
        )
