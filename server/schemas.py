"""Request and response shapes of the HTTP API, and the rule document's OpenAPI schema.

Rule documents themselves are free-form JSON validated by :func:`cepkit.rules.parse_rule`
(so errors name the JSON path the user wrote); the models here describe the envelopes.

>>> json_path(["composite_condition", "conditions", 2, "op"])
'composite_condition.conditions[2].op'
>>> json_loc("composite_condition.conditions[2].op")
['composite_condition', 'conditions', 2, 'op']
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cepkit.errors import Problem

__all__ = [
    "RULE_DOCUMENT_SCHEMA",
    "MessageOut",
    "ProblemOut",
    "RuleFormCreated",
    "RuleList",
    "RulePublic",
    "RuleVersionList",
    "RuleVersionPublic",
    "SimulateRequest",
    "ValidationErrorOut",
    "ascii_json",
    "json_loc",
    "json_path",
    "problem_dict",
    "rule_document_components",
]

#: Component name of the rule document's JSON Schema in ``/openapi.json``.
RULE_DOCUMENT_SCHEMA = "RuleDocument"

_LOC_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class ProblemOut(BaseModel):
    """One defect: ``path`` is the JSON path in the body, ``loc`` the same as a list."""

    model_config = ConfigDict(frozen=True)

    loc: list[str | int]
    path: str
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """The 422 body: every defect found."""

    model_config = ConfigDict(frozen=True)

    detail: list[ProblemOut]


class MessageOut(BaseModel):
    """An error answer with a message (404, 409)."""

    model_config = ConfigDict(frozen=True)

    detail: str


class RulePublic(BaseModel):
    """A stored rule: the document exactly as saved plus the store's metadata."""

    model_config = ConfigDict(frozen=True, extra="allow")

    rule_id: str = Field(examples=["rule_3f2a9c1b7d4e"])
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime
    rule_name: str


class RuleList(BaseModel):
    """``GET /cep/rules``."""

    model_config = ConfigDict(frozen=True)

    rules: list[RulePublic]
    total: int


class RuleFormCreated(BaseModel):
    """``POST /cep/rules/form`` (guide Lab 8, step 10)."""

    model_config = ConfigDict(frozen=True)

    message: str = Field(examples=["Rule created from form."])
    rule: RulePublic


class RuleVersionPublic(BaseModel):
    """One entry of a rule's history."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    version: int
    created_at: datetime
    document: dict[str, Any]


class RuleVersionList(BaseModel):
    """``GET /cep/rules/{rule_id}/versions``, oldest first."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    versions: list[RuleVersionPublic]
    total: int


class SimulateRequest(BaseModel):
    """``POST /cep/rules/{rule_id}/simulate``: the event to test the rule against."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"payload": {"severity": "critical", "service": "api-gateway", "summary": "x"}}
            ]
        },
    )

    payload: dict[str, Any] = Field(default_factory=dict, description="The event or snapshot.")
    history: list[float] | None = Field(
        default=None, description="Anomaly rules: earlier values, oldest first (the baseline)."
    )


def ascii_json(content: Any) -> bytes:
    """``content`` (JSON data) as compact ASCII JSON: what a body that echoes the client's
    input falls back to when it holds a lone surrogate (``"\\ud800"`` is valid JSON but
    cannot be written as UTF-8).

    >>> ascii_json({"path": chr(0xD800)})
    b'{"path":"\\\\ud800"}'
    """
    return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


def json_path(loc: Iterable[str | int]) -> str:
    """``loc`` parts as a JSON path: keys joined by dots, list indexes in brackets."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def json_loc(path: str) -> list[str | int]:
    """The inverse of :func:`json_path`."""
    return [int(index) if index else key for key, index in _LOC_PART.findall(path)]


def problem_dict(problem: Problem) -> dict[str, object]:
    """``problem.as_dict()``, with ``loc`` filled in from the path when it was left empty."""
    out = problem.as_dict()
    if not out["loc"] and problem.path:
        out["loc"] = json_loc(problem.path)
    return out


def rule_document_components(
    rule_schema: Mapping[str, Any], existing: Mapping[str, Any]
) -> dict[str, Any]:
    """OpenAPI components for a rule's JSON Schema: root as ``RuleDocument``, ``$defs`` beside.

    ``$ref``s are pointed at ``#/components/schemas/...``; a definition whose name is
    already taken by a different component is renamed ``RuleDocument_<name>``.

    >>> schema = {"type": "object", "properties": {"c": {"$ref": "#/$defs/Cond"}},
    ...           "$defs": {"Cond": {"type": "object"}}}
    >>> parts = rule_document_components(schema, {"Cond": {"type": "string"}})
    >>> sorted(parts), parts["RuleDocument"]["properties"]["c"]["$ref"]
    (['RuleDocument', 'RuleDocument_Cond'], '#/components/schemas/RuleDocument_Cond')
    """
    root = copy.deepcopy(dict(rule_schema))
    defs: dict[str, Any] = root.pop("$defs", {})
    names = {
        name: name if name not in existing or existing[name] == body else f"RuleDocument_{name}"
        for name, body in defs.items()
    }

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            out = {key: rewrite(value) for key, value in node.items()}
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                out["$ref"] = f"#/components/schemas/{names.get(name, name)}"
            elif ref == "#":
                out["$ref"] = f"#/components/schemas/{RULE_DOCUMENT_SCHEMA}"
            return out
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    components = {names[name]: rewrite(body) for name, body in defs.items()}
    components[RULE_DOCUMENT_SCHEMA] = rewrite(root)
    return components
