"""Dotted paths into nested payloads: ``data.metrics.cpu``, ``items.0.name``.

>>> payload = {"data": {"metrics": {"cpu": 92}}, "items": [{"name": "a"}]}
>>> resolve(payload, "data.metrics.cpu")
92
>>> resolve(payload, "items.0.name")
'a'
>>> resolve(payload, "data.metrics.disk") is MISSING
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["MISSING", "resolve", "split_path"]


class _Missing:
    """Sentinel for a path that does not resolve (distinct from a stored ``None``)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


def split_path(path: str) -> tuple[str, ...]:
    """The keys of a dotted path.

    >>> split_path("data.metrics.cpu")
    ('data', 'metrics', 'cpu')
    """
    return tuple(path.split("."))


def resolve(payload: Any, path: str) -> Any:
    """The value at ``path`` in ``payload`` or :data:`MISSING`.

    The path is always split on dots; integer parts index into lists.
    """
    current = payload
    for part in path.split("."):
        if isinstance(current, Mapping):
            if part not in current:
                return MISSING
            current = current[part]
        elif isinstance(current, Sequence) and not isinstance(current, str | bytes):
            try:
                current = current[int(part)]
            except (ValueError, IndexError):
                return MISSING
        else:
            return MISSING
    return current
