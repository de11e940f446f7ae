"""Tuning: sweep detector settings and thresholds over history, judged against incidents.

Each non-threshold setting (a method with its ``window``, ``multiplier``, ``alpha``...)
costs one causal scoring pass per group (``score_series``); every threshold is then
judged from sorted scores with binary searches, never by rescoring. For each
(setting, threshold) the sweep reports the alert count (points scoring above the
threshold), alerts per day, and with labelled incident windows the precision (alerts
inside an incident / alerts), recall (incidents with at least one alert / incidents),
F1 and the mean detection delay (first alert minus incident start, over detected
incidents).

The ``threshold`` method scores a column by its own value (a metric rule's
``cpu_usage > t``), so metric thresholds are swept the same way.

>>> import pandas as pd
>>> frame = pd.DataFrame({"timestamp": range(0, 600, 60), "host": "a",
...                       "cpu": [50, 52, 51, 95, 97, 50, 49, 51, 50, 52]})
>>> incidents = Incidents.from_frame(pd.DataFrame({"start": [180], "end": [300], "host": ["a"]}))
>>> result = sweep(frame, "threshold", {}, thresholds=[60, 96], value="cpu",
...                labels=incidents, group="host")
>>> result[["threshold", "alerts", "precision", "recall"]].to_dict("records")
[{'threshold': 60.0, 'alerts': 2, 'precision': 1.0, 'recall': 1.0},
 {'threshold': 96.0, 'alerts': 1, 'precision': 1.0, 'recall': 1.0}]
"""

from __future__ import annotations

import inspect
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cepkit.anomaly import DETECTORS, create
from cepkit.errors import CepkitError
from cepkit.rules import AnomalyTrigger, MetricTrigger, Rule, parse_rule

__all__ = ["Incident", "Incidents", "alert_budget", "recommend", "sweep"]

DEFAULT_GRIDS: dict[str, dict[str, list[Any]]] = {
    "zscore": {"window": [50, 100, 300]},
    "iqr": {"window": [50, 100, 300], "multiplier": [1.5, 3.0]},
    "ema": {"alpha": [0.05, 0.1, 0.3]},
    "mad": {"window": [50, 100, 300]},
}


@dataclass(frozen=True)
class Incident:
    """A labelled incident: ``[start, end)`` in epoch seconds, optionally for one group."""

    start: float
    end: float
    group: Any = None


class Incidents(tuple[Incident, ...]):
    """Labelled incident windows, from a CSV of windows or a NAB labels file."""

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, *, start: str = "start", end: str = "end", group: str = "host"
    ) -> Incidents:
        """Rows with ``start``/``end`` (ISO text, datetimes or epoch seconds) and a group."""
        starts = _epoch(frame[start])
        ends = _epoch(frame[end])
        groups = frame[group].tolist() if group in frame.columns else [None] * len(frame)
        rows = zip(starts, ends, groups, strict=True)
        return cls(Incident(float(s), float(e), g) for s, e, g in rows)

    @classmethod
    def from_csv(cls, path: str | Path, **columns: str) -> Incidents:
        """:meth:`from_frame` of a CSV file (e.g. ``data/samples/incidents.csv``)."""
        return cls.from_frame(pd.read_csv(path), **columns)

    @classmethod
    def from_nab(cls, path: str | Path, file: str) -> Incidents:
        """The windows of one data file in a NAB ``combined_windows.json``."""
        windows = json.loads(Path(path).read_text(encoding="utf-8"))
        if file not in windows:
            raise CepkitError(f"{path}: no windows for {file!r}")
        return cls(
            Incident(float(_epoch(pd.Series([s]))[0]), float(_epoch(pd.Series([e]))[0]))
            for s, e in windows[file]
        )

    def for_group(self, group: Any) -> list[Incident]:
        """The incidents of ``group`` (incidents without a group apply to every group)."""
        return [i for i in self if i.group is None or i.group == group]


def _epoch(series: pd.Series) -> np.ndarray:
    """Epoch seconds of ISO strings, datetimes or numbers."""
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype=float)
    stamps = pd.to_datetime(series, utc=True)
    seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return np.asarray(seconds, dtype=float)


