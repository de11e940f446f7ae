"""Backoff schedule and Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from cepkit.actions.retry import (
    MAX_RETRY_AFTER_S,
    backoff_delay,
    backoff_schedule,
    next_delay,
    parse_retry_after,
)
from cepkit.channels.base import Outcome
from cepkit.rules.actions import RetryConfig

NOW = datetime(2026, 2, 8, 10, 30, tzinfo=UTC)


def test_default_schedule_is_the_guides() -> None:
    assert backoff_schedule(RetryConfig()) == [1.0, 2.0, 4.0, 8.0]
    assert backoff_schedule(RetryConfig(max_retries=0)) == []


def test_jitter_is_seeded_and_bounded() -> None:
    config = RetryConfig(jitter=True)
    first = [backoff_delay(config, n, random.Random(1)) for n in range(1, 5)]
    again = [backoff_delay(config, n, random.Random(1)) for n in range(1, 5)]
    assert first == again
    assert all(d / 2 <= j <= d for j, d in zip(first, [1, 2, 4, 8], strict=True))
    assert backoff_schedule(config) == [1.0, 2.0, 4.0, 8.0]


def test_retry_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        backoff_delay(RetryConfig(), 0)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("0", 0.0),
        ("2.5", 2.5),
        ("-4", 0.0),
        ("Sun, 08 Feb 2026 10:31:00 GMT", 60.0),
        ("Sun, 08 Feb 2026 10:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_retry_after_is_capped_and_only_for_429_and_503() -> None:
    huge = Outcome(ok=False, status_code=429, retryable=True, retry_after="86400")
    assert next_delay(RetryConfig(), 1, huge, NOW) == MAX_RETRY_AFTER_S
    unavailable = Outcome(ok=False, status_code=503, retryable=True, retry_after="6")
    assert next_delay(RetryConfig(), 1, unavailable, NOW) == 6.0
    server_error = Outcome(ok=False, status_code=500, retryable=True, retry_after="6")
    assert next_delay(RetryConfig(), 2, server_error, NOW) == 2.0
