"""Conditions: ``field``/``op``/``value`` leaves combined by nested AND / OR / NOT groups.

A condition evaluates to one of three answers: ``True``, ``False`` or *unknown*
(``None``), the last when a field is missing or a value cannot be compared. Groups
follow Kleene logic, so the answer does not depend on the order of the items: an OR
with one true item is true even when another item is unknown; an AND with one false
item is false. ``NOT`` over a list holds when none of its items holds. An unknown
answer is an evaluation error, reported with the path of every leaf that caused it,
never a silent false.

:func:`compile_condition` turns a condition into one generated Python function (the
rule's literals inlined, no per-leaf calls) and keeps a reference evaluator beside it
for the explain trace; property tests check they always agree.

>>> cond = compile_condition({
...     "logic": "OR",
...     "conditions": [
...         {"logic": "AND", "conditions": [
...             {"field": "cpu", "op": ">", "value": 80},
...             {"field": "memory", "op": ">", "value": 70}]},
...         {"field": "disk", "op": ">", "value": 90}],
... })
>>> cond({"cpu": 85, "memory": "75", "disk": 50})
True
>>> result = cond.evaluate({"cpu": 60, "memory": 50})
>>> result.matched, result.evaluated, [e.path for e in result.errors]
(False, False, ['disk'])
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from cepkit.operators import OPERATORS, IncomparableError, Operator
from cepkit.paths import MISSING, resolve

__all__ = [
    "CompiledCondition",
    "Condition",
    "ConditionGroup",
    "ConditionNode",
    "ConditionResult",
    "EvalProblem",
    "ExplainGroup",
    "ExplainLeaf",
    "all_of",
    "compile_condition",
    "leaves",
    "parse_condition",
]

Logic = Literal["AND", "OR", "NOT"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Condition(_Frozen):
    """One leaf: the payload value at ``field`` (a dotted path) compared by ``op``."""

    field: str = Field(min_length=1, description="dotted path into the payload, e.g. data.cpu")
    op: str = Field(description="one of: " + " ".join(OPERATORS))
    value: Any = None

    @field_validator("op", mode="before")
    @classmethod
    def _known_op(cls, op: Any) -> Any:
        if isinstance(op, str) and op.strip() in OPERATORS:
            return op.strip()
        raise ValueError(f"unknown operator {op!r}; expected one of: {', '.join(OPERATORS)}")

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        check = OPERATORS[self.op].check
        problem = check(self.value) if check else None
        if problem:
            raise ValueError(f"operator {self.op!r} {problem}")
        return self


def _node_tag(value: Any) -> str:
    if isinstance(value, Mapping):
        return "group" if "conditions" in value else "leaf"
    return "group" if isinstance(value, ConditionGroup) else "leaf"


ConditionNode = Annotated[
    Annotated[Condition, Tag("leaf")] | Annotated["ConditionGroup", Tag("group")],
    Discriminator(_node_tag),
]


class ConditionGroup(_Frozen):
    """Items combined by ``logic``; an item may itself be a group, to any depth."""

    logic: Logic = "AND"
    conditions: list[ConditionNode] = Field(min_length=1)

    @field_validator("logic", mode="before")
    @classmethod
    def _upper(cls, logic: Any) -> Any:
        if isinstance(logic, str) and logic.strip().upper() in ("AND", "OR", "NOT"):
            return logic.strip().upper()
        raise ValueError(f"unknown logic {logic!r}; expected one of: AND, OR, NOT")


ConditionGroup.model_rebuild()


def parse_condition(value: Any) -> Condition | ConditionGroup:
    """A condition model from a model or its JSON form (a leaf, a group, or a list = AND).

    >>> parse_condition([{"field": "a", "op": "==", "value": 1}]).logic
    'AND'
    """
    if isinstance(value, Condition | ConditionGroup):
        return value
    if isinstance(value, list):
        return ConditionGroup(conditions=value)
    if isinstance(value, Mapping) and "conditions" in value:
        return ConditionGroup.model_validate(value)
    return Condition.model_validate(value)


def all_of(*nodes: Condition | ConditionGroup | None) -> Condition | ConditionGroup | None:
    """AND of the given conditions, skipping None; None when none is given.

    >>> all_of(None, Condition(field="a", op=">", value=1)).field
    'a'
    """
    present = [n for n in nodes if n is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return ConditionGroup(logic="AND", conditions=present)


def leaves(node: Condition | ConditionGroup) -> list[Condition]:
    """Every leaf, depth first, in document order."""
    if isinstance(node, Condition):
        return [node]
    return [leaf for item in node.conditions for leaf in leaves(item)]


# -- results ------------------------------------------------------------------------------


class EvalProblem(_Frozen):
    """Why a leaf could not be evaluated: the payload path and what went wrong."""

    path: str
    message: str


class ExplainLeaf(_Frozen):
    """One leaf of the explain trace: the value seen and the answer (None = unknown)."""

    field: str
    op: str
    value: Any
    actual: Any = None
    present: bool
    result: bool | None
    error: str | None = None


class ExplainGroup(_Frozen):
    """A group of the explain trace."""

    logic: Logic
    result: bool | None
    items: list[ExplainLeaf | ExplainGroup]


class ConditionResult(_Frozen):
    """The outcome of one evaluation.

    ``matched`` is True only when the condition holds; ``evaluated`` is False when the
    answer is unknown, and ``errors`` then names each offending path.
    """

    matched: bool
    evaluated: bool
    errors: list[EvalProblem] = Field(default_factory=list)
    explain: ExplainLeaf | ExplainGroup | None = None


# -- reference evaluation -----------------------------------------------------------------


def _leaf_answer(
    leaf: Condition, op: Operator, literal: Any, payload: Any
) -> tuple[Any, bool | None, str | None]:
    """The reference semantics of one leaf: (value seen or MISSING, answer, error)."""
    actual = resolve(payload, leaf.field)
    if not op.needs_field_value:
        return actual, op.test(actual is not MISSING, literal), None
    if actual is MISSING:
        return actual, None, f"field '{leaf.field}' is missing from the payload"
    try:
        return actual, op.test(actual, literal), None
    except IncomparableError as exc:
        return actual, None, str(exc)


def _leaf_outcome(leaf: Condition, op: Operator, literal: Any, payload: Any) -> ExplainLeaf:
    actual, result, error = _leaf_answer(leaf, op, literal, payload)
    present = actual is not MISSING
    return ExplainLeaf(
        field=leaf.field,
        op=leaf.op,
        value=leaf.value,
        actual=actual if present else None,
        present=present,
        result=result,
        error=error,
    )


def _combine(logic: str, results: list[bool | None]) -> bool | None:
    unknown = any(r is None for r in results)
    if logic == "AND":
        return False if any(r is False for r in results) else (None if unknown else True)
    holds = True if any(r is True for r in results) else (None if unknown else False)
    if logic == "OR":
        return holds
    return None if holds is None else not holds  # NOT: none of the items holds


# -- code generation ----------------------------------------------------------------------


def _safe_literal(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str)


class _Unknown(Exception):
    """Raised inside generated code when a leaf's answer is unknown: the reference decides."""


