"""Actions that deliver: webhook, notify, trigger, store (specs in :mod:`cepkit.rules.actions`).

Contract:

- :class:`Dispatcher` runs a rule's actions for one firing and returns an
  :class:`ExecutionResult` (frozen, JSON-ready; it never raises for a failed delivery).
- Every delivery is wrapped: circuit breaker (per channel ``channel:<name>``, per
  webhook host ``webhook:<host>:<port>``, per store ``store:<name>``; 3 failed
  deliveries open it, 30 s later one trial) around retries (1/2/4/8 s, ``Retry-After``
  on 429, nothing retried after 401/403/404 or a template error), each attempt
  recorded. Settings come from the action's or the rule's ``action_config``.
- ``notify`` falls back to ``fallback_channel`` when a channel finally fails or its
  breaker is open; a delivery that finally failed carries a :class:`DeadLetter`,
  which :meth:`Dispatcher.retry` delivers again.
- Targets are checked by a :class:`TargetPolicy` (link-local and metadata addresses
  denied, loopback allowed by default). No secret appears in a result, error or log.
- Time, sleep, HTTP client, breaker store, sinks and the trigger callback are passed
  in; nothing connects at import time.

>>> sorted(EXECUTORS)
['notify', 'store', 'trigger', 'webhook']
"""

from cepkit.actions.breaker import (
    BreakerState,
    BreakerStore,
    CircuitBreaker,
    MemoryBreakerStore,
    RedisBreakerStore,
)
from cepkit.actions.dispatch import EXECUTORS, TEST_OK, Dispatcher
from cepkit.actions.policy import DEFAULT_DENY, TargetPolicy
from cepkit.actions.results import (
    ActionResult,
    Attempt,
    ChannelTestResult,
    DeadLetter,
    ExecutionResult,
)
from cepkit.actions.retry import backoff_schedule, parse_retry_after
from cepkit.actions.runtime import template_context
from cepkit.actions.sinks import CsvSink, ListSink, ParquetSink, RedisStreamSink, Sink

__all__ = [
    "DEFAULT_DENY",
    "EXECUTORS",
    "TEST_OK",
    "ActionResult",
    "Attempt",
    "BreakerState",
    "BreakerStore",
    "ChannelTestResult",
    "CircuitBreaker",
    "CsvSink",
    "DeadLetter",
    "Dispatcher",
    "ExecutionResult",
    "ListSink",
    "MemoryBreakerStore",
    "ParquetSink",
    "RedisBreakerStore",
    "RedisStreamSink",
    "Sink",
    "TargetPolicy",
    "backoff_schedule",
    "parse_retry_after",
    "template_context",
]
