"""``GET /cep/rules/{rule_id}/handoff``: the rule's handoff sheet (guide 18 and 20.5).

Markdown (``text/markdown``) by default: purpose, trigger and conditions in plain words,
the action path with retries / breakers / fallbacks, failure handling, deactivation
criteria, owner, backup owner, runbook and the open review items. ``?format=json``
answers the same sections as data (:class:`cepkit.handoff.HandoffSheet`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from cepkit.handoff import HandoffSheet, handoff_markdown, handoff_sheet
from cepkit.rules import parse_rule
from server.deps import StoreDep
from server.schemas import MessageOut

__all__ = ["router"]

router = APIRouter(prefix="/cep/rules", tags=["rules"])


@router.get(
    "/{rule_id}/handoff",
    summary="The rule's handoff sheet (Markdown or JSON)",
    response_model=HandoffSheet,
    responses={
        200: {"content": {"text/markdown": {}}},
        404: {"model": MessageOut, "description": "No rule with that id"},
    },
)
def get_handoff(
    rule_id: str,
    store: StoreDep,
    format: Annotated[Literal["markdown", "json"], Query()] = "markdown",
) -> Any:
    """The current version of the rule, rendered for whoever takes it over."""
    stored = store.get(rule_id)
    rule = parse_rule({**stored.document, "rule_id": rule_id})
    if format == "json":
        return handoff_sheet(rule, stored=stored)
    return Response(
        content=handoff_markdown(rule, stored=stored), media_type="text/markdown; charset=utf-8"
    )
