"""Enrichment: add fields to an event before its conditions are checked (guide Lab 8 step 6).

Three kinds, one class each, found through :data:`STEPS`:

- ``lookup``: the event's ``key`` value looked up in a named ``source`` and stored under
  ``output_field``. Sources, by URI scheme (registry :data:`SOURCES`): a static table
  given to the engine (``servers`` or ``static://servers``), a SQLite table
  (``sqlite:///path/to.db?table=servers&key=host``) and a Redis hash
  (``redis://server-metadata``, read with the Redis client given to the engine; JSON
  values are decoded);
- ``aggregate``: an aggregate of the same group's earlier values of ``field`` over the
  last ``window`` of event time (the current event excluded), from the engine's own state;
- ``ml_model``: a registered anomaly detector by method name (its score of
  ``input_field`` against the group's history) or a user callable registered under that
  name, called with the input value.

A step that cannot produce its field (no key in the event, no entry in the source, an
unreachable database) leaves the field out and reports why; it never stops the event.
Conditions on a missing enriched field are then evaluation errors, as for any field.

>>> servers = {"gt-01": {"owner": "platform", "tier": 1}}
>>> enricher = Enricher.build(
...     [{"type": "lookup", "source": "servers", "key": "host", "output_field": "server_info"}],
...     Resources(tables={"servers": servers}),
... )
>>> enricher.apply({"host": "gt-01", "cpu": 93}, ts=0.0, group=())
({'host': 'gt-01', 'cpu': 93, 'server_info': {'owner': 'platform', 'tier': 1}}, [])
>>> enricher.apply({"host": "gt-09"}, ts=0.0, group=())[1]
["enrichment[0] lookup: no entry for host='gt-09' in 'servers'"]
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cepkit.aggregations import create_aggregator
from cepkit.anomaly import DETECTORS, Detector, create
from cepkit.durations import parse_duration
from cepkit.errors import Problem, RuleValidationError
from cepkit.operators import as_number
from cepkit.paths import MISSING, resolve
from cepkit.rules import (
    AggregateEnrichment,
    Enrichment,
    LookupEnrichment,
    ModelEnrichment,
)

__all__ = [
    "SOURCES",
    "STEPS",
    "Enricher",
    "LookupSource",
    "RedisHash",
    "Resources",
    "SqliteTable",
    "StaticTable",
]


@dataclass(frozen=True)
class Resources:
    """What enrichment may read, given to the engine (nothing is opened at import).

    ``tables`` are static lookup tables by name; ``models`` are user callables by name;
    ``redis`` is a ``redis.Redis`` client (or anything with ``hget``).
    """

    tables: Mapping[str, Mapping[Any, Any]] = field(default_factory=dict)
    models: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    redis: Any = None


class LookupError_(Exception):
    """A source could not answer (distinct from "no entry", which is MISSING)."""


class LookupSource(ABC):
    """Answers ``get(key)`` with the entry or :data:`~cepkit.paths.MISSING`."""

    label: str

    @abstractmethod
    def get(self, key: Any) -> Any:
        """The entry for ``key``; MISSING when there is none; LookupError_ when it fails."""


class StaticTable(LookupSource):
    """A mapping given to the engine."""

    def __init__(self, name: str, table: Mapping[Any, Any]) -> None:
        self.label = name
        self._table = table

    def get(self, key: Any) -> Any:
        try:
            return self._table.get(key, MISSING)
        except TypeError:  # an unhashable key
            return MISSING


class SqliteTable(LookupSource):
    """One row of a SQLite table by key column, as a dict (opened on first use)."""

    def __init__(self, uri: str) -> None:
        parts = urlsplit(uri)
        query = parse_qs(parts.query)
        self.label = uri
        self._path = parts.path[1:] if parts.path.startswith("//") else parts.path
        if parts.netloc:
            self._path = parts.netloc + parts.path
        try:
            self._table = query["table"][0]
            self._key = query.get("key", ["key"])[0]
        except KeyError:
            raise ValueError(
                f"{uri!r}: a sqlite source needs ?table=NAME (and &key=COLUMN)"
            ) from None
        for name in (self._table, self._key):
            if not name.replace("_", "").isalnum():
                raise ValueError(f"{uri!r}: table and key must be plain identifiers")
        self._conn: sqlite3.Connection | None = None

    def get(self, key: Any) -> Any:
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(
                    f"file:{self._path}?mode=ro", uri=True, check_same_thread=False
                )
                self._conn.row_factory = sqlite3.Row
            row = self._conn.execute(
                f'SELECT * FROM "{self._table}" WHERE "{self._key}" = ? LIMIT 1', (key,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise LookupError_(f"sqlite {self._path}: {exc}") from exc
        return MISSING if row is None else dict(row)

    def close(self) -> None:
        """Close the connection if one was opened."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class RedisHash(LookupSource):
    """``HGET <hash> <key>`` with the engine's Redis client; JSON values are decoded."""

    def __init__(self, name: str, client: Any) -> None:
        self.label = f"redis://{name}"
        self._name = name
        self._client = client

    def get(self, key: Any) -> Any:
        if self._client is None:
            raise LookupError_(f"{self.label}: no Redis client was given to the engine")
        try:
            raw = self._client.hget(self._name, str(key))
        except Exception as exc:  # redis.RedisError and connection errors
            raise LookupError_(f"{self.label}: {type(exc).__name__}: {exc}") from exc
        if raw is None:
            return MISSING
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        try:
            return json.loads(text)
        except (ValueError, TypeError):
            return text


