"""The ``notify`` action: render the message once, deliver it to every channel.

Each channel is one delivery (its own retries and its ``channel:<name>`` breaker),
all channels at once. When a channel finally fails, is not configured or its breaker
is open, the message goes once through ``fallback_channel`` (unless that channel
already delivered it) and both results are kept. A template error fails every
channel without contacting any (and without a fallback: it would fail the same way).

>>> import asyncio
>>> from cepkit.channels.http import HttpClient
>>> from cepkit.actions import Dispatcher
>>> from cepkit.clock import FakeClock
>>> from cepkit.firing import Firing
>>> from cepkit.rules import Rule
>>> rule = Rule.model_validate({"rule_name": "api", "trigger_type": "event",
...     "trigger_spec": {}, "actions": [{"type": "notify", "channels": ["Slack"],
...     "fallback_channel": "Email", "message": "{{severity}} - {{summary}}"}]})
>>> firing = Firing.build(rule_key="api", rule_name="api", severity="high", event_time=0)
>>> async def main():
...     async with HttpClient() as client:
...         dispatcher = Dispatcher(client=client, channels=lambda name: None,
...                                 clock=FakeClock())
...         return await dispatcher.execute(rule, firing, {"severity": "critical"})
>>> (slack,) = asyncio.run(main()).actions
>>> slack.error, slack.attempts, slack.fallback_used
('template error: summary: undefined name in template (the payload has no such field)', [], False)
"""

from __future__ import annotations

import asyncio

from cepkit.actions.results import ActionResult, Attempt, BreakerName, DeadLetter, Role
from cepkit.actions.runtime import Job, Redactor, Runtime, settings_for
from cepkit.channels.base import Message, Outcome, SendContext
from cepkit.channels.senders import build_sender
from cepkit.errors import ChannelError, TemplateError
from cepkit.rules.actions import NotifyAction
from cepkit.templates import render

__all__ = ["deliver_channel", "run_notify"]


def _message(action: NotifyAction, job: Job) -> Message:
    firing = job.firing
    return Message(
        text=render(action.message, job.context),
        subject=render(action.subject, job.context) if action.subject else None,
        severity=firing.severity,
        rule_name=firing.rule_name,
        rule_id=firing.rule_id or job.rule.rule_id,
        firing_id=firing.firing_id,
        event_time=firing.event_time,
    )


async def deliver_channel(
    rt: Runtime,
    job: Job,
    index: int,
    action: NotifyAction,
    channel: str,
    message: Message | None,
    *,
    role: Role = "primary",
    redo: DeadLetter | None = None,
    error: str | None = None,
) -> ActionResult:
    """One delivery of ``message`` to ``channel`` (or a failure ``error`` recorded)."""
    target: str | None = channel

    def result(
        error: str | None, attempts: list[Attempt], breaker: BreakerName | None = None
    ) -> ActionResult:
        return rt.result(
            job,
            index,
            "notify",
            error=error,
            attempts=attempts,
            redo=redo,
            role=role,
            channel=channel,
            target=target,
            breaker=breaker,
            keep=role != "fallback",  # a fallback's failure stays on the primary's letter
        )

    if error is not None or message is None:
        return result(error or "no message", [])
    config = rt.channels(channel)
    if config is None:
        return result(f"channel {channel} is not configured", [])
    settings = settings_for(action.action_config, job.rule.action_config, channel, "notify")
    context = SendContext(
        client=rt.client, clock=rt.clock, timeout=settings.timeout, ssl_context=rt.smtp_ssl_context
    )
    try:
        sender = build_sender(channel, config, context)
    except ChannelError as exc:
        return result(str(exc), [])
    redactor = Redactor(sender.secrets())
    target = sender.describe()
    for url in sender.targets():
        try:
            await rt.policy.check(url)
        except ChannelError as exc:
            return result(redactor.redact(str(exc)), [])

    async def attempt() -> Outcome:
        return await sender.send(message)

    delivery = await rt.deliver(
        attempt,
        settings=settings,
        redactor=redactor,
        target=f"{channel} ({target})" if target != channel else channel,
        breaker_key=f"channel:{channel}",
    )
    failure = None if delivery.ok else delivery.error or "failed"
    return result(failure, delivery.attempts, delivery.breaker)


async def run_notify(
    rt: Runtime, job: Job, index: int, action: NotifyAction, redo: DeadLetter | None
) -> list[ActionResult]:
    """Deliver one notify action to its channels, with the fallback when needed."""
    try:
        message: Message | None = _message(action, job)
        error = None
    except TemplateError as exc:
        message, error = None, f"template error: {exc}"
    if redo is not None:
        channel = redo.channel or action.channels[0]
        return [
            await deliver_channel(
                rt, job, index, action, channel, message, role="retry", redo=redo, error=error
            )
        ]
    primaries = list(
        await asyncio.gather(
            *(
                deliver_channel(rt, job, index, action, channel, message, error=error)
                for channel in action.channels
            )
        )
    )
    failed = [result for result in primaries if result.status == "failed"]
    fallback = action.fallback_channel
    delivered = {result.channel for result in primaries if result.status == "success"}
    if not failed or fallback is None or error is not None or fallback in delivered:
        return primaries
    backup = await deliver_channel(rt, job, index, action, fallback, message, role="fallback")
    return [
        result.model_copy(
            update={
                "fallback": backup,
                "dead_letter": None if backup.status == "success" else result.dead_letter,
            }
        )
        if result.status == "failed"
        else result
        for result in primaries
    ]
