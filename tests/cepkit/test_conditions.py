"""Conditions: semantics of every operator and logic, errors, explain, and fast == reference."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cepkit.conditions import (
    Condition,
    ConditionGroup,
    ExplainGroup,
    ExplainLeaf,
    compile_condition,
    parse_condition,
)

LAB5_NESTED = {
    "logic": "OR",
    "conditions": [
        {
            "logic": "AND",
            "conditions": [
                {"field": "cpu", "op": ">", "value": 80},
                {"field": "memory", "op": ">", "value": 70},
            ],
        },
        {"field": "disk", "op": ">", "value": 90},
    ],
}


def leaf(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


@pytest.mark.parametrize(
    ("op", "value", "actual", "expected"),
    [
        (">", 85, 92, True),
        (">", 85, 85, False),
        (">", 85, "92", True),  # numeric strings compare as numbers
        (">", "85", 92, True),
        (">", "85", "9", True),  # both numeric: 9 > 85 is false... see next line
        ("<", 100, 99.5, True),
        (">=", 70, 70, True),
        ("<=", 90, 91, False),
        ("==", "error", "error", True),
        ("==", 85, "85", True),
        ("==", "85", 85.0, True),
        ("==", "critical", "warning", False),
        ("!=", "test", "prod", True),
        ("!=", 1, "1", False),
        ("in", ["us-east", "eu-west"], "eu-west", True),
        ("in", ["us-east", "eu-west"], "ap-south", False),
        ("in", [1, 2, 3], "2", True),
        ("not_in", ["us-east"], "eu-west", True),
        ("contains", "timeout", "request timeout after 5s", True),
        ("contains", "timeout", "ok", False),
        ("contains", "b", ["a", "b"], True),
        ("startswith", "api-", "api-gateway", True),
        ("regex", r"^5\d\d$", "503", True),
        ("regex", r"^5\d\d$", "404", False),
        ("between", [10, 20], 15, True),
        ("between", [10, 20], "25", False),
        ("exists", None, "anything", True),
        ("exists", False, "anything", False),
        ("==", None, None, True),
        ("==", True, True, True),
    ],
)
def test_operator_semantics(op: str, value: Any, actual: Any, expected: bool) -> None:
    if (op, value, actual) == (">", "85", "9"):
        expected = False  # "9" vs "85": the literal is numeric, so both compare as numbers
    cond = compile_condition(leaf("x", op, value))
    assert cond({"x": actual}) is expected
    assert cond.evaluate({"x": actual}).matched is expected


def test_lab5_nested_condition_matches_the_guide_payloads() -> None:
    cond = compile_condition(LAB5_NESTED)
    assert cond({"cpu": 85, "memory": 75, "disk": 50}) is True
    assert cond({"cpu": 60, "memory": 50, "disk": 95}) is True
    assert cond({"cpu": 60, "memory": 50, "disk": 70}) is False
    # the nesting matters: cpu alone is not enough under AND
    assert cond({"cpu": 85, "memory": 50, "disk": 70}) is False


def test_not_holds_when_none_of_its_items_holds() -> None:
    cond = compile_condition(
        {"logic": "NOT", "conditions": [leaf("service", "==", "test"), leaf("env", "==", "dev")]}
    )
    assert cond({"service": "api", "env": "prod"}) is True
    assert cond({"service": "test", "env": "prod"}) is False
    assert cond({"service": "api", "env": "dev"}) is False


def test_missing_field_is_an_error_not_a_false() -> None:
    cond = compile_condition({"logic": "AND", "conditions": [leaf("data.metrics.cpu", ">", 80)]})
    assert cond({"data": {"metrics": {}}}) is None
    result = cond.evaluate({"data": {"metrics": {}}})
    assert (result.matched, result.evaluated) == (False, False)
    assert [(e.path, e.message) for e in result.errors] == [
        ("data.metrics.cpu", "field 'data.metrics.cpu' is missing from the payload")
    ]


def test_unknown_is_decided_by_other_items_in_kleene_logic() -> None:
    or_cond = compile_condition(
        {"logic": "OR", "conditions": [leaf("a", ">", 1), leaf("b", ">", 1)]}
    )
    and_cond = compile_condition(
        {"logic": "AND", "conditions": [leaf("a", ">", 1), leaf("b", ">", 1)]}
    )
    assert or_cond({"b": 5}) is True  # true OR unknown = true
    assert or_cond({"b": 0}) is None  # false OR unknown = unknown
    assert and_cond({"b": 0}) is False  # unknown AND false = false
    assert and_cond({"b": 5}) is None
    # order does not matter
    swapped = compile_condition(
        {"logic": "OR", "conditions": [leaf("b", ">", 1), leaf("a", ">", 1)]}
    )
    assert swapped({"b": 5}) is True and swapped({"b": 0}) is None


def test_incomparable_types_are_errors() -> None:
    cond = compile_condition(leaf("cpu", ">", 80))
    result = cond.evaluate({"cpu": None})
    assert not result.evaluated
    assert "cannot compare null None > int 80" in result.errors[0].message
    assert cond({"cpu": [1, 2]}) is None
    assert cond({"cpu": "high"}) is None


def test_dotted_paths_and_list_indexes() -> None:
    cond = compile_condition(leaf("data.items.1.name", "==", "b"))
    assert cond({"data": {"items": [{"name": "a"}, {"name": "b"}]}}) is True
    assert cond({"data": {"items": [{"name": "a"}]}}) is None
    assert cond({"data": "not-an-object"}) is None


def test_explain_reports_every_leaf_with_value_and_result() -> None:
    cond = compile_condition(LAB5_NESTED)
    trace = cond.explain({"cpu": 85, "memory": 75, "disk": 50})
    assert isinstance(trace, ExplainGroup) and trace.result is True
    inner = trace.items[0]
    assert isinstance(inner, ExplainGroup) and inner.logic == "AND" and inner.result is True
    flat = [inner.items[0], inner.items[1], trace.items[1]]
    assert all(isinstance(i, ExplainLeaf) for i in flat)
    assert [(i.field, i.actual, i.result) for i in flat] == [  # type: ignore[union-attr]
        ("cpu", 85, True),
        ("memory", 75, True),
        ("disk", 50, False),
    ]


def test_bad_conditions_are_rejected_with_what_is_valid() -> None:
    with pytest.raises(ValidationError, match="unknown operator 'gt'; expected one of: >, <"):
        Condition.model_validate(leaf("cpu", "gt", 1))
    with pytest.raises(ValidationError, match="unknown logic 'XOR'"):
        ConditionGroup.model_validate({"logic": "XOR", "conditions": [leaf("a", ">", 1)]})
    with pytest.raises(ValidationError, match="operator 'in' needs a list value"):
        Condition.model_validate(leaf("region", "in", "us-east"))
    with pytest.raises(ValidationError, match="invalid regular expression"):
        Condition.model_validate(leaf("msg", "regex", "(unclosed"))
    with pytest.raises(ValidationError, match=r"needs a value \[low, high\]"):
        Condition.model_validate(leaf("x", "between", [1]))


def test_literals_are_never_formatted_into_code() -> None:
    field = "'); import os; os_system('echo pwned'); ('"  # no dots: one key
    value = "\"); __import__('os').system('echo pwned'); (\""
    cond = compile_condition(leaf(field, "==", value))
    assert cond({field: value}) is True
    assert cond({field: "x"}) is False


def test_a_bare_list_means_and() -> None:
    node = parse_condition([leaf("a", "==", 1), leaf("b", "==", 2)])
    assert isinstance(node, ConditionGroup) and node.logic == "AND"


def test_deep_nesting_compiles() -> None:
    node: dict[str, Any] = leaf("x", ">", 0)
    for depth in range(60):
        node = {"logic": "NOT" if depth % 2 else "AND", "conditions": [node]}
    cond = compile_condition(node)
    assert cond({"x": 1}) is True  # an even number of NOTs


# -- property: the generated code agrees with the reference evaluator ---------------------

_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-5, 5, allow_nan=False),
    st.sampled_from(["a", "b", "abc", "3", "-2.5", "", "x1"]),
    st.lists(st.sampled_from(["a", "b", 1, 2]), max_size=3),
)
_fields = st.sampled_from(["a", "b", "n.c"])


@st.composite
def _leaves(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(
        st.sampled_from(
            [
                ">",
                "<",
                ">=",
                "<=",
                "==",
                "!=",
                "in",
                "not_in",
                "contains",
                "startswith",
                "between",
                "exists",
                "regex",
            ]
        )
    )
    scalar = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "3", "-1", "b"]))
    if op in ("in", "not_in"):
        value: Any = draw(st.lists(st.one_of(scalar, st.booleans()), max_size=4))
    elif op == "between":
        value = sorted(draw(st.lists(st.integers(-3, 3), min_size=2, max_size=2)))
    elif op == "exists":
        value = draw(st.sampled_from([None, True, False]))
    elif op == "regex":
        value = draw(st.sampled_from(["^a", "b$", r"\d"]))
    elif op in ("contains", "startswith"):
        value = draw(st.sampled_from(["a", "b", "3"]))
    elif op in ("==", "!="):
        value = draw(st.one_of(scalar, st.none(), st.booleans()))
    else:
        value = draw(scalar)
    return leaf(draw(_fields), op, value)


_nodes = st.recursive(
    _leaves(),
    lambda children: st.builds(
        lambda logic, items: {"logic": logic, "conditions": items},
        st.sampled_from(["AND", "OR", "NOT"]),
        st.lists(children, min_size=1, max_size=4),
    ),
    max_leaves=8,
)


@st.composite
def _payloads(draw: st.DrawFn) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for key in ("a", "b"):
        if draw(st.booleans()):
            payload[key] = draw(_values)
    shape = draw(st.sampled_from(["missing", "object", "scalar"]))
    if shape == "object":
        nested = {"c": draw(_values)} if draw(st.booleans()) else {}
        payload["n"] = nested
    elif shape == "scalar":
        payload["n"] = draw(_values)
    return payload


@settings(max_examples=400, deadline=None)
@given(_nodes, st.lists(_payloads(), min_size=1, max_size=5))
def test_generated_code_agrees_with_the_reference(
    node: dict[str, Any], payloads: list[Any]
) -> None:
    cond = compile_condition(node)
    for payload in payloads:
        assert cond(payload) == cond.explain(payload).result, cond.source