def _static(uri: str, resources: Resources) -> LookupSource:
    name = uri.split("://", 1)[1] if "://" in uri else uri
    if name not in resources.tables:
        known = ", ".join(sorted(resources.tables)) or "none were given"
        raise ValueError(f"no lookup table named {name!r} (tables: {known})")
    return StaticTable(name, resources.tables[name])


#: URI scheme -> source builder (a bare name is a static table)
SOURCES: dict[str, Callable[[str, Resources], LookupSource]] = {
    "static": _static,
    "sqlite": lambda uri, _: SqliteTable(uri),
    "redis": lambda uri, resources: RedisHash(uri.split("://", 1)[1], resources.redis),
}


def open_source(uri: str, resources: Resources) -> LookupSource:
    """The lookup source named by ``uri`` (ValueError naming what would be valid)."""
    scheme = uri.split("://", 1)[0] if "://" in uri else "static"
    try:
        builder = SOURCES[scheme]
    except KeyError:
        raise ValueError(
            f"unknown source scheme {scheme!r}; expected one of: {', '.join(SOURCES)}"
        ) from None
    return builder(uri, resources)


# -- steps ---------------------------------------------------------------------------------


class Step(ABC):
    """One enrichment: ``run`` returns the value for ``output_field`` or raises _Failed."""

    kind: str
    output_field: str

    @abstractmethod
    def run(self, subject: Any, ts: float, group: Any) -> Any:
        """The enriched value for this event."""

    def snapshot(self) -> Any:
        """State to keep across restarts (None when stateless)."""
        return None

    def restore(self, state: Any) -> None:  # noqa: B027 - stateless steps keep nothing
        """Load what :meth:`snapshot` returned."""


class _Failed(Exception):
    pass


class LookupStep(Step):
    kind = "lookup"

    def __init__(self, spec: LookupEnrichment, resources: Resources) -> None:
        self.spec = spec
        self.output_field = spec.output_field
        self.source = open_source(spec.source, resources)

    def run(self, subject: Any, ts: float, group: Any) -> Any:
        key = resolve(subject, self.spec.key)
        if key is MISSING:
            raise _Failed(f"key field '{self.spec.key}' is missing")
        try:
            value = self.source.get(key)
        except LookupError_ as exc:
            raise _Failed(str(exc)) from exc
        if value is MISSING:
            raise _Failed(f"no entry for {self.spec.key}={key!r} in {self.source.label!r}")
        return value


class AggregateStep(Step):
    """Earlier values of ``field`` per group within ``window`` of event time."""

    kind = "aggregate"

    def __init__(self, spec: AggregateEnrichment, resources: Resources) -> None:
        self.spec = spec
        self.output_field = spec.output_field
        self.window = parse_duration(spec.window)
        self.history: dict[Any, deque[tuple[float, float]]] = {}

    def run(self, subject: Any, ts: float, group: Any) -> Any:
        history = self.history.setdefault(group, deque())
        while history and history[0][0] < ts - self.window:
            history.popleft()
        agg = create_aggregator(self.spec.aggregation)
        for t, v in history:
            if t < ts:
                agg.add(v, t)
        result = agg.result(ts - self.window, ts)
        raw = resolve(subject, self.spec.field)
        number = as_number(raw) if raw is not MISSING else None
        if number is not None and number == number and abs(number) != float("inf"):
            history.append((ts, float(number)))
        return result

    def snapshot(self) -> Any:
        return [[list(k), [list(p) for p in h]] for k, h in self.history.items()]

    def restore(self, state: Any) -> None:
        self.history = {tuple(k): deque((t, v) for t, v in h) for k, h in state}


