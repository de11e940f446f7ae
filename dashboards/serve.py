"""Serving the operators' Panel apps: inside ``cepkit serve``, or on their own.

:data:`REGISTRY` maps a URL path to ``"module:function"``; each function takes a
:class:`cepkit.client.Client` and returns a Panel object. The apps talk to the server
only through that client, so they work against a remote server as well as in-process.

- **Inside the API server**, :func:`mount_dashboards` adds every app whose module
  imports to the FastAPI app (Panel's bokeh-fastapi integration). Each browser session
  gets its own client on the server's own address (``api_url``, default: the socket the
  page request came in on), carrying the API key the page request presented
  (``X-API-Key`` or ``Authorization: Bearer``), so a session acts with its user's role
  and tenant; the client is closed when the session ends. The page itself is served
  behind the app's API-key check; its websocket is not (FastAPI's dependencies cannot
  run on it) and relies on Bokeh's signed session ids instead.
- **On their own**: ``panel serve dashboards/apps/events.py --args --url
  http://cep.example:8000 --api-key KEY`` (or ``CEPKIT_URL`` / ``CEPKIT_API_KEY``); each
  app module calls :func:`serve_standalone` when Panel runs it as a script.

Nothing here imports Panel at import time.

>>> parse_target("dashboards.apps.events:create")
('dashboards.apps.events', 'create')
>>> standalone_settings(["app.py", "--url", "http://cep:8000/"], {}).url
'http://cep:8000'
>>> standalone_settings([], {"CEPKIT_URL": "http://h:1", "CEPKIT_API_KEY": "k"}).api_key
'k'
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import secrets
import sys
from collections.abc import Awaitable, Callable, Coroutine, Mapping, MutableMapping, Sequence
from contextvars import ContextVar
from html import escape
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import WebSocketRoute

from cepkit.client import Client
from server.security import presented_key

__all__ = [
    "REGISTRY",
    "AppFactory",
    "Dashboard",
    "StandaloneSettings",
    "available",
    "in_thread",
    "links_page",
    "mount_dashboards",
    "parse_target",
    "presented_key",
    "serve_standalone",
    "standalone_settings",
]

log = logging.getLogger(__name__)

#: one Panel app per path: what ``cepkit serve`` mounts (when the module imports)
REGISTRY: dict[str, str] = {
    "/cep-builder": "dashboards.apps.builder:create",
    "/cep-events": "dashboards.apps.events:create",
    "/cep-channels": "dashboards.apps.channels:create",
    "/cep-tuning": "dashboards.apps.tuning:create",
    "/cep-observability": "dashboards.apps.observability:create",
}

#: the page titles
TITLES: dict[str, str] = {
    "/cep-builder": "CEP rule builder",
    "/cep-events": "CEP event console",
    "/cep-channels": "CEP channels",
    "/cep-tuning": "CEP tuning",
    "/cep-observability": "CEP observability",
}

AppFactory = Callable[[Client], Any]

# the (host, port) of the socket a dashboard page request came in on
_SERVER: ContextVar[tuple[str, int] | None] = ContextVar("cepkit_dashboard_server", default=None)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Dashboard(BaseModel):
    """One app of the registry, resolved."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    path: str
    title: str
    target: str
    factory: AppFactory = Field(exclude=True)


def parse_target(target: str) -> tuple[str, str]:
    """``"package.module:function"`` as its two parts; ValueError naming the target."""
    module, sep, function = target.partition(":")
    if not sep or not module or not function.isidentifier():
        raise ValueError(f"dashboard target {target!r}: expected 'package.module:function'")
    return module, function


def available(registry: Mapping[str, str] = REGISTRY) -> list[Dashboard]:
    """The registry's apps whose module imports (a module not written yet is skipped and
    logged; any other import error is raised)."""
    out = []
    for path, target in registry.items():
        module_name, function = parse_target(target)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module_name.startswith(exc.name):
                raise
            log.info("dashboard %s: %s is not available", path, module_name)
            continue
        factory = getattr(module, function, None)
        if not callable(factory):
            raise ValueError(f"dashboard target {target!r}: {module_name} has no {function}()")
        out.append(
            Dashboard(path=path, title=TITLES.get(path, path), target=target, factory=factory)
        )
    return out


def _own_url(api_url: str | None) -> str:
    if api_url is not None:
        return api_url
    server = _SERVER.get()
    if server is None:
        raise RuntimeError("dashboards: no api_url and no page request to take the address from")
    host, port = server
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _session_app(factory: AppFactory, api_url: str | None) -> Callable[[], Any]:
    """A Panel app function: a client per session (closed with it), then the factory."""

    def build() -> Any:
        import panel as pn

        client = Client(_own_url(api_url), api_key=presented_key(pn.state.headers))
        pn.state.on_session_destroyed(lambda _context: client.close())
        return factory(client)

    return build


