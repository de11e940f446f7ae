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

import functools
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


@functools.lru_cache(maxsize=1024)
def _endpoint(url: str) -> tuple[str, str]:
    """What a delivery to ``url`` reports and which breaker it takes (pure: kept)."""
    return describe_url(url), breaker_key(url)


@functools.lru_cache(maxsize=1024)
def _redactor(secrets: tuple[str, ...]) -> Redactor:
    return Redactor(secrets)


@functools.lru_cache(maxsize=1024)
def _url_secrets(url: str) -> tuple[str, ...]:
    return tuple(url_secrets(url))


_PLAIN = (str, int, bool, type(None))


def _is_plain(value: Any) -> bool:
    """Whether ``value`` reads back from JSON as itself: JSON's types exactly (no
    subclass), finite floats, lists or tuples of them and objects with text keys.
    Sending such a value is sending its JSON round trip (``default=str`` not needed).

    >>> _is_plain({"a": [1, 2.5, None, True, ("x",)]}), _is_plain({1: "a"})
    (True, False)
    >>> _is_plain({"t": float("nan")}), _is_plain({"when": object()})
    (False, False)
    """
    kind = type(value)
    if kind in _PLAIN:
        return True
    if kind is float:
        return bool(value - value == 0.0)  # not NaN or an infinity
    if kind is dict:
        return all(type(key) is str and _is_plain(item) for key, item in value.items())
    if kind is list or kind is tuple:
        return all(_is_plain(item) for item in value)
    return False


def _body(action: WebhookAction, job: Job) -> dict[str, Any]:
    if action.body is None:
        if action.method in ("GET", "DELETE"):
            return {}
        record = firing_record(job)
        if _is_plain(record):  # its JSON round trip is itself: spared
            return {"json": record}
        return {"json": json.loads(json.dumps(record, default=str))}
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
    target, breaker_name = _endpoint(action.endpoint)
    redactor = _redactor((*action.headers.values(), *_url_secrets(action.endpoint)))
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
        breaker_key=breaker_name,
    )
    error = None if delivery.ok else delivery.error or "failed"
    return [result(error, delivery.attempts, delivery.breaker)]