_MAX_INLINE_DEPTH = 40


def _depth(node: Condition | ConditionGroup) -> int:
    if isinstance(node, Condition):
        return 0
    return 1 + max(_depth(item) for item in node.conditions)


class _Generator:
    """Builds one boolean expression for the whole condition, every leaf inlined.

    The generated function is ``try: return <expr> except: return reference(p)``: the
    expression short-circuits like Python's ``and``/``or`` and raises as soon as a leaf
    it evaluates has no definite answer (missing field, incomparable types, a value
    only the reference can judge). Definite leaves plus short-circuiting give the same
    answer as Kleene logic, so the fast path never disagrees with the reference.
    """

    def __init__(self) -> None:
        self.consts: dict[str, Any] = {}
        self._ids = itertools.count()

    def const(self, value: Any) -> str:
        if _safe_literal(value):
            return repr(value)
        name = f"_c{next(self._ids)}"
        self.consts[name] = value
        return name

    def expr(self, node: Condition | ConditionGroup) -> str:
        if isinstance(node, Condition):
            return self._leaf(node)
        items = [self.expr(item) for item in node.conditions]
        if node.logic == "AND":
            return "(" + " and ".join(items) + ")"
        joined = "(" + " or ".join(items) + ")"
        return joined if node.logic == "OR" else f"(not {joined})"

    def _leaf(self, leaf: Condition) -> str:
        op = OPERATORS[leaf.op]
        literal = op.prepare(leaf.value)
        strict = self._strict(leaf, op, literal)
        template = op.fast(literal) if op.fast else None
        if template is None:
            return f"{strict}(p)"
        fast_literal = op.fast_literal(literal) if op.fast_literal else literal
        access = "p" + "".join(f"[{self.const(k)}]" for k in leaf.field.split("."))
        if template.count("{X}") > 1:  # bind the value where it is first evaluated
            name = f"x{next(self._ids)}"
            head, tail = template.split("{X}", 1)
            template = head + "(" + name + " := {X})" + tail.replace("{X}", name)
        return template.format(X=access, L=self.const(fast_literal), R=f"{strict}(p)")

    def _strict(self, leaf: Condition, op: Operator, literal: Any) -> str:
        name = f"_s{next(self._ids)}"

        def strict(payload: Any) -> bool:
            result = _leaf_answer(leaf, op, literal, payload)[1]
            if result is None:
                raise _Unknown(leaf.field)
            return result

        self.consts[name] = strict
        return name


