"""The HTTP client deliveries use: aiohttp sessions, one per event loop.

An ``aiohttp.ClientSession`` belongs to the event loop it was made on, so
:class:`HttpClient` makes one for each loop that sends, inside that loop, on its first
request there, and :meth:`HttpClient.aclose` closes them all (a session on another
loop is closed on that loop, which must still be running).

As httpx does: ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` are
read from the environment once (when the first session opens; no ``.netrc``, and no
thread hop per request as aiohttp's ``trust_env`` makes); TLS is verified against
certifi's CA bundle unless an ``ssl_context`` is given; idle connections are kept 5 s;
JSON bodies are compact UTF-8 without ``NaN``. Redirects are never followed
(:func:`~cepkit.channels.base.http_send` asks for that per request).

>>> import asyncio
>>> async def main():
...     async with HttpClient() as client:
...         return client.session() is client.session(), client.session().closed
>>> asyncio.run(main())
(True, False)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import json
import logging
import ssl
import threading
import urllib.request
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import certifi

__all__ = ["HttpClient"]

log = logging.getLogger(__name__)

_json_dumps = functools.partial(
    json.dumps, ensure_ascii=False, separators=(",", ":"), allow_nan=False
)


def _bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` names ``host``: ``*``, the host, a parent domain
    (``example.com`` or ``.example.com``), or a network holding its address."""
    host = host.lower().strip("[]")
    for entry in (item.strip().lower() for item in no_proxy.split(",")):
        if entry == "*":
            return True
        if "/" in entry:
            with contextlib.suppress(ValueError):
                if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                    return True
            continue
        entry = entry.strip("[]").removeprefix("*").lstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


class HttpClient:
    """aiohttp sessions for deliveries, one per event loop; ``await aclose()`` when done.

    ``limit`` caps the open connections of each loop's session.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        limit: int = 100,
        keepalive_seconds: float = 5.0,
    ) -> None:
        self._ssl_context = ssl_context
        self._limit = limit
        self._keepalive = keepalive_seconds
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._proxies: dict[str, str] | None = None  # read when the first session opens
        self._proxy_for: dict[tuple[str, str], str | None] = {}

    def request(
        self, method: str, url: str, **options: Any
    ) -> contextlib.AbstractAsyncContextManager[aiohttp.ClientResponse]:
        """``session().request(...)``, through the proxy the environment names for ``url``."""
        session = self.session()
        if self._proxies:
            options["proxy"] = self._proxy(url)  # credentials in it: Proxy-Authorization
        return session.request(method, url, **options)

    def _proxy(self, url: str) -> str | None:
        """The proxy for ``url``, or None to connect directly."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key in self._proxy_for:
            return self._proxy_for[key]
        proxies = self._proxies or {}
        found = None
        if not _bypassed(key[1], proxies.get("no", "")):
            proxy = proxies.get(key[0]) or proxies.get("all")
            if proxy:
                found = proxy if "://" in proxy else f"http://{proxy}"
        if len(self._proxy_for) > 1000:
            self._proxy_for.clear()
        self._proxy_for[key] = found
        return found

    def session(self) -> aiohttp.ClientSession:
        """The running loop's session (made now if this loop has none yet)."""
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            session = self._open(loop)
        return session

    def _open(self, loop: asyncio.AbstractEventLoop) -> aiohttp.ClientSession:
        with self._lock:
            if self._closed:
                raise RuntimeError("the HTTP client is closed")
            if self._ssl_context is None:  # loading the CA bundle takes a while: once
                self._ssl_context = ssl.create_default_context(cafile=certifi.where())
            if self._proxies is None:
                self._proxies = urllib.request.getproxies_environment()
            for gone in [other for other in self._sessions if other.is_closed()]:
                log.warning("an HTTP session was left open by a loop that closed")
                del self._sessions[gone]
            connector = aiohttp.TCPConnector(
                limit=self._limit, keepalive_timeout=self._keepalive, ssl=self._ssl_context
            )
            session = aiohttp.ClientSession(connector=connector, json_serialize=_json_dumps)
            self._sessions[loop] = session
            return session

    async def aclose(self) -> None:
        """Close every loop's session; the client cannot be used afterwards."""
        with self._lock:
            self._closed = True
            sessions, self._sessions = self._sessions, {}
        here = asyncio.get_running_loop()
        for loop, session in sessions.items():
            if session.closed:
                continue
            if loop is here:
                await session.close()
            elif loop.is_running():
                done = asyncio.run_coroutine_threadsafe(session.close(), loop)
                await asyncio.wait_for(asyncio.wrap_future(done), timeout=10.0)
            else:
                log.warning("an HTTP session cannot be closed: its loop has stopped")

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
