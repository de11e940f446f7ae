"""Refuse JSON bodies holding text that is not valid Unicode, naming where it is.

JSON may escape a lone UTF-16 surrogate (``"\\ud800"``); Python decodes it into a string
that no database, log or JSON encoder with ``ensure_ascii=False`` can write. Left alone
it surfaces as a 500 wherever the text is first stored. :class:`UnicodeTextCheck` is an
ASGI middleware that reads each JSON request body, and only when the body holds a
surrogate escape (a cheap byte search) decodes it and answers 422 with the JSON path of
every such string, in the shape of FastAPI's own validation errors. Valid surrogate
pairs (emoji) pass. ``/cep/ingest`` is left to the runner, which refuses such items one
by one and accepts the rest of the batch.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from cepkit.rules.parse import format_path, may_hold_surrogates, unencodable_text

__all__ = ["UnicodeTextCheck"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SKIP = ("/cep/ingest",)


class UnicodeTextCheck:
    """The middleware; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "DELETE"):
            await self.app(scope, receive, send)
            return
        if scope["path"] in _SKIP or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:  # the whole body, kept to be replayed to the app
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        paths = _broken_paths(body) if may_hold_surrogates(body) else []
        if paths:
            await _refuse(send, paths)
            return
        pending = iter(messages)

        async def replay() -> Message:
            return next(pending, None) or await receive()

        await self.app(scope, replay, send)


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return b"json" in value.lower()
    return False


def _broken_paths(body: bytes) -> list[tuple[str | int, ...]]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []  # not JSON: the route's own validation answers
    return list(unencodable_text(document))


async def _refuse(send: Send, paths: list[tuple[str | int, ...]]) -> None:
    detail = [
        {
            "type": "string_unicode",
            "loc": ["body", *loc],
            "msg": "text must be valid Unicode (a lone surrogate cannot be stored)",
            "path": format_path(loc),
        }
        for loc in paths
    ]
    payload = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
