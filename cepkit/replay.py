"""Replay: run rules over history (a DataFrame, or a CSV / Parquet file) with the engine.

What a rule would have done, for tuning it before it goes live. Replay feeds the rows
in order through the same :class:`~cepkit.engine.RuleRuntime` the live server uses (in
batches, so tumbling-window rules take the engine's columnar path) and flushes open
windows at the end. Rows become events as JSON objects would: an empty cell (NaN) is a
missing field, and datetime columns become epoch seconds.

**Fast path.** Per-event threshold, condition and anomaly rules over numeric columns
(and string columns compared for equality) are evaluated column-wise by
:mod:`cepkit.columnar` (the same compiled plan, operators and detectors, over numpy
arrays); every other rule, and any frame the columnar path cannot prove equivalent,
goes through the engine loop. The firings and the summary are
the same either way (``fast=False`` forces the engine loop); the fast path builds the
:class:`~cepkit.firing.Firing` objects only when :attr:`ReplayResult.firing_models` or
:attr:`ReplayResult.firings` is first read.

The firings come back as a DataFrame, one row per firing, with the columns

``firing_id, rule_id, rule_name, severity, kind, suppressed, event_time,
window_start, window_end, group, values, notes`` plus ``group.<field>`` and
``values.<name>`` columns flattened from the two dicts,

and a :class:`ReplaySummary`: per rule the events seen, firings, suppressed firings,
recoveries, late events, evaluation errors; firings per day and the top groups (both
counting the firings that were not suppressed).

>>> import pandas as pd
>>> frame = pd.DataFrame({"timestamp": [0, 60, 120, 180], "host": ["a", "a", "b", "a"],
...                       "cpu_usage": [95.0, 97.0, 50.0, 99.0]})
>>> rule = {"rule_name": "cpu", "trigger_type": "metric",
...         "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 90}}
>>> result = replay([rule], frame)
>>> result.firings[["rule_name", "values.cpu_usage"]].to_dict("records")
[{'rule_name': 'cpu', 'values.cpu_usage': 95.0},
 {'rule_name': 'cpu', 'values.cpu_usage': 97.0},
 {'rule_name': 'cpu', 'values.cpu_usage': 99.0}]
>>> result.summary.rules["cpu"].firings
3
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from cepkit.clock import Clock
from cepkit.columnar import Evaluation, NotColumnar, epoch_seconds, evaluate
from cepkit.engine import Engine, RuleRuntime
from cepkit.enrichment import Resources
from cepkit.errors import CepkitError
from cepkit.firing import Firing
from cepkit.rules import Rule

__all__ = ["FIRING_COLUMNS", "ReplayResult", "ReplaySummary", "RuleSummary", "load_data", "replay"]

log = logging.getLogger(__name__)

#: the fixed columns of :attr:`ReplayResult.firings`
FIRING_COLUMNS = (
    "firing_id",
    "rule_id",
    "rule_name",
    "severity",
    "kind",
    "suppressed",
    "event_time",
    "window_start",
    "window_end",
    "group",
    "values",
    "notes",
)


class RuleSummary(BaseModel):
    """What one rule did over the replay."""

    model_config = ConfigDict(frozen=True)

    events: int
    firings: int
    suppressed: int
    recoveries: int
    late: int
    evaluation_errors: int
    filtered_out: int
    enrichment_errors: int
    per_day: dict[str, int] = Field(default_factory=dict)
    top_groups: list[tuple[str, int]] = Field(default_factory=list)


class ReplaySummary(BaseModel):
    """Per rule, keyed by rule name."""

    model_config = ConfigDict(frozen=True)

    rows: int
    rules: dict[str, RuleSummary]

    def table(self) -> str:
        """A plain-text table, as ``cepkit replay`` prints it."""
        head = (
            f"{'rule':<28} {'events':>8} {'firings':>8} {'suppr.':>7} {'recov.':>7} "
            f"{'late':>6} {'errors':>7}"
        )
        lines = [f"{self.rows:,} rows replayed", head, "-" * len(head)]
        for name, r in self.rules.items():
            lines.append(
                f"{name[:28]:<28} {r.events:>8} {r.firings:>8} {r.suppressed:>7} "
                f"{r.recoveries:>7} {r.late:>6} {r.evaluation_errors:>7}"
            )
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class ReplayResult:
    """The summary of one replay, and its firings (models and DataFrame), built on first read.

    ``build`` returns the firing models in replay order (by event time, then rule name).
    """

    summary: ReplaySummary
    build: Callable[[], Sequence[Firing]] = field(repr=False)

    @cached_property
    def firing_models(self) -> tuple[Firing, ...]:
        """Every firing (suppressed ones included), by event time then rule name."""
        return tuple(self.build())

    @cached_property
    def firings(self) -> pd.DataFrame:
        """:attr:`firing_models` as a DataFrame with :data:`FIRING_COLUMNS` and the
        flattened ``group.<field>`` / ``values.<name>`` columns."""
        return _frame(self.firing_models)


def load_data(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame (CepkitError naming the file otherwise)."""
    file = Path(path)
    suffix = file.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(file)
        if suffix in (".csv", ".txt", ".gz"):
            return pd.read_csv(file)
    except (OSError, ValueError) as exc:
        raise CepkitError(f"{file}: cannot read: {exc}") from exc
    raise CepkitError(f"{file}: unknown data format {suffix!r}; expected .csv or .parquet")