class _RememberServer:
    """ASGI middleware: the listening socket of a dashboard page request, for its session."""

    def __init__(self, app: ASGIApp, paths: Sequence[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        server = scope.get("server")
        token = _SERVER.set((str(server[0]), int(server[1])) if server else None)
        try:
            await self.app(scope, receive, send)
        finally:
            _SERVER.reset(token)


def mount_dashboards(
    app: FastAPI,
    *,
    api_url: str | None = None,
    registry: Mapping[str, str] = REGISTRY,
) -> list[Dashboard]:
    """Add the registry's available apps to ``app``; returns what was mounted."""
    dashboards = available(registry)
    if not dashboards:
        return []
    from panel.io.fastapi import add_applications

    add_applications(
        {d.path: _session_app(d.factory, api_url) for d in dashboards},
        app=app,
        title={d.path: d.title for d in dashboards},
        # sessions are created by the (authorized) page request; a websocket may only
        # join a session whose id this process signed
        sign_sessions=True,
        secret_key=secrets.token_bytes(32),
    )
    _websockets_without_dependencies(app, [d.path for d in dashboards])
    for route in app.router.routes:  # pages, not API: kept out of /openapi.json
        if isinstance(route, APIRoute) and route.path in {d.path for d in dashboards}:
            route.include_in_schema = False
    app.add_middleware(_RememberServer, paths=[d.path for d in dashboards])
    return dashboards


def _websockets_without_dependencies(app: FastAPI, paths: Sequence[str]) -> None:
    """Re-add the apps' websocket routes as plain Starlette routes: the app-wide API-key
    dependency takes a ``Request`` and cannot run on a websocket."""
    wanted = {f"{path.rstrip('/')}/ws" for path in paths}
    routes = app.router.routes
    for index, route in enumerate(routes):
        if isinstance(route, APIWebSocketRoute) and route.path in wanted:
            routes[index] = WebSocketRoute(route.path, route.endpoint, name=route.name)


def in_thread(work: Callable[[], object]) -> Callable[..., Coroutine[Any, Any, None]]:
    """A view's async callback that runs ``work`` (which may call the server) in a worker
    thread: a session's event loop may be the server's own, so it must never block."""

    async def callback(*_args: object) -> None:
        await asyncio.to_thread(work)

    return callback


def links_page(urls: Mapping[str, Any]) -> str:
    """The API root as an HTML page of links (``GET /`` from a browser).

    >>> page = links_page({"name": "cepkit", "docs": "/docs",
    ...                    "dashboards": {"CEP event console": "/cep-events"}})
    >>> '<a href="/cep-events">CEP event console</a>' in page, '<a href="/docs">' in page
    (True, True)
    """
    rows = []
    for key, value in urls.items():
        if isinstance(value, Mapping):
            for title, path in value.items():
                rows.append(f'<li><a href="{escape(str(path))}">{escape(str(title))}</a></li>')
        elif isinstance(value, str) and value.startswith("/"):
            rows.append(f'<li>{escape(key)}: <a href="{escape(value)}">{escape(value)}</a></li>')
        else:
            rows.append(f"<li>{escape(key)}: {escape(str(value))}</li>")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>cepkit</title></head>"
        f"<body><h1>cepkit</h1><ul>{''.join(rows)}</ul></body></html>"
    )


# -- standalone (panel serve) -----------------------------------------------------------


class StandaloneSettings(BaseModel):
    """Where a standalone app finds the server."""

    model_config = ConfigDict(frozen=True)

    url: str
    api_key: str | None = None


def standalone_settings(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> StandaloneSettings:
    """``--url`` / ``--api-key`` (``panel serve ... --args``), else ``CEPKIT_URL`` /
    ``CEPKIT_API_KEY``, else ``http://127.0.0.1:8000``."""
    import os

    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--url", default=env.get("CEPKIT_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--api-key", default=env.get("CEPKIT_API_KEY"))
    args, _ = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv[1:]))
    return StandaloneSettings(url=str(args.url).rstrip("/"), api_key=args.api_key)


def serve_standalone(factory: AppFactory) -> None:
    """Mark the app servable in a ``panel serve`` session, on the configured server."""
    import panel as pn

    settings = standalone_settings()
    client = Client(settings.url, api_key=settings.api_key)
    pn.state.on_session_destroyed(lambda _context: client.close())
    factory(client).servable()
