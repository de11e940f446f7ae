"""What every channel sender is: one attempt to deliver one :class:`Message`.

A sender is built per delivery from its validated configuration and a
:class:`SendContext` (the HTTP client, the clock, the timeout, a TLS context for SMTP), and
:meth:`Sender.send` makes **one** attempt and returns an :class:`Outcome`; it never
raises for a failed delivery and never retries: retries, the circuit breaker, target
checks and secret redaction wrap it (``cepkit.actions``). ``Sender.targets`` names the
hosts it will contact, so they can be checked before anything is sent.

>>> outcome = outcome_for_status(404, what="Webhook URL")
>>> outcome.error, outcome.retryable
('HTTP 404: Webhook URL not found', False)
>>> outcome_for_status(503).retryable
True
"""

from __future__ import annotations

import base64
import functools
import json
import ssl
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from pydantic import BaseModel, ConfigDict, SecretStr

from cepkit.channels import ChannelConfig
from cepkit.channels.http import HttpClient
from cepkit.clock import Clock

__all__ = [
    "RETRYABLE_STATUS",
    "Message",
    "Outcome",
    "SendContext",
    "Sender",
    "http_send",
    "outcome_for_status",
    "secret_values",
    "url_secrets",
]

#: HTTP statuses worth another try (rate limits, timeouts, server errors)
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

_PHRASES = {
    401: "Unauthorized (check the token or API key)",
    403: "Forbidden (check the token or its permissions)",
    429: "Rate limited",
}


class Message(BaseModel):
    """A rendered notification: the text plus what a channel may use to format it."""

    model_config = ConfigDict(frozen=True)

    text: str
    subject: str | None = None
    severity: str | None = None
    rule_name: str | None = None
    rule_id: str | None = None
    firing_id: str | None = None
    event_time: datetime | None = None


class Outcome(BaseModel):
    """The result of one attempt.

    ``retry_after`` is the raw ``Retry-After`` header (seconds or an HTTP date);
    ``contacted`` is False when nothing was sent (a configuration problem), which
    does not count against the circuit breaker.
    """

    model_config = ConfigDict(frozen=True)

    ok: bool
    status_code: int | None = None
    error: str | None = None
    retryable: bool = False
    retry_after: str | None = None
    contacted: bool = True


@dataclass(frozen=True)
class SendContext:
    """What a sender may use: the shared HTTP client, the clock, a per-attempt timeout
    (``ssl_context`` is for SMTP; HTTPS is verified by the client's own)."""

    client: HttpClient
    clock: Clock
    timeout: float = 10.0
    ssl_context: ssl.SSLContext | None = None


def _secrets_in(value: Any) -> Iterator[str]:
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        yield secret
        words = secret.split()
        if len(words) > 1:  # "Bearer <token>": the token alone is a secret too
            yield from (word for word in words if len(word) >= 8)
        elif secret.startswith(("http://", "https://")) and len(urlsplit(secret).path) >= 8:
            yield urlsplit(secret).path  # a webhook URL's path is its credential
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _secrets_in(getattr(value, name))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _secrets_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _secrets_in(item)


def secret_values(config: ChannelConfig) -> list[str]:
    """Every ``SecretStr`` value inside a configuration (to redact from any text),
    and the long words of a multi-word one (the token of ``Bearer <token>``).

    >>> from cepkit.channels import SlackConfig, WebhookChannelConfig
    >>> secret_values(SlackConfig(webhook_url="https://hooks.example/T1/B2/xyz"))
    ['https://hooks.example/T1/B2/xyz', '/T1/B2/xyz']
    >>> headers = {"Authorization": "Bearer tok-12345"}
    >>> secret_values(WebhookChannelConfig(url="http://x", headers=headers))
    ['Bearer tok-12345', 'tok-12345']
    """
    return [secret for secret in _secrets_in(config) if secret]


def url_secrets(url: str) -> list[str]:
    """The parts of a URL that may be credentials: the password and query values.

    >>> url_secrets("https://user:pw@example.com/hook?token=abc123")
    ['pw', 'abc123']
    """
    parts = urlsplit(url)
    found = [parts.password] if parts.password else []
    return found + [value for _, value in parse_qsl(parts.query) if value]


class Sender(ABC):
    """One channel's delivery; subclasses set ``channel`` and ``config_model``."""

    channel: ClassVar[str]
    config_model: ClassVar[type[ChannelConfig]]

    def __init__(self, config: ChannelConfig, context: SendContext) -> None:
        if not isinstance(config, self.config_model):
            raise TypeError(
                f"{type(self).__name__} needs a {self.config_model.__name__}, "
                f"got {type(config).__name__}"
            )
        self.config = config
        self.context = context

    @abstractmethod
    async def send(self, message: Message) -> Outcome:
        """Make one delivery attempt."""

    @abstractmethod
    def targets(self) -> list[str]:
        """The URLs (``https://...``, ``smtp://host:port``) this sender will contact."""

    def describe(self) -> str:
        """A target description safe to log and return (no secret in it)."""
        return self.channel

    def secrets(self) -> list[str]:
        """Strings that must never appear in results, errors or logs."""
        return secret_values(self.config)