def _scores(method: str, params: Mapping[str, Any], values: np.ndarray) -> np.ndarray:
    if method == "threshold":
        return values.astype(float)
    return np.asarray(create(method, **params).score_series(values), dtype=float)


@dataclass
class _Pass:
    """One scoring pass of one group, judged at every threshold at once."""

    alerts: np.ndarray  # per threshold: points scoring above it
    inside: np.ndarray  # per threshold: such points inside an incident
    incident_max: np.ndarray  # per incident: its highest score (-inf when none)
    incident_runs: list[tuple[np.ndarray, np.ndarray]]  # per incident: running max, times
    incident_starts: np.ndarray


def _prepare(
    scores: np.ndarray, times: np.ndarray, incidents: Sequence[Incident], cuts: np.ndarray
) -> _Pass:
    """``times`` are sorted: each incident is a slice found by binary search."""
    finite = np.where(np.isnan(scores), -np.inf, scores)
    inside = np.zeros(len(times), dtype=bool)
    maxes, runs = [], []
    for incident in incidents:
        lo, hi = np.searchsorted(times, [incident.start, incident.end], side="left")
        inside[lo:hi] = True
        part = finite[lo:hi]
        maxes.append(part.max() if len(part) else -np.inf)
        runs.append((np.maximum.accumulate(part) if len(part) else part, times[lo:hi]))
    return _Pass(
        alerts=_above(finite, cuts),
        inside=_above(finite[inside], cuts),
        incident_max=np.asarray(maxes, dtype=float),
        incident_runs=runs,
        incident_starts=np.asarray([i.start for i in incidents], dtype=float),
    )