class CompiledCondition:
    """A condition compiled once; call it for the fast tri-state answer.

    ``cond(payload)`` returns True, False or None (unknown); :meth:`evaluate` returns a
    :class:`ConditionResult` with the errors and, on request, the explain trace.
    """

    def __init__(self, node: Condition | ConditionGroup) -> None:
        self.node = node
        self._prepared = {
            id(leaf): (OPERATORS[leaf.op], OPERATORS[leaf.op].prepare(leaf.value))
            for leaf in leaves(node)
        }
        self.fn: Callable[[Any], bool | None]
        """The generated function itself: call it directly in hot loops (no method hop)."""
        if _depth(node) > _MAX_INLINE_DEPTH:  # Python's parser limits nesting
            self.source = "# too deep to inline: the reference evaluator answers"
            self.fn = self._reference
            return
        gen = _Generator()
        gen.consts["_reference"] = self._reference
        self.source = (
            "def _condition(p):\n"
            "    try:\n"
            f"        return True if {gen.expr(node)} else False\n"
            "    except Exception:\n"
            "        return _reference(p)\n"
        )
        names = ", ".join(gen.consts)
        factory = f"def _factory({names}):\n"
        factory += "\n".join("    " + line for line in self.source.splitlines())
        factory += "\n    return _condition\n"
        namespace: dict[str, Any] = {}
        exec(compile(factory, "<cepkit-condition>", "exec"), namespace)
        self.fn = namespace["_factory"](**gen.consts)

    def _reference(self, payload: Any) -> bool | None:
        """The reference answer (Kleene logic over the leaves' reference answers)."""
        return self._answer(self.node, payload)

    def _answer(self, node: Condition | ConditionGroup, payload: Any) -> bool | None:
        if isinstance(node, Condition):
            op, literal = self._prepared[id(node)]
            return _leaf_answer(node, op, literal, payload)[1]
        return _combine(node.logic, [self._answer(item, payload) for item in node.conditions])

    def __call__(self, payload: Any) -> bool | None:
        return self.fn(payload)

    def explain(self, payload: Any) -> ExplainLeaf | ExplainGroup:
        """Every leaf with the value seen and its answer (all leaves, no short-circuit)."""
        return self._explain(self.node, payload)

    def _explain(
        self, node: Condition | ConditionGroup, payload: Any
    ) -> ExplainLeaf | ExplainGroup:
        if isinstance(node, Condition):
            op, literal = self._prepared[id(node)]
            return _leaf_outcome(node, op, literal, payload)
        items = [self._explain(item, payload) for item in node.conditions]
        return ExplainGroup(
            logic=node.logic, result=_combine(node.logic, [i.result for i in items]), items=items
        )

    def evaluate(self, payload: Any, *, explain: bool = False) -> ConditionResult:
        """The answer with its errors; with ``explain=True`` also the trace."""
        answer = self.fn(payload)
        trace = self.explain(payload) if (explain or answer is None) else None
        errors: list[EvalProblem] = []
        if answer is None and trace is not None:
            errors = [
                EvalProblem(path=leaf.field, message=leaf.error or "unknown")
                for leaf in _walk(trace)
                if leaf.result is None
            ]
        return ConditionResult(
            matched=answer is True,
            evaluated=answer is not None,
            errors=errors,
            explain=trace if explain else None,
        )


def _walk(node: ExplainLeaf | ExplainGroup) -> list[ExplainLeaf]:
    if isinstance(node, ExplainLeaf):
        return [node]
    return [leaf for item in node.items for leaf in _walk(item)]


def compile_condition(node: Any) -> CompiledCondition:
    """Compile a condition (model, JSON dict, or list meaning AND) into a callable.

    >>> compile_condition({"field": "severity", "op": "==", "value": "critical"})(
    ...     {"severity": "critical"})
    True
    """
    return CompiledCondition(parse_condition(node))
