"""The FastAPI app factory.

``create_app`` connects nothing: the store is opened in the lifespan (unless one is
passed in), a configured rule pack is loaded once (rules whose ``rule_name`` is already
stored are kept as they are; unreadable or invalid files are logged and skipped), and
the store is closed on shutdown. Library errors map to HTTP answers here:
``RuleValidationError`` → 422 (one item per JSON path), ``NotFound`` (rule, event...) → 404,
``RuleConflict`` → 409, other ``StoreError`` → 503.

>>> from fastapi.testclient import TestClient
>>> from server.settings import Settings
>>> with TestClient(create_app(Settings(db="sqlite:///:memory:"))) as client:
...     client.get("/cep/rules").json()
{'rules': [], 'total': 0}
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse

from cepkit.clock import Clock, SystemClock
from cepkit.errors import (
    CepkitError,
    EvaluationError,
    NotFound,
    RuleConflict,
    RuleError,
    RuleValidationError,
    StoreError,
)
from cepkit.rules import load_rule_files, rule_json_schema
from cepkit.store import RuleStore, SqlRuleStore, create_store
from server.live import LiveServices
from server.routes import ROUTERS
from server.routes.rules import validated_document
from server.schemas import (
    ascii_json,
    json_loc,
    json_path,
    problem_dict,
    rule_document_components,
)
from server.security import authorize, parse_api_keys
from server.settings import Settings
from server.sinks import parse_sinks
from server.textcheck import UnicodeTextCheck

__all__ = ["PackReport", "create_app", "load_rule_pack"]

Sleep = Callable[[float], Awaitable[None]]

log = logging.getLogger(__name__)

try:
    __version__ = version("cepkit")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"


@dataclass
class PackReport:
    """What :func:`load_rule_pack` did, by rule name (or file, for unreadable files)."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


def load_rule_pack(store: RuleStore, path: Path) -> PackReport:
    """Store every rule of a file or folder of ``*.json`` whose ``rule_name`` is new.

    Never raises for bad input: unreadable files and invalid rules are logged and skipped.
    """
    report = PackReport()
    if not path.exists():
        log.warning("rule pack %s does not exist; nothing loaded", path)
        return report
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    for file in files:
        try:
            entries = load_rule_files(file)
        except (CepkitError, OSError, ValueError) as exc:
            log.warning("rule pack: skipping unreadable %s: %s", file, exc)
            report.invalid.append(str(file))
            continue
        for source, document in entries:
            _load_one(store, source, document, report)
    log.info(
        "rule pack %s: %d created, %d already stored, %d invalid",
        path,
        len(report.created),
        len(report.existing),
        len(report.invalid),
    )
    return report


def _load_one(store: RuleStore, source: Path, document: Any, report: PackReport) -> None:
    name = document.get("rule_name") if isinstance(document, dict) else None
    label = name if isinstance(name, str) else str(source)
    try:
        store.create(validated_document(document))
    except RuleConflict:
        report.existing.append(label)
    except (CepkitError, ValueError, TypeError) as exc:
        log.warning("rule pack: skipping %s (%s): %s", source, label, exc)
        report.invalid.append(label)
    else:
        report.created.append(label)


class _ErrorJSON(JSONResponse):
    """An error body that survives echoing the client's input: a lone surrogate
    (``"\\ud800"`` is valid JSON) is written escaped instead of failing as UTF-8."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return ascii_json(content)


def _error(status: int, detail: Any) -> JSONResponse:
    return _ErrorJSON(status_code=status, content={"detail": jsonable_encoder(detail)})


async def _on_cepkit_error(_request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, RuleValidationError):
        return _error(422, [problem_dict(problem) for problem in exc.problems])
    if isinstance(exc, NotFound):
        return _error(404, str(exc))
    if isinstance(exc, RuleConflict):
        return _error(409, str(exc))
    if isinstance(exc, EvaluationError):
        problem = {
            "loc": json_loc(exc.path),
            "path": exc.path,
            "msg": exc.message,
            "type": "evaluation_error",
        }
        return _error(422, [problem])
    if isinstance(exc, RuleError):
        return _error(422, [{"loc": [], "path": "", "msg": str(exc), "type": "rule_error"}])
    if isinstance(exc, StoreError):
        log.error("store error: %s", exc)
        return _error(503, str(exc))
    log.error("unhandled cepkit error: %s", exc)
    return _error(500, str(exc))


async def _on_request_validation(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422, with a ``path`` added to each item (body paths without ``body``)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = []
    for error in errors:
        loc = list(error.get("loc", ()))
        body_loc = loc[1:] if loc[:1] == ["body"] else loc
        detail.append({**error, "path": json_path(body_loc)})
    return _error(422, detail)


def _install_openapi(app: FastAPI) -> None:
    """Generate ``/openapi.json`` once, with the rule document's JSON Schema as components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(rule_document_components(rule_json_schema(), components))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _freeze_heap() -> None:
    """Collect once, then exempt every object alive now from later collections.

    The modules, the dashboards' apps and the stores are built once and live as long as
    the process. Left in the collector's oldest generation, every full collection walks
    all of them: 160-180 ms measured with the dashboards mounted, a pause of every
    request then (it set the p99 of ingest to the SSE stream). Frozen, a full collection
    walks only what was made since. Not for a process that builds many apps (tests):
    what they leave in reference cycles would never be freed.
    """
    gc.collect()
    gc.freeze()
    log.info("start-up heap frozen: %d objects left out of collections", gc.get_freeze_count())


