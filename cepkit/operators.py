"""The condition operators, one registry: ``> < >= <= == != in contains`` and extras.

Each :class:`Operator` has a *reference* implementation (``test``), which defines the
semantics, and optionally a *fast* expression template that the condition compiler
inlines. The fast form is only a shortcut: whenever it raises, or its guard declines,
the reference decides, so both always agree (a property test checks it).

Numeric strings compare as numbers against numbers (``"85" > 80``); two strings compare
as strings; anything else that Python cannot order is an evaluation error, not a false.

>>> OPERATORS[">"].test("92", 85)
True
>>> OPERATORS["in"].test("us-east", ["us-east", "eu-west"])
True
>>> OPERATORS["between"].test(5, [1, 10])
True
>>> sorted(OPERATORS)[:4]
['!=', '<', '<=', '==']
"""

from __future__ import annotations

import math
import operator as _op
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ARRAY_OPERATORS",
    "OPERATORS",
    "ArrayOperator",
    "IncomparableError",
    "Operator",
    "as_number",
    "register_operator",
]


class IncomparableError(TypeError):
    """The payload value cannot be compared with the rule's value by this operator."""


def as_number(value: Any) -> int | float | None:
    """``value`` as a number when it is one or a numeric string, else None.

    >>> as_number("85"), as_number(" 7.5 "), as_number("abc"), as_number(True)
    (85, 7.5, None, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None
        return None if math.isnan(number) else number
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _coerce_pair(left: Any, right: Any) -> tuple[Any, Any]:
    """Turn a numeric string into a number when the other side is a number."""
    if _is_number(left) and isinstance(right, str):
        number = as_number(right)
        if number is not None:
            return left, number
    elif _is_number(right) and isinstance(left, str):
        number = as_number(left)
        if number is not None:
            return number, right
    return left, right


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _ordering(fn: Callable[[Any, Any], bool], symbol: str) -> Callable[[Any, Any], bool]:
    def test(actual: Any, expected: Any) -> bool:
        left, right = _coerce_pair(actual, expected)
        try:
            return bool(fn(left, right))
        except TypeError:
            raise IncomparableError(
                f"cannot compare {_type_name(actual)} {actual!r} {symbol} "
                f"{_type_name(expected)} {expected!r}"
            ) from None

    return test


def _equals(actual: Any, expected: Any) -> bool:
    left, right = _coerce_pair(actual, expected)
    return bool(left == right)


def _in(actual: Any, expected: Any) -> bool:
    return any(_equals(actual, item) for item in expected)


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str):
        return str(expected) in actual
    if isinstance(actual, list | tuple | set | frozenset | Mapping):
        try:
            return expected in actual
        except TypeError:
            return False
    raise IncomparableError(f"'contains' needs a string, list or object, got {_type_name(actual)}")


def _startswith(actual: Any, expected: Any) -> bool:
    if not isinstance(actual, str):
        raise IncomparableError(f"'startswith' needs a string, got {_type_name(actual)}")
    return actual.startswith(str(expected))


def _regex(actual: Any, expected: re.Pattern[str]) -> bool:
    if not isinstance(actual, str):
        raise IncomparableError(f"'regex' needs a string, got {_type_name(actual)}")
    return expected.search(actual) is not None


def _between(actual: Any, expected: tuple[Any, Any]) -> bool:
    low, high = expected
    ge = _ordering(_op.ge, ">=")
    le = _ordering(_op.le, "<=")
    return ge(actual, low) and le(actual, high)


# -- literal preparation and checks -------------------------------------------------------


def _prepare_scalar(value: Any) -> Any:
    number = as_number(value) if isinstance(value, str) else None
    return value if number is None else number


def _prepare_list(value: Any) -> tuple[Any, ...]:
    return tuple(_prepare_scalar(item) for item in value)


def _check_list(value: Any) -> str | None:
    if not isinstance(value, list | tuple):
        return f"needs a list value, got {_type_name(value)}"
    return None


def _check_pair(value: Any) -> str | None:
    if not isinstance(value, list | tuple) or len(value) != 2:
        return "needs a value [low, high]"
    return None


def _check_regex(value: Any) -> str | None:
    if not isinstance(value, str):
        return "needs a regular-expression string"
    try:
        re.compile(value)
    except re.error as exc:
        return f"invalid regular expression {value!r}: {exc}"
    return None


def _check_not_none(value: Any) -> str | None:
    return "needs a value" if value is None else None


def _check_bool(value: Any) -> str | None:
    if value is not None and not isinstance(value, bool):
        return "takes true, false or no value"
    return None


# -- fast templates: (x expression, literal expression) -> python expression ---------------


def _fast_ordering(symbol: str) -> Callable[[Any], str | None]:
    def fast(literal: Any) -> str | None:
        if _is_number(literal) and math.isfinite(literal):
            return f"({{X}} {symbol} {{L}})"
        if isinstance(literal, str):
            return f"({{X}} {symbol} {{L}})"  # str vs str; any other type raises -> reference
        return None

    return fast


def _fast_eq(negate: bool) -> Callable[[Any], str | None]:
    symbol = "!=" if negate else "=="

    def fast(literal: Any) -> str | None:
        if _is_number(literal):
            return f"({{R}} if {{X}}.__class__ is str else ({{X}} {symbol} {{L}}))"
        if isinstance(literal, str | bool) or literal is None:
            return f"({{X}} {symbol} {{L}})"
        return None

    return fast


def _fast_in(negate: bool) -> Callable[[Any], str | None]:
    symbol = "not in" if negate else "in"

    def fast(literal: Any) -> str | None:
        items = literal
        if not all(isinstance(i, str | int | float | bool) or i is None for i in items):
            return None
        if any(_is_number(i) for i in items):
            return f"({{R}} if {{X}}.__class__ is str else ({{X}} {symbol} {{L}}))"
        return f"({{X}} {symbol} {{L}})"

    return fast


def _fast_contains(literal: Any) -> str | None:
    return "({L} in {X})" if isinstance(literal, str) else None


def _fast_startswith(literal: Any) -> str | None:
    return (
        "({R} if {X}.__class__ is not str else {X}.startswith({L}))"
        if isinstance(literal, str)
        else None
    )


def _fast_regex(literal: Any) -> str | None:
    return "({L}.search({X}) is not None)"


def _fast_between(literal: Any) -> str | None:
    low, high = literal
    if all(_is_number(v) and math.isfinite(v) for v in (low, high)):
        return "({L}[0] <= {X} <= {L}[1])"
    return None


def _literal_for_fast_in(prepared: tuple[Any, ...]) -> Any:
    try:
        return frozenset(prepared)
    except TypeError:
        return prepared


@dataclass(frozen=True)
class Operator:
    """One operator: its reference semantics and how the compiler may inline it.

    ``test(actual, prepared_literal)`` is the reference; ``prepare`` turns the rule's
    value into what ``test`` takes; ``check`` names what is wrong with a rule's value;
    ``fast`` returns an expression template over ``{X}`` (payload value), ``{L}`` (prepared
    literal) and ``{R}`` (defer to the reference) or None to always use the reference. The
    first ``{X}`` in the text must be the first one evaluated (it binds the value).
    ``needs_field_value`` is False only for ``exists``: a missing field is an answer.
    """

    name: str
    test: Callable[[Any, Any], bool]
    prepare: Callable[[Any], Any] = _prepare_scalar
    check: Callable[[Any], str | None] | None = None
    fast: Callable[[Any], str | None] | None = None
    fast_literal: Callable[[Any], Any] | None = None
    needs_field_value: bool = True
    description: str = ""


OPERATORS: dict[str, Operator] = {}


def register_operator(op: Operator) -> Operator:
    """Add ``op`` to the registry (a new operator is one call)."""
    OPERATORS[op.name] = op
    return op


for _symbol, _fn, _text in (
    (">", _op.gt, "greater than"),
    ("<", _op.lt, "less than"),
    (">=", _op.ge, "greater than or equal"),
    ("<=", _op.le, "less than or equal"),
):
    register_operator(
        Operator(
            _symbol,
            _ordering(_fn, _symbol),
            check=_check_not_none,
            fast=_fast_ordering(_symbol),
            description=_text,
        )
    )
register_operator(Operator("==", _equals, fast=_fast_eq(False), description="equal"))
register_operator(
    Operator("!=", lambda a, e: not _equals(a, e), fast=_fast_eq(True), description="not equal")
)
register_operator(
    Operator(
        "in",
        _in,
        prepare=_prepare_list,
        check=_check_list,
        fast=_fast_in(False),
        fast_literal=_literal_for_fast_in,
        description="one of a list",
    )
)
register_operator(
    Operator(
        "not_in",
        lambda a, e: not _in(a, e),
        prepare=_prepare_list,
        check=_check_list,
        fast=_fast_in(True),
        fast_literal=_literal_for_fast_in,
        description="none of a list",
    )
)
register_operator(
    Operator(
        "contains",
        _contains,
        prepare=lambda v: v,
        check=_check_not_none,
        fast=_fast_contains,
        description="string contains / list has item",
    )
)
register_operator(
    Operator(
        "startswith",
        _startswith,
        prepare=lambda v: v,
        check=_check_not_none,
        fast=_fast_startswith,
        description="string starts with",
    )
)
register_operator(
    Operator(
        "regex",
        _regex,
        prepare=lambda v: re.compile(v),
        check=_check_regex,
        fast=_fast_regex,
        description="regular expression search",
    )
)
register_operator(
    Operator(
        "between",
        _between,
        prepare=lambda v: (_prepare_scalar(v[0]), _prepare_scalar(v[1])),
        check=_check_pair,
        fast=_fast_between,
        description="low <= value <= high",
    )
)
register_operator(
    Operator(
        "exists",
        lambda present, wanted: present is (wanted is not False),
        prepare=lambda v: v,
        check=_check_bool,
        needs_field_value=False,
        description="field present (value false: absent)",
    )
)


# -- array forms: the same operators over numpy columns (replay's fast path) ---------------
#
# ``cepkit.columnar`` evaluates a rule's compiled condition over whole columns with these.
# Each is exact only where ``accepts`` says so; anything else takes the engine loop.

_EXACT = 2.0**53  # below this, a float64 comparison with any integer column is exact
_Bools = NDArray[np.bool_]
ArrayTest = Callable[[NDArray[Any]], _Bools]


def _exact_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) < _EXACT
    )


def _exact_numbers(value: Any) -> bool:
    return isinstance(value, tuple) and all(_exact_number(v) for v in value)


def _exact_pair(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and _exact_numbers(value)


def _array_scalar(ufunc: Callable[..., Any]) -> Callable[[Any], ArrayTest]:
    def bind(literal: Any) -> ArrayTest:
        value = np.float64(literal)
        return lambda x: ufunc(x, value)

    return bind


def _array_between(literal: tuple[Any, Any]) -> ArrayTest:
    low, high = np.float64(literal[0]), np.float64(literal[1])
    return lambda x: (x >= low) & (x <= high)


def _array_in(literal: tuple[Any, ...]) -> ArrayTest:
    items = np.asarray(literal, dtype=np.float64)
    return lambda x: np.isin(x, items)


def _array_not_in(literal: tuple[Any, ...]) -> ArrayTest:
    items = np.asarray(literal, dtype=np.float64)
    return lambda x: ~np.isin(x, items)


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_texts(value: Any) -> bool:
    return isinstance(value, tuple) and all(isinstance(v, str) for v in value)


def _equal_text(literal: str) -> ArrayTest:
    return lambda x: np.asarray(x == literal, dtype=bool)


def _unequal_text(literal: str) -> ArrayTest:
    return lambda x: np.asarray(x != literal, dtype=bool)


def _in_text(literal: tuple[str, ...]) -> ArrayTest:
    def test(x: NDArray[Any]) -> _Bools:
        out = np.zeros(len(x), dtype=bool)
        for item in literal:
            out |= np.asarray(x == item, dtype=bool)
        return out

    return test


def _not_in_text(literal: tuple[str, ...]) -> ArrayTest:
    test = _in_text(literal)
    return lambda x: ~test(x)


def _no_literal(value: Any) -> bool:
    return False


@dataclass(frozen=True)
class ArrayOperator:
    """The numpy form of a registered operator, over a column's present values.

    ``bind(prepared_literal)`` returns the test of a numeric column, ``accepts`` says for
    which literals it agrees with the reference: finite numbers below 2**53 in
    magnitude, so float64 comparisons with any float or integer column are exact.
    ``bind_text`` / ``accepts_text`` do the same for a column of strings, where only
    equality with strings is offered (a numeric string literal is prepared as a number,
    which the reference would compare with the strings as numbers, so it is refused).

    >>> ARRAY_OPERATORS[">"].bind(85)(np.array([80.0, 85.0, 92.0])).tolist()
    [False, False, True]
    >>> ARRAY_OPERATORS["in"].accepts((1, 2)), ARRAY_OPERATORS["in"].accepts((1, "x"))
    (True, False)
    """

    bind: Callable[[Any], ArrayTest]
    accepts: Callable[[Any], bool]
    bind_text: Callable[[Any], ArrayTest] = _equal_text
    accepts_text: Callable[[Any], bool] = _no_literal


#: operator name -> its numpy form; ``exists`` needs none (presence is its answer), and
#: ``contains``, ``startswith`` and ``regex`` have none (their rules take the engine loop)
ARRAY_OPERATORS: dict[str, ArrayOperator] = {
    ">": ArrayOperator(_array_scalar(np.greater), _exact_number),
    "<": ArrayOperator(_array_scalar(np.less), _exact_number),
    ">=": ArrayOperator(_array_scalar(np.greater_equal), _exact_number),
    "<=": ArrayOperator(_array_scalar(np.less_equal), _exact_number),
    "==": ArrayOperator(_array_scalar(np.equal), _exact_number, _equal_text, _is_text),
    "!=": ArrayOperator(_array_scalar(np.not_equal), _exact_number, _unequal_text, _is_text),
    "between": ArrayOperator(_array_between, _exact_pair),
    "in": ArrayOperator(_array_in, _exact_numbers, _in_text, _is_texts),
    "not_in": ArrayOperator(_array_not_in, _exact_numbers, _not_in_text, _is_texts),
}
