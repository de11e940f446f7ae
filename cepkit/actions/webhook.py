"""The ``webhook`` action: call an HTTP endpoint with a rendered body.

``body`` may be a template string (sent as JSON when it renders to JSON, else as
text) or a JSON object/list whose strings are templates (a string that is a single
``{{name}}`` keeps its type). Without a body, POST and PUT send the firing as JSON;
GET and DELETE send none. Headers (an ``Authorization`` header, say) are sent as
given and never reported; query values of the endpoint are treated as secrets too.
The circuit breaker is per endpoint host (``webhook:host:port``); the timeout is the
action's ``timeout_seconds`` (10 s by default).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from cepkit.actions.results import ActionResult, Attempt, BreakerName, DeadLetter, Role
from cepkit.actions.runtime import Job, Redactor, Runtime, firing_record, settings_for
from cepkit.channels.base import Outcome, SendContext, http_send, url_secrets
from cepkit.errors import ChannelError, TemplateError
from cepkit.rules.actions import WebhookAction
from cepkit.templates import render_data

__all__ = ["breaker_key", "describe_url", "run_webhook"]


def describe_url(url: str) -> str:
    """``scheme://host[:port]/path`` without credentials or query.

    >>> describe_url("https://user:pw@api.example.com:8443/alerts?token=x")
    'https://api.example.com:8443/alerts'
    """
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def breaker_key(url: str) -> str:
    """``webhook:host:port`` (default ports filled in)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"webhook:{(parts.hostname or '').lower()}:{port}"


def _body(action: WebhookAction, job: Job) -> dict[str, Any]:
    if action.body is None:
        if action.method in ("GET", "DELETE"):
            return {}
        return {"json": json.loads(json.dumps(firing_record(job), default=str))}
    rendered = render_data(action.body, job.context)
    if not isinstance(rendered, str):
        return {"json": rendered}
    try:
        return {"json": json.loads(rendered)}
    except ValueError:
        return {"content": rendered.encode(), "headers": {"content-type": "text/plain"}}


async def run_webhook(
    rt: Runtime, job: Job, index: int, action: WebhookAction, redo: DeadLetter | None
) -> list[ActionResult]:
    """Deliver one webhook action (with retries and the host's breaker)."""
    target = describe_url(action.endpoint)
    redactor = Redactor([*action.headers.values(), *url_secrets(action.endpoint)])
    role: Role = "retry" if redo else "primary"

    def result(
        error: str | None, attempts: list[Attempt], breaker: BreakerName | None = None
    ) -> ActionResult:
        return rt.result(
            job,
            index,
            "webhook",
            error=error,
            attempts=attempts,
            redo=redo,
            role=role,
            target=target,
            breaker=breaker,
        )

    try:
        request = _body(action, job)
    except TemplateError as exc:
        return [result(f"template error: {exc}", [])]
    try:
        await rt.policy.check(action.endpoint)
    except ChannelError as exc:
        return [result(str(exc), [])]
    settings = settings_for(action.action_config, job.rule.action_config, "webhook")
    if "timeout_seconds" in action.model_fields_set:
        settings = replace(settings, timeout=action.timeout_seconds)
    headers = {**request.pop("headers", {}), **action.headers}
    context = SendContext(client=rt.client, clock=rt.clock, timeout=settings.timeout)

    async def attempt() -> Outcome:
        return await http_send(
            context, action.method, action.endpoint, what="Endpoint", headers=headers, **request
        )

    delivery = await rt.deliver(
        attempt,
        settings=settings,
        redactor=redactor,
        target=target,
        breaker_key=breaker_key(action.endpoint),
    )
    error = None if delivery.ok else delivery.error or "failed"
    return [result(error, delivery.attempts, delivery.breaker)]
