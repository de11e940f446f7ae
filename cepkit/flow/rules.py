"""Which rules the flow runs: a rule pack (fixed) or a rule store (re-read periodically).

Each rule is a :class:`FlowRule`: its key (the store's ``rule_id``, or for a pack the
``rule_name``), version, tenant and document. :class:`RuleCatalog` caches the list for
``refresh_seconds`` (several worker threads share one catalog); a rule whose version
changes starts afresh in the flow, as in the live runner.

>>> catalog = RuleCatalog.of_documents([{"rule_name": "cpu", "trigger_type": "metric",
...     "trigger_spec": {"metric_name": "cpu", "operator": ">", "threshold": 90}}])
>>> [(r.key, r.version, r.tenant) for r in catalog.rules()]
[('cpu', 1, 'default')]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from cepkit.errors import RuleError
from cepkit.rules import load_rule_files, parse_rule

__all__ = ["FlowRule", "RuleCatalog"]


class FlowRule(BaseModel):
    """One rule the flow runs."""

    model_config = ConfigDict(frozen=True)

    key: str
    version: int = 1
    tenant: str = "default"
    document: dict[str, Any]


class RuleCatalog:
    """The current rules, from ``load`` (called at most every ``refresh_seconds``)."""

    def __init__(
        self,
        load: Callable[[], Iterable[FlowRule]],
        *,
        refresh_seconds: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._load = load
        self._on_close = on_close
        self._refresh = refresh_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._rules: dict[str, FlowRule] = {}
        self._loaded_at: float | None = None

    @classmethod
    def of_documents(cls, documents: Iterable[Mapping[str, Any]]) -> RuleCatalog:
        """A fixed catalog of rule documents, keyed by ``rule_id`` or else ``rule_name``."""
        rules: list[FlowRule] = []
        for document in documents:
            rule = parse_rule(document)
            key = rule.rule_id or rule.rule_name
            rules.append(FlowRule(key=key, document={**document, "rule_id": key}))
        keys = [r.key for r in rules]
        if len(set(keys)) != len(keys):
            raise RuleError(f"two rules share a name or id: {sorted(keys)}")
        return cls(lambda: rules)

    @classmethod
    def of_pack(cls, path: str | Path) -> RuleCatalog:
        """The active rules of a rule file or folder (``is_active`` false ones are left out)."""
        documents = [d for _, d in load_rule_files(path) if d.get("is_active", True)]
        return cls.of_documents(documents)

    @classmethod
    def of_store(
        cls, url: str, *, schema: str | None = None, refresh_seconds: float = 5.0
    ) -> RuleCatalog:
        """The active rules of a rule store database (PostgreSQL ``schema`` if given),
        re-read every ``refresh_seconds``."""
        from cepkit.store import create_store

        store = create_store(url, schema=schema)

        def load() -> list[FlowRule]:
            return [
                FlowRule(
                    key=r.rule_id,
                    version=r.version,
                    tenant=r.tenant,
                    document={**r.document, "rule_id": r.rule_id},
                )
                for r in store.list(active=True)
            ]

        return cls(load, refresh_seconds=refresh_seconds, on_close=store.close)

    def close(self) -> None:
        """Release what the catalog holds (a store's connections)."""
        if self._on_close is not None:
            self._on_close()

    def rules(self) -> list[FlowRule]:
        """The rules now (reloaded when the cached list is older than the refresh time)."""
        return list(self._current().values())

    def get(self, key: str) -> FlowRule | None:
        """One rule by key (None when it is gone)."""
        return self._current().get(key)

    def _current(self) -> dict[str, FlowRule]:
        with self._lock:
            now = self._monotonic()
            stale = self._loaded_at is None or (
                self._refresh > 0 and now - self._loaded_at >= self._refresh
            )
            if stale:
                self._rules = {r.key: r for r in self._load()}
                self._loaded_at = now
            return self._rules
