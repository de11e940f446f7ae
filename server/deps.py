"""FastAPI dependencies: what a route needs, taken from ``request.app.state``."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Annotated, Any, cast

from fastapi import Depends, Request

from cepkit.clock import Clock
from cepkit.store import RuleStore, RuleVersion, StoredRule
from server.live import LiveServices
from server.settings import Settings

__all__ = [
    "ClockDep",
    "LiveDep",
    "SettingsDep",
    "StoreDep",
    "TenantDep",
    "TenantRuleStore",
    "get_clock",
    "get_live",
    "get_settings",
    "get_store",
    "get_tenant",
]


async def get_store(request: Request) -> RuleStore:
    """The rule store opened by the app's lifespan, seen by the caller's tenant."""
    return TenantRuleStore(cast(RuleStore, request.app.state.store), _tenant(request))


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return cast(Settings, request.app.state.settings)


async def get_clock(request: Request) -> Clock:
    """The app's clock."""
    return cast(Clock, request.app.state.clock)


async def get_live(request: Request) -> LiveServices:
    """The live runner, event store, logs and action queue started by the lifespan."""
    return cast(LiveServices, request.app.state.live)


async def live_or_none(request: Request) -> LiveServices | None:
    """The live services when the app has them (rule edits tell the runner)."""
    return cast(LiveServices | None, getattr(request.app.state, "live", None))


async def get_tenant(request: Request) -> str:
    """The caller's tenant (``default`` without API keys)."""
    return _tenant(request)


def _tenant(request: Request) -> str:
    principal = getattr(request.state, "principal", None)
    return principal.tenant if principal is not None else "default"


StoreDep = Annotated[RuleStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
LiveDep = Annotated[LiveServices, Depends(get_live)]
MaybeLiveDep = Annotated[LiveServices | None, Depends(live_or_none)]
TenantDep = Annotated[str, Depends(get_tenant)]


class TenantRuleStore:
    """A rule store seen by one tenant: every call is scoped to it, so a route cannot
    reach another tenant's rule by id (RuleNotFound) or list it."""

    def __init__(self, store: RuleStore, tenant: str) -> None:
        self._store = store
        self.tenant = tenant

    def create(self, document: Mapping[str, Any], *, tenant: str | None = None) -> StoredRule:
        return self._store.create(document, tenant=self.tenant)

    def get(self, rule_id: str, *, tenant: str | None = None) -> StoredRule:
        return self._store.get(rule_id, tenant=self.tenant)

    def list(
        self, *, active: bool | None = None, tenant: str | None = None
    ) -> builtins.list[StoredRule]:
        return self._store.list(active=active, tenant=self.tenant)

    def update(
        self, rule_id: str, document: Mapping[str, Any], *, tenant: str | None = None
    ) -> StoredRule:
        return self._store.update(rule_id, document, tenant=self.tenant)

    def delete(self, rule_id: str, *, tenant: str | None = None) -> None:
        self._store.delete(rule_id, tenant=self.tenant)

    def versions(self, rule_id: str, *, tenant: str | None = None) -> builtins.list[RuleVersion]:
        return self._store.versions(rule_id, tenant=self.tenant)

    def close(self) -> None:
        """The shared store is closed by the app, never by a request."""
