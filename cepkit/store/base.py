"""The rule-store contract: what any persistence of rule documents must offer.

A store keeps rule *documents* (the JSON a user posted, exactly as given) under a
generated ``rule_id``, with a ``version`` that grows by one on every update and a
history row per write. It does not validate rules; callers run ``parse_rule`` first.

>>> from datetime import datetime, timezone
>>> when = datetime(2026, 2, 8, 10, 30, tzinfo=timezone.utc)
>>> stored = StoredRule(
...     rule_id="rule_0123456789ab", version=1, created_at=when, updated_at=when,
...     document={"rule_name": "cpu_high_alert", "is_active": False},
... )
>>> stored.rule_name
'cpu_high_alert'
>>> stored.public()["created_at"]
'2026-02-08T10:30:00+00:00'
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

__all__ = ["METADATA_KEYS", "RuleStore", "RuleVersion", "StoredRule"]

#: Keys the store adds to a document when it is shown (``StoredRule.public``).
METADATA_KEYS: tuple[str, ...] = ("rule_id", "version", "created_at", "updated_at")


class StoredRule(BaseModel):
    """A rule document as stored, with the store's metadata."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    version: int
    created_at: datetime
    updated_at: datetime
    document: dict[str, Any]
    tenant: str = "default"

    @property
    def rule_name(self) -> str | None:
        """The document's ``rule_name`` (None when it has none)."""
        name = self.document.get("rule_name")
        return name if isinstance(name, str) else None

    def public(self) -> dict[str, Any]:
        """The document exactly as saved, plus ``rule_id``, ``version`` and the ISO timestamps.

        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> StoredRule(rule_id="rule_x", version=2, created_at=t, updated_at=t,
        ...            document={"rule_name": "n"}).public()
        ... # doctest: +NORMALIZE_WHITESPACE
        {'rule_name': 'n', 'rule_id': 'rule_x', 'version': 2,
         'created_at': '2026-01-01T00:00:00+00:00', 'updated_at': '2026-01-01T00:00:00+00:00'}
        """
        out = copy.deepcopy(self.document)
        out.update(
            rule_id=self.rule_id,
            version=self.version,
            created_at=self.created_at.isoformat(),
            updated_at=self.updated_at.isoformat(),
        )
        return out


class RuleVersion(BaseModel):
    """One entry of a rule's history: the document as written by one create or update."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    version: int
    created_at: datetime
    document: dict[str, Any]

    def public(self) -> dict[str, Any]:
        """JSON-ready form (``created_at`` as an ISO string)."""
        return {
            "rule_id": self.rule_id,
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "document": copy.deepcopy(self.document),
        }


@runtime_checkable
class RuleStore(Protocol):
    """Persistence of rule documents, each owned by a tenant (``default`` unless given).

    ``tenant=None`` on a read or write means any tenant (the server's own use); a tenant
    given makes another tenant's rule look like no rule at all (RuleNotFound).

    Errors: :class:`~cepkit.errors.RuleNotFound` for an unknown id,
    :class:`~cepkit.errors.RuleConflict` for a second rule with the same ``rule_name``,
    :class:`~cepkit.errors.StoreError` for anything the backend reports.
    """

    def create(self, document: Mapping[str, Any], *, tenant: str = "default") -> StoredRule:
        """Store a new rule (version 1) under a fresh ``rule_id``, owned by ``tenant``."""
        ...

    def get(self, rule_id: str, *, tenant: str | None = None) -> StoredRule:
        """The stored rule with that id (of that tenant, when given)."""
        ...

    def list(
        self, *, active: bool | None = None, tenant: str | None = None
    ) -> builtins.list[StoredRule]:
        """Every stored rule in creation order, optionally only (in)active or one tenant's."""
        ...

    def update(
        self, rule_id: str, document: Mapping[str, Any], *, tenant: str | None = None
    ) -> StoredRule:
        """Replace the document; the version grows by one."""
        ...

    def delete(self, rule_id: str, *, tenant: str | None = None) -> None:
        """Remove the rule and its history."""
        ...

    def versions(self, rule_id: str, *, tenant: str | None = None) -> builtins.list[RuleVersion]:
        """The rule's history, oldest first (one entry per create/update)."""
        ...

    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""
        ...
