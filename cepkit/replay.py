"""Replay: run rules over history (a DataFrame, or a CSV / Parquet file) with the engine.

What a rule would have done, for tuning it before it goes live. Replay feeds the rows
in order through the same :class:`~cepkit.engine.RuleRuntime` the live server uses (in
batches, so tumbling-window rules take the engine's columnar path) and flushes open
windows at the end. Rows become events as JSON objects would: an empty cell (NaN) is a
missing field, and datetime columns become epoch seconds.

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

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from cepkit.clock import Clock
from cepkit.engine import Engine
from cepkit.enrichment import Resources
from cepkit.errors import CepkitError
from cepkit.firing import Firing
from cepkit.rules import Rule

__all__ = ["FIRING_COLUMNS", "ReplayResult", "ReplaySummary", "RuleSummary", "load_data", "replay"]

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


@dataclass(frozen=True)
class ReplayResult:
    """The firings (DataFrame and models) and the summary of one replay."""

    firings: pd.DataFrame
    summary: ReplaySummary
    firing_models: tuple[Firing, ...]


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


def _events(frame: pd.DataFrame, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """Rows as event dicts, in batches; NaN cells are left out, datetimes are epoch seconds."""
    frame = frame.copy(deep=False)
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            series = frame[column]
            series = series.dt.tz_localize("UTC") if series.dt.tz is None else series
            epoch = pd.Timestamp(0, tz="UTC")
            frame[column] = (series.dt.tz_convert("UTC") - epoch) / pd.Timedelta(seconds=1)
    if not all(isinstance(c, str) for c in frame.columns):
        frame.columns = [str(c) for c in frame.columns]
    has_missing = bool(frame.isna().to_numpy().any())
    for start in range(0, len(frame), batch_size):
        records = frame.iloc[start : start + batch_size].to_dict("records")
        if has_missing:
            records = [
                {k: v for k, v in r.items() if not (isinstance(v, float) and math.isnan(v))}
                for r in records
            ]
        yield records  # type: ignore[misc]  # the columns were made str above


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
) -> ReplayResult:
    """Run ``rules`` over ``data`` (rows in order) and return the firings and a summary.

    ``progress=True`` shows a tqdm bar (for long replays in a notebook or terminal).
    """
    frame = load_data(data) if isinstance(data, str | Path) else data
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    engine = Engine(rules, clock=clock, resources=resources)
    out: list[Firing] = []
    batches: Iterable[list[dict[str, Any]]] = _events(frame, batch_size)
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, total=math.ceil(len(frame) / batch_size), unit="batch")
    for batch in batches:
        for runtime in engine.runtimes:
            out.extend(runtime.process_batch(batch))
    out.extend(engine.flush())
    summaries: dict[str, RuleSummary] = {}
    for runtime in engine.runtimes:
        name = runtime.rule.rule_name
        mine = [f for f in out if f.rule_name == name]
        stats = runtime.stats
        delivered = [f for f in mine if f.kind == "firing" and not f.suppressed]
        per_day = Counter(f.event_time.date().isoformat() for f in delivered)
        groups = Counter(_group_label(f.group) for f in delivered)
        summaries[name] = RuleSummary(
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
    ordered = sorted(out, key=lambda f: (f.event_time, f.rule_name))
    return ReplayResult(
        firings=_frame(ordered),
        summary=ReplaySummary(rows=len(frame), rules=summaries),
        firing_models=tuple(ordered),
    )