def _excerpt(body: bytes, charset: str | None) -> str:
    """A short, single-line hint from an error body (Slack's ``no_service``, JSON ``message``)."""
    try:
        text = body.decode(charset or "utf-8", errors="replace").strip()
    except LookupError:  # an unknown charset
        return ""
    if not text or text.startswith("<"):
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        hint = data.get("message") or data.get("error") or data.get("detail")
        text = hint if isinstance(hint, str) else ""
    text = " ".join(text.split())
    return text if len(text) <= 120 else text[:117] + "..."


def outcome_for_status(
    status: int, *, what: str = "URL", retry_after: str | None = None, hint: str = ""
) -> Outcome:
    """Classify an HTTP status: 2xx ok; 408/425/429/5xx retryable; the rest final."""
    if 200 <= status < 300:
        return Outcome(ok=True, status_code=status)
    if status == 404:
        phrase = f"{what} not found"
    elif status in _PHRASES:
        phrase = _PHRASES[status]
    elif 300 <= status < 400:
        phrase = "redirect not followed"
    else:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "unexpected status"
    error = f"HTTP {status}: {phrase}" + (f" ({hint})" if hint else "")
    retryable = status in RETRYABLE_STATUS or status >= 500
    return Outcome(
        ok=False, status_code=status, error=error, retryable=retryable, retry_after=retry_after
    )


@functools.lru_cache(maxsize=1024)
def _url_problem(url: str) -> str | None:
    """Why ``url`` cannot be requested (the URL itself is never quoted: it may hold secrets);
    a function of the URL alone, so kept for the next delivery to it."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port out of range or not a number
    except ValueError as exc:
        return str(exc)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https") and parts.hostname:
        return None
    if scheme and "://" in url and scheme not in ("http", "https"):
        return f"Request URL has an unsupported protocol '{scheme}://'."
    return "Request URL is missing an 'http://' or 'https://' protocol."


def _connection_error(exc: Exception) -> str:
    """What went wrong, without the request URL that some aiohttp errors quote."""
    # a malformed response or a proxy's refusal: its message, not its str() (the URL)
    detail = exc.message if isinstance(exc, aiohttp.ClientResponseError) else str(exc)
    return " ".join(detail.split()) or type(exc).__name__


async def http_send(
    context: SendContext,
    method: str,
    url: str,
    *,
    what: str = "URL",
    json: Any = None,
    content: bytes | str | None = None,
    data: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> Outcome:
    """One HTTP request mapped to an :class:`Outcome` (redirects are not followed).

    The body is ``json`` (encoded as JSON), ``content`` (sent as is) or ``data`` (a
    form); ``auth`` is HTTP basic ``(user, password)``. Timeouts and connection
    failures are retryable; an invalid URL is not (and nothing is contacted).

    >>> import asyncio
    >>> from cepkit.clock import FakeClock
    >>> async def main():
    ...     async with HttpClient() as client:
    ...         return await http_send(SendContext(client, FakeClock()), "POST", "ftp://x/y")
    >>> outcome = asyncio.run(main())
    >>> outcome.error, outcome.retryable, outcome.contacted
    ("Invalid URL: Request URL has an unsupported protocol 'ftp://'.", False, False)
    """
    problem = _url_problem(url)
    if problem is not None:
        return Outcome(ok=False, error=f"Invalid URL: {problem}", contacted=False)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
        kept = {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}
        headers = {**kept, "Authorization": f"Basic {token}"}
    try:
        async with context.client.request(
            method,
            url,
            json=json,
            data=content if content is not None else data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=context.timeout),
            allow_redirects=False,
        ) as response:
            body = await response.read()
    except TimeoutError:  # aiohttp's ServerTimeoutError is one too
        return Outcome(ok=False, error=f"Timed out after {context.timeout:g} s", retryable=True)
    except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
        reason = getattr(exc, "description", None) or "the URL cannot be parsed"
        return Outcome(ok=False, error=f"Invalid URL: {reason}", contacted=False)
    except (aiohttp.ClientError, OSError) as exc:
        detail = _connection_error(exc)
        return Outcome(ok=False, error=f"Connection failed: {detail}", retryable=True)
    status = response.status
    if 200 <= status < 300:
        return Outcome(ok=True, status_code=status)
    return outcome_for_status(
        status,
        what=what,
        retry_after=response.headers.get("retry-after"),
        hint=_excerpt(body, response.charset),
    )
