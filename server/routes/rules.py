"""``/cep/rules``: create, read, replace, delete and simulate rule documents.

Bodies are taken as raw JSON and validated with :func:`cepkit.plan.check_rule`, so a
bad document answers 422 with one item per defect, each naming its JSON path
(``composite_condition.conditions[0].op``). What is saved is what ``GET`` returns,
plus ``rule_id``, ``version``, ``created_at`` and ``updated_at`` (server-owned keys; if a
body carries them they are ignored). Simulation never runs an action.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status

from cepkit.errors import Problem, RuleValidationError
from cepkit.plan import check_rule
from cepkit.rules import parse_rule
from cepkit.simulate import SimulationResult, simulate
from cepkit.store import METADATA_KEYS
from server.deps import MaybeLiveDep, StoreDep
from server.live import LiveServices
from server.schemas import (
    RULE_DOCUMENT_SCHEMA,
    MessageOut,
    RuleFormCreated,
    RuleList,
    RulePublic,
    RuleVersionList,
    SimulateRequest,
    ValidationErrorOut,
)

__all__ = ["FORM_CREATED_MESSAGE", "router", "validated_document"]

FORM_CREATED_MESSAGE = "Rule created from form."

router = APIRouter(prefix="/cep/rules", tags=["rules"])

_RULE_BODY_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{RULE_DOCUMENT_SCHEMA}"}}
        },
    }
}
_Responses = dict[int | str, dict[str, Any]]
_INVALID: _Responses = {
    422: {"model": ValidationErrorOut, "description": "Invalid rule (JSON paths)"}
}
_NOT_FOUND: _Responses = {404: {"model": MessageOut, "description": "No rule with that id"}}
_CONFLICT: _Responses = {
    409: {"model": MessageOut, "description": "A rule with that rule_name exists"}
}

RuleBody = Annotated[Any, Body(description="A rule document.")]


def _changed(live: LiveServices | None) -> None:
    """Tell the live runner the rules changed."""
    if live is not None:
        live.runner.reload()


def validated_document(document: Any) -> dict[str, Any]:
    """The document to store: a JSON object that :func:`check_rule` accepts.

    Server-owned keys (``rule_id``, ``version``, ``created_at``, ``updated_at``) are
    dropped first. Raises :class:`~cepkit.errors.RuleValidationError`.
    """
    if not isinstance(document, dict):
        raise RuleValidationError(
            [Problem(path="", message="a rule document must be a JSON object", type="dict_type")]
        )
    cleaned = {key: value for key, value in document.items() if key not in METADATA_KEYS}
    check_rule(cleaned)  # the model and what the engine needs (e.g. conditions it can split)
    return cleaned


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a rule",
    response_model=None,
    responses={201: {"model": RulePublic}, **_INVALID, **_CONFLICT},
    openapi_extra=_RULE_BODY_OPENAPI,
)
def create_rule(document: RuleBody, store: StoreDep, live: MaybeLiveDep) -> dict[str, Any]:
    """Validate and store a new rule; answers the stored rule."""
    stored = store.create(validated_document(document))
    _changed(live)
    return stored.public()


@router.post(
    "/form",
    status_code=status.HTTP_201_CREATED,
    summary="Create a rule from the Form Builder",
    response_model=None,
    responses={201: {"model": RuleFormCreated}, **_INVALID, **_CONFLICT},
    openapi_extra=_RULE_BODY_OPENAPI,
)
def create_rule_from_form(
    document: RuleBody, store: StoreDep, live: MaybeLiveDep
) -> dict[str, Any]:
    """Same validation as ``POST /cep/rules``; answers a status message and the rule."""
    stored = store.create(validated_document(document))
    _changed(live)
    return {"message": FORM_CREATED_MESSAGE, "rule": stored.public()}


@router.get("", summary="List rules", response_model=None, responses={200: {"model": RuleList}})
def list_rules(
    store: StoreDep,
    active: Annotated[bool | None, Query(description="Only active (or inactive) rules")] = None,
) -> dict[str, Any]:
    """Every rule in creation order, optionally filtered on ``is_active``."""
    rules = [rule.public() for rule in store.list(active=active)]
    return {"rules": rules, "total": len(rules)}


@router.get(
    "/{rule_id}",
    summary="Get a rule",
    response_model=None,
    responses={200: {"model": RulePublic}, **_NOT_FOUND},
)
def get_rule(rule_id: str, store: StoreDep) -> dict[str, Any]:
    """Exactly what was saved, plus the four metadata keys."""
    return store.get(rule_id).public()


@router.put(
    "/{rule_id}",
    summary="Replace a rule",
    response_model=None,
    responses={200: {"model": RulePublic}, **_INVALID, **_NOT_FOUND, **_CONFLICT},
    openapi_extra=_RULE_BODY_OPENAPI,
)
def replace_rule(
    rule_id: str, document: RuleBody, store: StoreDep, live: MaybeLiveDep
) -> dict[str, Any]:
    """Full replacement, validated first: an invalid document leaves the rule unchanged."""
    stored = store.update(rule_id, validated_document(document))
    _changed(live)
    return stored.public()


@router.delete(
    "/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a rule",
    responses={**_NOT_FOUND},
)
def delete_rule(rule_id: str, store: StoreDep, live: MaybeLiveDep) -> None:
    """Remove the rule and its history."""
    store.delete(rule_id)
    _changed(live)


@router.get(
    "/{rule_id}/versions",
    summary="A rule's history",
    response_model=None,
    responses={200: {"model": RuleVersionList}, **_NOT_FOUND},
)
def list_versions(rule_id: str, store: StoreDep) -> dict[str, Any]:
    """One entry per create/update, oldest first."""
    versions = [version.public() for version in store.versions(rule_id)]
    return {"rule_id": rule_id, "versions": versions, "total": len(versions)}


@router.post(
    "/{rule_id}/simulate",
    summary="Simulate a rule on a payload (no action runs)",
    response_model=None,
    responses={200: {"model": SimulationResult}, **_INVALID, **_NOT_FOUND},
)
def simulate_rule(
    rule_id: str,
    store: StoreDep,
    request: Annotated[SimulateRequest | None, Body()] = None,
) -> dict[str, Any]:
    """Evaluate the stored rule on ``payload``: matched, actions that would run, trace."""
    rule = parse_rule(store.get(rule_id).document)
    if request is None:
        request = SimulateRequest()
    outcome = simulate(rule, request.payload, history=request.history)
    result: dict[str, Any] = outcome.model_dump(mode="json")
    return result