def _cuts_below(scores: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """For each score, how many cuts are strictly below it (``searchsorted(side="left")``).

    Evenly spaced cuts (a ``linspace`` grid, the usual sweep) are found by arithmetic
    in O(n), then corrected by one comparison on each side so rounding cannot misplace
    a score that sits on a cut; other grids use a binary search.
    """
    k = len(cuts)
    if k > 2:
        step = (cuts[-1] - cuts[0]) / (k - 1)
        if step > 0 and np.allclose(np.diff(cuts), step, rtol=1e-9, atol=0.0):
            with np.errstate(invalid="ignore"):
                idx = np.clip(np.ceil((scores - cuts[0]) / step), 0, k).astype(np.intp)
            above = np.append(cuts, np.inf)  # above[i]: the cut at i, +inf past the last
            idx += above[idx] < scores
            below = np.insert(cuts, 0, np.nan)  # below[i]: the cut before i (none at 0)
            idx -= below[idx] >= scores
            result: np.ndarray = idx
            return result
    found: np.ndarray = np.searchsorted(cuts, scores, side="left")
    return found


def _above(scores: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """How many scores are strictly above each of the sorted ``cuts``, in O(n log k):
    each score counts the cuts below it, and a cumulative sum from the top does the rest."""
    passed = _cuts_below(scores, cuts)
    per_count = np.bincount(passed, minlength=len(cuts) + 1)
    return np.cumsum(per_count[::-1])[::-1][1:]


def _from_rule(rule: Rule | Mapping[str, Any]) -> tuple[str, str, dict[str, list[Any]]]:
    """(method, value column, grid pinned to the rule's parameters) of a rule."""
    model = parse_rule(rule)
    spec = model.trigger_spec
    if isinstance(spec, AnomalyTrigger):
        accepted = inspect.signature(DETECTORS[spec.anomaly_method]).parameters
        pinned = {
            k: [v]
            for k, v in spec.model_dump().items()
            if k in accepted and k not in ("threshold",)
        }
        return spec.anomaly_method, spec.value_path, pinned
    if isinstance(spec, MetricTrigger) and spec.metric_name:
        return "threshold", spec.metric_name, {}
    raise ValueError(
        f"rule {model.rule_name!r}: only anomaly rules and metric rules with a metric_name "
        "can be swept"
    )


def sweep(
    data: pd.DataFrame,
    method: str | Rule | Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    thresholds: Iterable[float],
    value: str | None = None,
    timestamp: str = "timestamp",
    group: str | None = None,
    labels: Incidents | None = None,
    nab_profile: str | None = None,
) -> pd.DataFrame:
    """One row per (setting of ``grid``, threshold); see the module docstring.

    ``method`` is a detector name (``zscore``, ``iqr``, ``ema``, ``mad``...),
    ``threshold``, or a rule: an anomaly rule sweeps its detector on its ``value_path``
    (its other parameters pinned unless ``grid`` varies them), a metric rule its
    threshold on its metric. ``grid`` maps detector parameters to the values to try (the
    cartesian product is swept). Columns: ``method``, the grid's parameters, ``threshold``,
    ``alerts``, ``alerts_per_day``, and with labels ``precision``, ``recall``, ``f1``,
    ``mean_delay_s``; with labels and ``nab_profile`` (``standard``,
    ``reward_low_FP_rate``, ``reward_low_FN_rate``) also ``nab_<profile>``: the NAB v1.1
    score of the alerts, each group a file and each incident a window (NAB's rules: the
    first 15% of each group's rows are not scored; one scoring per threshold, so opt-in).
    """
    if not isinstance(method, str):
        method, rule_value, pinned = _from_rule(method)
        value = value or rule_value
        grid = {**pinned, **(grid or {})}
    if value is None:
        raise ValueError("value (the column to score) is required unless a rule names it")
    if method != "threshold" and method not in DETECTORS:
        raise ValueError(
            f"unknown method {method!r}; expected threshold or one of: {', '.join(DETECTORS)}"
        )
    for column in [value, timestamp] + ([group] if group else []):
        if column not in data.columns:
            raise ValueError(f"no column {column!r} in the data (columns: {list(data.columns)})")
    cuts = np.asarray(sorted(float(t) for t in thresholds), dtype=float)
    all_times = _epoch(data[timestamp])
    all_values = pd.to_numeric(data[value], errors="coerce").to_numpy(dtype=float)
    span_days = max((np.nanmax(all_times) - np.nanmin(all_times)) / 86400.0, 1 / 86400.0)
    # per group: (key, times sorted, values in time order), prepared once for every setting
    series: list[tuple[Any, np.ndarray, np.ndarray]] = []
    positions = (
        data.groupby(group, sort=False).indices.items() if group else [(None, np.arange(len(data)))]
    )
    for key, rows_of in positions:
        times, values = all_times[rows_of], all_values[rows_of]
        if len(times) > 1 and not (np.diff(times) >= 0).all():
            order = np.argsort(times, kind="stable")
            times, values = times[order], values[order]
        series.append((key, times, values))
    keys = list((grid or {}).keys())
    rows: list[dict[str, Any]] = []
    for combo in itertools.product(*[(grid or {})[k] for k in keys]):
        params = dict(zip(keys, combo, strict=True))
        alerts = np.zeros(len(cuts))
        inside = np.zeros(len(cuts))
        detected = np.zeros(len(cuts))
        delay_sum = np.zeros(len(cuts))
        n_incidents = 0
        scored: list[tuple[Any, np.ndarray, np.ndarray, list[Incident]]] = []
        for key, times, values in series:
            incidents = labels.for_group(key) if labels is not None else []
            group_scores = _scores(method, params, values)
            prepared = _prepare(group_scores, times, incidents, cuts)
            if nab_profile is not None:
                scored.append((key, times, group_scores, incidents))
            alerts += prepared.alerts
            inside += prepared.inside
            n_incidents += len(incidents)
            for peak, (running, when), start in zip(
                prepared.incident_max,
                prepared.incident_runs,
                prepared.incident_starts,
                strict=True,
            ):
                hit = peak > cuts
                detected += hit
                if len(running):
                    first = np.searchsorted(running, cuts, side="right")
                    first = np.minimum(first, len(running) - 1)
                    delay_sum += np.where(hit, when[first] - start, 0.0)
        nab_scores = (
            _nab_scores(scored, cuts, nab_profile)
            if nab_profile is not None and labels is not None
            else None
        )
        for i, cut in enumerate(cuts):
            row: dict[str, Any] = {"method": method, **params, "threshold": float(cut)}
            row["alerts"] = int(alerts[i])
            row["alerts_per_day"] = float(alerts[i] / span_days)
            if labels is not None:
                precision = float(inside[i] / alerts[i]) if alerts[i] else float("nan")
                recall = float(detected[i] / n_incidents) if n_incidents else float("nan")
                both = precision + recall
                row["precision"] = precision
                row["recall"] = recall
                row["f1"] = 2 * precision * recall / both if both and both == both else 0.0
                row["mean_delay_s"] = (
                    float(delay_sum[i] / detected[i]) if detected[i] else float("nan")
                )
            if nab_scores is not None:
                row[f"nab_{nab_profile}"] = nab_scores[i]
            rows.append(row)
    return pd.DataFrame(rows)


def _nab_scores(
    scored: Sequence[tuple[Any, np.ndarray, np.ndarray, list[Incident]]],
    cuts: np.ndarray,
    profile: str,
) -> list[float]:
    """The NAB score of "alert where score > cut" for each cut; groups are files."""
    from cepkit.nab import Corpus, DataFile, Window, score_corpus

    files = []
    for key, times, _, incidents in scored:
        windows: list[Window] = []
        for incident in sorted(incidents, key=lambda i: i.start):
            lo, hi = np.searchsorted(times, [incident.start, incident.end], side="left")
            if hi <= lo:
                continue
            if windows and lo <= windows[-1].end:  # overlapping incidents become one window
                windows[-1] = Window(windows[-1].start, max(windows[-1].end, int(hi) - 1))
            else:
                windows.append(Window(int(lo), int(hi) - 1))
        stamps = (times * 1e6).astype("int64").astype("datetime64[us]")
        files.append(DataFile(f"group/{key}", stamps, np.zeros(len(times)), tuple(windows)))
    corpus = Corpus(tuple(files))
    out = []
    for cut in cuts:
        detections = {
            f"group/{key}": (np.nan_to_num(s, nan=-np.inf) > cut).astype(float)
            for key, _, s, _ in scored
        }
        result = score_corpus(corpus, detections, profiles=profile, threshold=1.0)
        out.append(float(result[profile].score))
    return out


def alert_budget(result: pd.DataFrame, max_alerts_per_day: float) -> pd.Series:
    """The row with the best recall (then precision, then fewest alerts) within the budget.

    Raises ValueError when no row fits the budget.
    """
    if "recall" not in result.columns:
        raise ValueError("alert_budget needs a sweep made with labels (no recall column)")
    fitting = result[result["alerts_per_day"] <= max_alerts_per_day]
    if fitting.empty:
        lowest = result["alerts_per_day"].min()
        raise ValueError(
            f"no setting stays within {max_alerts_per_day:g} alerts/day (lowest: {lowest:.3g})"
        )
    ranked = fitting.sort_values(
        ["recall", "precision", "alerts"], ascending=[False, False, True], kind="stable"
    )
    return ranked.iloc[0]


def recommend(
    data: pd.DataFrame,
    labels: Incidents,
    *,
    value: str,
    timestamp: str = "timestamp",
    group: str | None = None,
    grids: Mapping[str, Mapping[str, Sequence[Any]]] | None = None,
    thresholds: Mapping[str, Iterable[float]] | None = None,
) -> pd.DataFrame:
    """The best setting per method by F1 (ties: fewer alerts), one row per method."""
    grids = grids if grids is not None else DEFAULT_GRIDS
    cuts = dict(thresholds or {})
    best = []
    for method, grid in grids.items():
        default = np.linspace(0.0, 10.0, 101) if method != "iqr" else np.linspace(0.0, 5.0, 101)
        result = sweep(
            data,
            method,
            grid,
            thresholds=cuts.get(method, default),
            value=value,
            timestamp=timestamp,
            group=group,
            labels=labels,
        )
        ranked = result.sort_values(["f1", "alerts"], ascending=[False, True], kind="stable")
        best.append(ranked.iloc[0])
    return pd.DataFrame(best).reset_index(drop=True)
