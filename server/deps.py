"""FastAPI dependencies: what a route needs, taken from ``request.app.state``."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from cepkit.clock import Clock
from cepkit.store import RuleStore
from server.live import LiveServices
from server.settings import Settings

__all__ = [
    "ClockDep",
    "LiveDep",
    "SettingsDep",
    "StoreDep",
    "get_clock",
    "get_live",
    "get_settings",
    "get_store",
]


def get_store(request: Request) -> RuleStore:
    """The rule store opened by the app's lifespan (or given to ``create_app``)."""
    return cast(RuleStore, request.app.state.store)


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return cast(Settings, request.app.state.settings)


def get_clock(request: Request) -> Clock:
    """The app's clock."""
    return cast(Clock, request.app.state.clock)


def get_live(request: Request) -> LiveServices:
    """The live runner, event store, logs and action queue started by the lifespan."""
    return cast(LiveServices, request.app.state.live)


def live_or_none(request: Request) -> LiveServices | None:
    """The live services when the app has them (rule edits tell the runner)."""
    return cast(LiveServices | None, getattr(request.app.state, "live", None))


StoreDep = Annotated[RuleStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
LiveDep = Annotated[LiveServices, Depends(get_live)]
MaybeLiveDep = Annotated[LiveServices | None, Depends(live_or_none)]