class ModelStep(Step):
    """A registered detector's score per group, or a user callable on the input value."""

    kind = "ml_model"

    def __init__(self, spec: ModelEnrichment, resources: Resources) -> None:
        self.spec = spec
        self.output_field = spec.output_field
        self.function = resources.models.get(spec.model)
        if self.function is None and spec.model not in DETECTORS:
            valid = sorted([*resources.models, *DETECTORS])
            raise ValueError(f"unknown model {spec.model!r}; expected one of: {', '.join(valid)}")
        self.detectors: dict[Any, Detector] = {}

    def run(self, subject: Any, ts: float, group: Any) -> Any:
        raw = resolve(subject, self.spec.input_field)
        if raw is MISSING:
            raise _Failed(f"input field '{self.spec.input_field}' is missing")
        if self.function is not None:
            try:
                return self.function(raw)
            except Exception as exc:  # a user's model: report, never crash the engine
                raise _Failed(
                    f"model {self.spec.model!r} failed: {type(exc).__name__}: {exc}"
                ) from exc
        number = as_number(raw)
        if number is None or number != number or abs(number) == float("inf"):
            raise _Failed(f"input {self.spec.input_field}={raw!r} is not a finite number")
        detector = self.detectors.get(group)
        if detector is None:
            detector = self.detectors[group] = create(self.spec.model)
        score = detector.score_one(float(number))
        detector.learn_one(float(number))
        return score

    def snapshot(self) -> Any:
        return [[list(k), d.snapshot()] for k, d in self.detectors.items()]

    def restore(self, state: Any) -> None:
        cls = DETECTORS.get(self.spec.model)
        if cls is not None:
            self.detectors = {tuple(k): cls.restore(s) for k, s in state}


#: enrichment type -> step class
STEPS: dict[str, Callable[[Any, Resources], Step]] = {
    "lookup": LookupStep,
    "aggregate": AggregateStep,
    "ml_model": ModelStep,
}


class Enricher:
    """The steps of one rule, run in order; later steps see earlier steps' fields."""

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = list(steps)

    @classmethod
    def build(
        cls,
        specs: Sequence[Enrichment | Mapping[str, Any]],
        resources: Resources | None = None,
        *,
        rule_name: str | None = None,
    ) -> Enricher:
        """Steps for ``specs``; RuleValidationError (path ``enrichment[i]...``) when a
        source or model cannot be found."""
        from pydantic import TypeAdapter

        resources = resources or Resources()
        adapter: TypeAdapter[Enrichment] = TypeAdapter(Enrichment)
        steps: list[Step] = []
        problems: list[Problem] = []
        for i, raw in enumerate(specs):
            spec = adapter.validate_python(raw) if isinstance(raw, Mapping) else raw
            try:
                steps.append(STEPS[spec.type](spec, resources))
            except ValueError as exc:
                what = {"lookup": "source", "ml_model": "model"}.get(spec.type, "")
                loc: tuple[str | int, ...] = ("enrichment", i, what) if what else ("enrichment", i)
                path = f"enrichment[{i}]" + (f".{what}" if what else "")
                problems.append(Problem(path=path, message=str(exc), loc=loc))
        if problems:
            raise RuleValidationError(problems, rule_name=rule_name)
        return cls(steps)

    def apply(self, subject: Any, *, ts: float, group: Any) -> tuple[Any, list[str]]:
        """(the enriched copy of ``subject``, what failed); the input is not modified."""
        if not self.steps or not isinstance(subject, Mapping):
            return subject, []
        enriched = dict(subject)
        errors: list[str] = []
        for i, step in enumerate(self.steps):
            try:
                enriched[step.output_field] = step.run(enriched, ts, group)
            except _Failed as exc:
                errors.append(f"enrichment[{i}] {step.kind}: {exc}")
        return enriched, errors

    def snapshot(self) -> list[Any]:
        """Each step's state."""
        return [step.snapshot() for step in self.steps]

    def restore(self, state: Sequence[Any]) -> None:
        """Load each step's state."""
        for step, part in zip(self.steps, state, strict=True):
            if part is not None:
                step.restore(part)
