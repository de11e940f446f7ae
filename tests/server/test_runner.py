"""The runner's item check: a batch checked at once answers as item by item."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from server.runner import check_items, item_problem

T0 = 1_770_000_000.0

stamps = st.one_of(
    st.floats(min_value=-1e10, max_value=1e10, allow_nan=False),
    st.integers(min_value=-(10**10), max_value=10**10),
    st.sampled_from([T0, T0 * 1000, 1e11, -1e11, 2**70, "2026-02-08T10:30:00Z", "soon"]),
    st.sampled_from([None, True, float("nan"), float("inf"), [1], {"a": 1}]),
)
items = st.one_of(
    st.builds(lambda ts: {"timestamp": ts, "cpu": 1.0}, stamps),
    st.just({"cpu": 2.0}),  # no timestamp: the clock's
    st.sampled_from([[1], "text", 3, None]),  # not objects
)


@settings(max_examples=300, deadline=None)
@given(st.lists(items, max_size=40), st.booleans())
def test_a_batch_is_checked_as_item_by_item(batch: list[Any], with_text: bool) -> None:
    text = json.dumps(batch) if with_text else None
    good, errors = check_items(batch, text)
    expected = [(i, item_problem(item)) for i, item in enumerate(batch)]
    assert good == [batch[i] for i, problem in expected if problem is None]
    assert [(e.index, e.path, e.message) for e in errors] == [
        (i, *problem) for i, problem in expected if problem is not None
    ]


def test_a_plain_batch_is_accepted_whole() -> None:
    batch = [{"timestamp": T0 + i, "cpu": float(i)} for i in range(1000)]
    batch[5]["timestamp"] = int(T0)
    good, errors = check_items(batch, json.dumps(batch))
    assert good == batch and good is not batch and errors == []
