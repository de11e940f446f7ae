"""One router per resource; :data:`ROUTERS` is what the app includes."""

from fastapi import APIRouter

from server.routes import rules

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (rules.router,)
