"""One router per resource; :data:`ROUTERS` is what the app includes."""

from fastapi import APIRouter

from server.routes import (
    channels,
    copilot,
    deliveries,
    events,
    handoff,
    ingest,
    packs,
    rule_ops,
    rules,
    scheduler,
    stats,
)

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    packs.router,  # before rules: /cep/rules/export is not a rule id
    rules.router,
    rule_ops.router,
    ingest.router,
    events.router,
    channels.router,
    deliveries.router,
    scheduler.router,
    stats.router,
    handoff.router,
    copilot.router,
)