def _named(frame: pd.DataFrame) -> pd.DataFrame:
    """A shallow copy of the frame with string column names."""
    frame = frame.copy(deep=False)
    if not all(isinstance(c, str) for c in frame.columns):
        frame.columns = [str(c) for c in frame.columns]
    return frame


def _prepared(frame: pd.DataFrame) -> pd.DataFrame:
    """The (named) frame as events see it: datetime columns as epoch seconds."""
    datetimes = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    if datetimes:
        frame = frame.copy(deep=False)
        for column in datetimes:
            frame[column] = epoch_seconds(frame[column])
    return frame


def _records(rows: pd.DataFrame, has_missing: bool = True) -> list[dict[str, Any]]:
    """Rows of a prepared frame as event dicts; NaN cells are left out."""
    records = rows.to_dict("records")
    if has_missing:
        records = [
            {k: v for k, v in r.items() if not (isinstance(v, float) and math.isnan(v))}
            for r in records
        ]
    return records  # type: ignore[return-value]  # the columns are str (_named)


def _events(frame: pd.DataFrame, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """Rows of a prepared frame as event dicts, in batches."""
    has_missing = bool(frame.isna().to_numpy().any())
    for start in range(0, len(frame), batch_size):
        yield _records(frame.iloc[start : start + batch_size], has_missing)


def _group_label(group: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in group.items()) or "(all)"


def _frame(firings: Sequence[Firing]) -> pd.DataFrame:
    rows = []
    for f in firings:
        row: dict[str, Any] = {
            "firing_id": f.firing_id,
            "rule_id": f.rule_id,
            "rule_name": f.rule_name,
            "severity": f.severity,
            "kind": f.kind,
            "suppressed": f.suppressed,
            "event_time": f.event_time,
            "window_start": f.window_start,
            "window_end": f.window_end,
            "group": f.group,
            "values": f.values,
            "notes": f.notes,
        }
        for key, value in f.group.items():
            row[f"group.{key}"] = value
        for key, value in f.values.items():
            row[f"values.{key}"] = value
        rows.append(row)
    frame = pd.DataFrame(rows, columns=None if rows else list(FIRING_COLUMNS))
    for column in ("event_time", "window_start", "window_end"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def replay(
    rules: Iterable[Rule | Mapping[str, Any]],
    data: pd.DataFrame | str | Path,
    *,
    clock: Clock | None = None,
    resources: Resources | None = None,
    batch_size: int = 10_000,
    progress: bool = False,
    fast: bool = True,
) -> ReplayResult:
    """Run ``rules`` over ``data`` (rows in order) and return the firings and a summary.

    With ``fast=True`` each rule the columnar path can evaluate exactly (see
    :mod:`cepkit.columnar`) is evaluated over whole columns, the others run through the
    engine loop; ``fast=False`` runs every rule through the engine loop. Both give the
    same summary and firings. ``progress=True`` shows a tqdm bar over the engine loop's
    batches (for long replays in a notebook or terminal).
    """
    frame = load_data(data) if isinstance(data, str | Path) else data
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    engine = Engine(rules, clock=clock, resources=resources)
    named = _named(frame)
    names = [runtime.rule.rule_name for runtime in engine.runtimes]
    columnar: dict[int, Evaluation] = {}
    if fast and len(set(names)) == len(names):  # ties in the firing order need one rule a name

        def events_at(rows: NDArray[np.intp]) -> list[dict[str, Any]]:
            return _records(_prepared(named.iloc[rows]))

        for i, runtime in enumerate(engine.runtimes):
            try:
                columnar[i] = evaluate(runtime, named, events_at)
            except NotColumnar as exc:
                log.debug("rule %s takes the engine loop: %s", runtime.rule.rule_name, exc)
    looped = [r for i, r in enumerate(engine.runtimes) if i not in columnar]
    out: list[Firing] = []
    if looped:
        batches: Iterable[list[dict[str, Any]]] = _events(_prepared(named), batch_size)
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, total=math.ceil(len(frame) / batch_size), unit="batch")
        for batch in batches:
            for runtime in looped:
                out.extend(runtime.process_batch(batch))
        for runtime in looped:
            out.extend(runtime.flush())
    summaries: dict[str, RuleSummary] = {}
    for i, runtime in enumerate(engine.runtimes):
        name = runtime.rule.rule_name
        if i in columnar:
            per_day, groups = columnar[i].per_day, columnar[i].top_groups
        else:
            mine = [f for f in out if f.rule_name == name]
            delivered = [f for f in mine if f.kind == "firing" and not f.suppressed]
            per_day = Counter(f.event_time.date().isoformat() for f in delivered)
            groups = Counter(_group_label(f.group) for f in delivered)
        summaries[name] = _summary(runtime, per_day, groups)
    evaluations = list(columnar.values())

    def build() -> list[Firing]:
        firings = out + [f for evaluation in evaluations for f in evaluation.firings()]
        return sorted(firings, key=lambda f: (f.event_time, f.rule_name))

    return ReplayResult(summary=ReplaySummary(rows=len(frame), rules=summaries), build=build)


def _summary(runtime: RuleRuntime, per_day: Counter[str], groups: Counter[str]) -> RuleSummary:
    stats = runtime.stats
    return RuleSummary(
        events=stats.events,
        firings=stats.firings,
        suppressed=stats.suppressed,
        recoveries=stats.recoveries,
        late=stats.late,
        evaluation_errors=stats.evaluation_errors,
        filtered_out=stats.filtered_out,
        enrichment_errors=stats.enrichment_errors,
        per_day=dict(sorted(per_day.items())),
        top_groups=groups.most_common(10),
    )
