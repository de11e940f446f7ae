"""Retry with exponential backoff: 1 s, 2 s, 4 s, 8 s by default (4 retries, 5 tries).

The policy is :class:`~cepkit.rules.actions.RetryConfig` (``max_retries``,
``initial_delay_seconds``, ``multiplier``, ``max_delay_seconds``, ``jitter``). With
jitter a delay is drawn from ``[d/2, d]`` by an injected random generator. A ``429``
(or ``503``) with ``Retry-After`` waits what the server asked instead (capped), given
in seconds or as an HTTP date read against the injected clock. Whether an outcome is
worth another try is the sender's call (``Outcome.retryable``): 401/403/404 and
template errors are not.

>>> from cepkit.rules.actions import RetryConfig
>>> backoff_schedule(RetryConfig())
[1.0, 2.0, 4.0, 8.0]
>>> backoff_schedule(RetryConfig(max_retries=6, initial_delay_seconds=0.5))
[0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
>>> from datetime import datetime, timezone
>>> parse_retry_after("3", datetime(2026, 2, 8, tzinfo=timezone.utc))
3.0
>>> parse_retry_after("Sun, 08 Feb 2026 00:00:30 GMT", datetime(2026, 2, 8, tzinfo=timezone.utc))
30.0
"""

from __future__ import annotations

import random
from datetime import datetime
from email.utils import parsedate_to_datetime

from cepkit.channels.base import Outcome
from cepkit.rules.actions import RetryConfig

__all__ = [
    "DEFAULT_RETRY",
    "MAX_RETRY_AFTER_S",
    "backoff_delay",
    "backoff_schedule",
    "next_delay",
    "parse_retry_after",
]

DEFAULT_RETRY = RetryConfig()
#: the longest ``Retry-After`` honoured; a server asking for more waits this long
MAX_RETRY_AFTER_S = 300.0


def backoff_delay(config: RetryConfig, retry: int, rng: random.Random | None = None) -> float:
    """The wait before retry number ``retry`` (1-based), capped, with optional jitter."""
    if retry < 1:
        raise ValueError("retry numbers start at 1")
    delay = config.initial_delay_seconds * config.multiplier ** (retry - 1)
    delay = min(delay, config.max_delay_seconds)
    if config.jitter:
        delay = (rng or random.Random()).uniform(delay / 2, delay)
    return float(delay)


def backoff_schedule(config: RetryConfig) -> list[float]:
    """The waits between tries without jitter (length ``max_retries``)."""
    plain = config.model_copy(update={"jitter": False})
    return [backoff_delay(plain, retry) for retry in range(1, config.max_retries + 1)]


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def next_delay(
    config: RetryConfig,
    retry: int,
    outcome: Outcome,
    now: datetime,
    rng: random.Random | None = None,
) -> float:
    """The wait before retry ``retry`` after ``outcome``: Retry-After on 429/503, else backoff.

    >>> from datetime import datetime, timezone
    >>> now = datetime(2026, 2, 8, tzinfo=timezone.utc)
    >>> limited = Outcome(ok=False, status_code=429, retryable=True, retry_after="5")
    >>> next_delay(RetryConfig(), 1, limited, now), next_delay(RetryConfig(), 3, limited, now)
    (5.0, 5.0)
    >>> next_delay(RetryConfig(), 3, Outcome(ok=False, status_code=500, retryable=True), now)
    4.0
    """
    if outcome.status_code in (429, 503):
        asked = parse_retry_after(outcome.retry_after, now)
        if asked is not None:
            return min(asked, MAX_RETRY_AFTER_S)
    return backoff_delay(config, retry, rng)
