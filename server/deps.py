"""FastAPI dependencies: what a route needs, taken from ``request.app.state``."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from cepkit.clock import Clock
from cepkit.store import RuleStore
from server.settings import Settings

__all__ = ["ClockDep", "SettingsDep", "StoreDep", "get_clock", "get_settings", "get_store"]


def get_store(request: Request) -> RuleStore:
    """The rule store opened by the app's lifespan (or given to ``create_app``)."""
    return cast(RuleStore, request.app.state.store)


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return cast(Settings, request.app.state.settings)


def get_clock(request: Request) -> Clock:
    """The app's clock."""
    return cast(Clock, request.app.state.clock)


StoreDep = Annotated[RuleStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
