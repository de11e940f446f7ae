"""Durations, paths, clocks and the error tree."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from cepkit.clock import FakeClock, SystemClock
from cepkit.durations import GUIDE_SIZES, format_duration, parse_duration
from cepkit.errors import CepkitError, Problem, RuleNotFound, RuleValidationError
from cepkit.paths import MISSING, resolve


@pytest.mark.parametrize("size", GUIDE_SIZES)
def test_every_guide_size_parses_and_formats_back(size: str) -> None:
    assert format_duration(parse_duration(size)) == size


@pytest.mark.parametrize("bad", ["7q", "", "m5", "-1m", "0s", "5 minutes", True])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)  # type: ignore[arg-type]


def test_days_and_fractions() -> None:
    assert parse_duration("2d") == 172800
    assert parse_duration("250ms") == 0.25


def test_resolve_distinguishes_missing_from_null() -> None:
    assert resolve({"a": None}, "a") is None
    assert resolve({"a": None}, "a.b") is MISSING
    assert resolve({"a": [1, 2]}, "a.5") is MISSING
    assert resolve({"a": "text"}, "a.0") is MISSING


def test_fake_clock_requires_aware_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeClock(datetime(2026, 1, 1))  # noqa: DTZ001  (naive on purpose)
    clock = FakeClock()
    start = clock.now()
    assert clock.advance(timedelta(seconds=90)) - start == timedelta(seconds=90)
    assert clock.advance(10) - start == timedelta(seconds=100)
    assert SystemClock().now().utcoffset() == timedelta(0)


def test_error_tree() -> None:
    err = RuleValidationError([Problem("a.b", "bad"), Problem("", "worse")], rule_name="r")
    assert str(err) == "invalid rule 'r': a.b: bad; worse"
    assert isinstance(err, CepkitError) and isinstance(err, ValueError)
    assert str(RuleNotFound("rule_x")) == "rule 'rule_x' not found"
    assert err.problems[0].as_dict() == {
        "loc": [],
        "path": "a.b",
        "msg": "bad",
        "type": "value_error",
    }