def _live_services(
    store: RuleStore, settings: Settings, clock: Clock, sleep: Sleep | None
) -> LiveServices | None:
    """The live runner on the rule store's database (None for a store without SQL)."""
    if not isinstance(store, SqlRuleStore):
        log.warning("store %r has no SQL engine: live ingest and events are off", store)
        return None
    return LiveServices(
        store,
        clock=clock,
        tick_seconds=settings.tick_seconds,
        checkpoint_seconds=settings.checkpoint_seconds,
        rule_timeout=settings.rule_timeout,
        policy=settings.target_policy(),
        action_timeout=settings.action_timeout,
        action_workers=settings.action_workers,
        sleep=sleep if sleep is not None else asyncio.sleep,
        sinks=parse_sinks(settings.sinks),
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
        mode=settings.mode,
        inline_work=settings.ingest_inline_work,
    )


def create_app(
    settings: Settings | None = None,
    *,
    store: RuleStore | None = None,
    clock: Clock | None = None,
    sleep: Sleep | None = None,
    freeze_heap: bool = False,
) -> FastAPI:
    """Build the app. ``store`` (if given) is used as is and not closed by the app;
    ``sleep`` replaces ``asyncio.sleep`` between delivery retries (tests);
    ``freeze_heap`` (``cepkit serve``, one app per process) leaves what start-up built
    out of garbage collections once the live services run (see ``_freeze_heap``)."""
    settings = settings if settings is not None else Settings()
    clock = clock if clock is not None else SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened: RuleStore | None = None
        active: RuleStore
        if store is None:
            opened = active = create_store(settings.db, clock=clock, schema=settings.db_schema)
        else:
            active = store
        app.state.store = active
        try:
            if settings.rule_pack is not None:
                load_rule_pack(active, settings.rule_pack)
            live = _live_services(active, settings, clock, sleep)
            app.state.live = live
            if live is not None:
                await live.start()
            if freeze_heap:
                _freeze_heap()
            try:
                yield
            finally:
                if live is not None:
                    await live.stop()
        finally:
            if opened is not None:
                opened.close()

    app = FastAPI(
        title="cepkit",
        version=__version__,
        description="Complex-event-processing workbench: rules, simulation, events.",
        lifespan=lifespan,
        docs_url="/docs",
        dependencies=[Depends(authorize)],
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.api_keys = parse_api_keys(settings.api_keys)
    if store is not None:
        app.state.store = store
    app.add_exception_handler(CepkitError, _on_cepkit_error)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_middleware(UnicodeTextCheck)  # a lone surrogate in a body: 422, not a 500
    for router in ROUTERS:
        app.include_router(router)
    dashboards: dict[str, str] = {}
    if settings.dashboards:
        from dashboards.serve import mount_dashboards

        mounted = mount_dashboards(app, api_url=settings.dashboard_api_url)
        dashboards = {board.title: board.path for board in mounted}

    @app.get("/", tags=["meta"], summary="Useful URLs", response_model=None)
    def root(request: Request) -> Any:
        """Where to go next (the dashboards: the Panel apps' pages); a browser asking for
        HTML gets the same as a page of links."""
        urls = {
            "name": "cepkit",
            "version": __version__,
            "docs": "/docs",
            "openapi": "/openapi.json",
            "rules": "/cep/rules",
            "events": "/cep/events",
            "stream": "/cep/events/stream",
            "ingest": "/cep/ingest",
            "dashboards": dashboards,
        }
        if "text/html" in request.headers.get("accept", ""):
            from dashboards.serve import links_page

            return HTMLResponse(links_page(urls))
        return urls

    _install_openapi(app)
    return app
