"""Conditions over columns: a rule plan's condition tree as one numpy function.

:func:`compile_condition` turns a condition tree into a function of a :class:`Chunk`
(rows ``[start, stop)`` of the columns it was compiled with) answering Kleene logic as
:mod:`cepkit.conditions` does: ``(true, known)`` per row, ``known`` None when every
row is known. Each leaf is the numpy twin of the registry's operator
(:data:`~cepkit.operators.ARRAY_OPERATORS`, same literal prepared by the operator). A
missing field is a NaN cell of a float column or a NaN in an object column; comparing
it is unknown, as the engine answers. Replay's columnar fast path
(:mod:`cepkit.columnar`) and the engine's batches of live events
(:mod:`cepkit.batch`) both evaluate through it; callers check first that every leaf has
an exact array form (``ArrayOperator.accepts``).

>>> import numpy as np
>>> from cepkit.conditions import parse_condition
>>> node = parse_condition({"logic": "OR", "conditions": [
...     {"field": "cpu", "op": ">", "value": 90}, {"field": "mem", "op": ">", "value": 80}]})
>>> test = compile_condition(node, {"cpu": np.array([95.0, 10.0, np.nan]),
...                                 "mem": np.array([0.0, 0.0, 0.0])})
>>> true, known = test(Chunk(0, 3))
>>> true.tolist(), known.tolist()
([True, False, False], [True, True, False])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cepkit.conditions import Condition, ConditionGroup
from cepkit.operators import ARRAY_OPERATORS, OPERATORS

__all__ = ["Bools", "Chunk", "Evaluator", "Tri", "compile_condition"]

Bools = NDArray[np.bool_]


class Chunk:
    """Rows ``[start, stop)``, with each float column's NaN cells found once."""

    __slots__ = ("_holes", "start", "stop")

    def __init__(self, start: int, stop: int) -> None:
        self.start, self.stop = start, stop
        self._holes: dict[str, Bools | None] = {}

    def holes(self, name: str, column: NDArray[Any]) -> Bools | None:
        """The NaN cells (missing fields) of ``column`` here, None when there are none.
        (A None in a column of strings is a value, as replay passes it on.)"""
        if name not in self._holes:
            x = column[self.start : self.stop]
            holes: Bools | None = None
            if x.dtype.kind == "f":
                if np.isnan(np.minimum.reduce(x)):
                    holes = np.isnan(x)
            elif x.dtype.kind == "O":
                mask = np.asarray(x != x, dtype=bool)  # NaN is the one value unequal to itself
                holes = mask if mask.any() else None
            self._holes[name] = holes
        return self._holes[name]


Tri = tuple[Bools, Bools | None]  # (true, known); known None: every row is known
Evaluator = Callable[[Chunk], Tri]


def _compile_leaf(leaf: Condition, column: NDArray[Any] | None) -> Evaluator:
    op = OPERATORS[leaf.op]
    literal = op.prepare(leaf.value)
    name = leaf.field
    if not op.needs_field_value:  # exists: presence is the answer
        wanted = literal is not False

        def exists(chunk: Chunk) -> Tri:
            size = chunk.stop - chunk.start
            holes = None if column is None else chunk.holes(name, column)
            if holes is None:
                return np.full(size, wanted == (column is not None)), None
            return (~holes if wanted else holes.copy()), None

        return exists
    if column is None:

        def missing(chunk: Chunk) -> Tri:
            nothing = np.zeros(chunk.stop - chunk.start, dtype=bool)
            return nothing, nothing

        return missing
    array_op = ARRAY_OPERATORS[leaf.op]
    test = (array_op.bind if column.dtype.kind in "iuf" else array_op.bind_text)(literal)

    def compare(chunk: Chunk) -> Tri:
        true = test(column[chunk.start : chunk.stop])
        holes = chunk.holes(name, column)
        if holes is None:
            return true, None
        known = ~holes
        return true & known, known

    return compare


def compile_condition(node: Condition | ConditionGroup, columns: Mapping[str, Any]) -> Evaluator:
    """The condition as one function of a chunk: Kleene logic over the leaves, as
    :mod:`cepkit.conditions` combines them."""
    if isinstance(node, Condition):
        return _compile_leaf(node, columns[node.field])
    items = [compile_condition(item, columns) for item in node.conditions]
    logic = node.logic

    def group(chunk: Chunk) -> Tri:
        parts = [item(chunk) for item in items]
        trues = [t for t, _ in parts]
        if all(k is None for _, k in parts):
            if logic == "AND":
                return np.logical_and.reduce(trues), None
            held = np.logical_or.reduce(trues)
            return (held if logic == "OR" else ~held), None
        falses = [~t if k is None else k & ~t for t, k in parts]
        if logic == "AND":
            true, false = np.logical_and.reduce(trues), np.logical_or.reduce(falses)
        elif logic == "OR":
            true, false = np.logical_or.reduce(trues), np.logical_and.reduce(falses)
        else:  # NOT: none of the items holds
            true, false = np.logical_and.reduce(falses), np.logical_or.reduce(trues)
        return true, true | false

    return group
