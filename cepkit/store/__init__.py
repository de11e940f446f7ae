"""Persistence of rule documents.

Contract: a store keeps each rule document exactly as given (JSON text; a ``rule_id`` key
inside it is dropped) under a generated id ``rule_<12 hex>``; ``rule_name`` is unique;
every create/update bumps ``version`` and appends a history row; timestamps come from
the injected clock. Unknown ids raise :class:`~cepkit.errors.RuleNotFound`, a taken
name :class:`~cepkit.errors.RuleConflict`, backend failures
:class:`~cepkit.errors.StoreError`. Nothing connects at import time.

>>> from cepkit.clock import FakeClock
>>> store = create_store("sqlite:///:memory:", clock=FakeClock())
>>> rule = store.create({"rule_name": "critical_error_event", "trigger_type": "event"})
>>> rule.rule_id.startswith("rule_"), rule.version
(True, 1)
>>> store.get(rule.rule_id).document
{'rule_name': 'critical_error_event', 'trigger_type': 'event'}
>>> store.close()
"""

from cepkit.store.base import METADATA_KEYS, RuleStore, RuleVersion, StoredRule
from cepkit.store.channels import ChannelStore
from cepkit.store.deliveries import DeadLetterStore
from cepkit.store.events import EventStore, StoredEvent
from cepkit.store.journal import Journal
from cepkit.store.logs import ExecutionLog, ExecutionLogStore
from cepkit.store.sql import SqlRuleStore, create_store, database_url

__all__ = [
    "METADATA_KEYS",
    "ChannelStore",
    "DeadLetterStore",
    "EventStore",
    "ExecutionLog",
    "ExecutionLogStore",
    "Journal",
    "RuleStore",
    "RuleVersion",
    "SqlRuleStore",
    "StoredEvent",
    "StoredRule",
    "create_store",
    "database_url",
]
