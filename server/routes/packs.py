"""Rule packs: ``GET /cep/rules/export`` and ``POST /cep/rules/import``.

A pack is ``{"rules": [document, ...]}`` with the documents exactly as saved (no server
metadata), so an export imports into another server unchanged. Import validates each
document on its own: invalid ones are reported with their JSON path
(``rules[2].trigger_spec.operator``) and skipped, the valid ones are stored; a rule
whose ``rule_name`` exists is skipped or replaced (``on_conflict``).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from cepkit.errors import CepkitError, RuleValidationError
from cepkit.store import METADATA_KEYS
from server.deps import MaybeLiveDep, StoreDep
from server.routes.rules import validated_document
from server.schemas import ProblemOut, json_loc, problem_dict

__all__ = ["router"]

router = APIRouter(prefix="/cep/rules", tags=["rules"])


class RulePack(BaseModel):
    """Rule documents as saved."""

    model_config = ConfigDict(frozen=True)

    rules: list[dict[str, Any]]
    total: int = 0


class ImportRequest(BaseModel):
    """A pack to import and what to do with rule names that exist."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: list[Any] = Field(max_length=10_000)
    on_conflict: Literal["skip", "replace"] = "skip"


class ImportResult(BaseModel):
    """Rule names created, replaced and skipped, and the problems of invalid documents."""

    model_config = ConfigDict(frozen=True)

    created: list[str] = Field(default_factory=list)
    replaced: list[str] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
    invalid: list[ProblemOut] = Field(default_factory=list)


@router.get("/export", summary="Export rules as a pack", response_model=RulePack)
def export_rules(store: StoreDep, active: bool | None = None) -> RulePack:
    """Every rule's document (optionally only active or inactive ones)."""
    documents = [
        {k: v for k, v in rule.document.items() if k not in METADATA_KEYS}
        for rule in store.list(active=active)
    ]
    return RulePack(rules=documents, total=len(documents))


@router.post("/import", summary="Import a pack of rules", response_model=ImportResult)
def import_rules(body: ImportRequest, store: StoreDep, live: MaybeLiveDep) -> ImportResult:
    """Each valid document is stored; see the module docstring for conflicts and errors."""
    by_name = {rule.rule_name: rule.rule_id for rule in store.list()}
    result = ImportResult()
    for index, document in enumerate(body.rules):
        prefix = f"rules[{index}]"
        try:
            cleaned = validated_document(document)
        except RuleValidationError as exc:
            for problem in exc.problems:
                item = problem_dict(problem)
                path = f"{prefix}.{item['path']}" if item["path"] else prefix
                result.invalid.append(
                    ProblemOut(
                        loc=json_loc(path), path=path, msg=str(item["msg"]), type=str(item["type"])
                    )
                )
            continue
        name = str(cleaned["rule_name"])
        try:
            if name in by_name:
                if body.on_conflict == "skip":
                    result.skipped.append(name)
                    continue
                store.update(by_name[name], cleaned)
                result.replaced.append(name)
            else:
                by_name[name] = store.create(cleaned).rule_id
                result.created.append(name)
        except CepkitError as exc:
            result.invalid.append(
                ProblemOut(loc=json_loc(prefix), path=prefix, msg=str(exc), type="store_error")
            )
    if live is not None and (result.created or result.replaced):
        live.runner.reload()
    return result
