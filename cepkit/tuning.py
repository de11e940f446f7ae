"""Tuning: sweep detector settings and thresholds over history, judged against incidents.

Each non-threshold setting (a method with its ``window``, ``multiplier``, ``alpha``...)
costs one causal scoring pass per group (``score_series``); every threshold is then
judged at once, never by rescoring. For each (setting, threshold) the sweep reports the
alert count (points scoring above the threshold), alerts per day, and with labelled
incident windows the precision (alerts inside an incident / alerts), recall (incidents
with at least one alert / incidents), F1 and the mean detection delay (first alert minus
incident start, over detected incidents).

How the thresholds are judged together: each score is placed among the sorted
thresholds once (arithmetic on an evenly spaced grid, a sort and binary searches
otherwise) and the counts per place, summed from the top, are the alert counts of
every threshold; the points inside incidents are counted the same way; per incident, a
running maximum of the places finds the first alert at every threshold with one binary
search each. A 100-threshold sweep costs little more than its scoring pass
(``benchmarks/bench_tuning.py``).

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
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from cepkit.anomaly import DETECTORS, create
from cepkit.errors import CepkitError
from cepkit.rules import AnomalyTrigger, MetricTrigger, Rule, parse_rule

__all__ = [
    "Incident",
    "Incidents",
    "alert_budget",
    "detector_params",
    "from_rule",
    "recommend",
    "setting_label",
    "sweep",
    "tuned_rule",
]

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
    def from_labels(
        cls,
        source: str | Path | IO[str] | pd.DataFrame,
        *,
        group: str = "host",
        rule_name: str | None = None,
        min_seconds: float = 1.0,
    ) -> Incidents:
        """The operators' verdicts the server exports (``GET /cep/events/labels?format=csv``,
        a file, a URL or a DataFrame): events acknowledged as real (``label`` ``incident``)
        become incidents, the ones dismissed as noise do not. An instant (a per-event
        firing) becomes a window of ``min_seconds``. ``rule_name`` keeps one rule's.

        >>> import io
        >>> rows = ["start,end,label,rule_id,rule_name,event_id,host",
        ...         "2026-02-08T10:00:00+00:00,2026-02-08T10:05:00+00:00,incident,r,cpu,e1,a",
        ...         "2026-02-08T11:00:00+00:00,2026-02-08T11:00:00+00:00,noise,r,cpu,e2,b"]
        >>> text = chr(10).join(rows)
        >>> [(i.end - i.start, i.group) for i in Incidents.from_labels(io.StringIO(text))]
        [(300.0, 'a')]
        """
        frame = source if isinstance(source, pd.DataFrame) else pd.read_csv(source)
        for column in ("start", "end", "label"):
            if column not in frame.columns:
                raise CepkitError(f"labels: missing column {column!r}")
        keep = frame["label"] == "incident"
        if rule_name is not None:
            keep &= frame["rule_name"] == rule_name
        chosen = frame[keep]
        incidents = cls.from_frame(chosen, group=group)
        return cls(Incident(i.start, max(i.end, i.start + min_seconds), i.group) for i in incidents)

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


_BLOCK = 1 << 15  # scores placed at once among the cuts: the temporaries stay in cache


def _grid_position(scores: np.ndarray, grid: tuple[float, float], out: np.ndarray) -> np.ndarray:
    """``rint((scores - origin) * (1 / step))`` into ``out``; monotone in the score."""
    origin, inverse = grid
    with np.errstate(over="ignore"):  # far beyond the cuts: +-inf places just as well
        if origin:
            np.subtract(scores, origin, out=out)
            np.multiply(out, inverse, out=out)
        else:
            np.multiply(scores, inverse, out=out)
    np.rint(out, out=out)
    return out


def _even_grid(cuts: np.ndarray) -> tuple[float, float] | None:
    """``(origin, 1 / step)`` when :func:`_grid_position` gives every cut its own index.

    That position is monotone in the score, so a score with t cuts below it gets
    ``t - 1`` or ``t`` (clipped to the cuts), and one comparison with that cut settles
    which: exact for any score, whatever the rounding. ``linspace`` grids qualify.
    """
    k = len(cuts)
    if k < 2:
        return None
    step = (float(cuts[-1]) - float(cuts[0])) / (k - 1)
    if not (0 < step < math.inf and 0 < 1.0 / step < math.inf):
        return None
    grid = float(cuts[0]), 1.0 / step
    if not (_grid_position(cuts, grid, np.empty(k)) == np.arange(k)).all():
        return None
    return grid


def _place(
    scores: np.ndarray,
    cuts: np.ndarray,
    grid: tuple[float, float],
    out: np.ndarray,
    work: np.ndarray,
) -> np.ndarray:
    """``out[i]``: how many cuts are strictly below ``scores[i]`` (0 for NaN), by arithmetic
    on an :func:`_even_grid` and one comparison (``work``: a float buffer as long)."""
    position = _grid_position(scores, grid, work)
    np.fmax(position, 0.0, out=position)  # NaN goes to 0
    np.fmin(position, len(cuts) - 1, out=position)
    np.copyto(out, position, casting="unsafe")
    out += np.take(cuts, out) < scores
    return out


def _above(scores: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """How many ``scores`` are strictly above each of the sorted ``cuts`` (NaN: above none).

    An even grid (:func:`_even_grid`): each score placed among the cuts in O(1), a block
    at a time, counted per place, and a cumulative sum from the top does the rest. Other
    grids: one sort, then one binary search per cut. No work is repeated per threshold.

    >>> scores = np.array([0.5, np.nan, 2.0, 1.0, -np.inf])
    >>> _above(scores, np.array([0.0, 1.0, 3.0])).tolist()
    [3, 1, 0]
    >>> _above(scores, np.array([0.0, 1.0, 2.0])).tolist()
    [3, 1, 0]
    """
    grid = _even_grid(cuts)
    if grid is None:
        ordered = np.sort(scores)  # NaN last
        valid = np.searchsorted(ordered, np.nan, side="left")
        counts: np.ndarray = valid - np.searchsorted(ordered, cuts, side="right")
        return counts
    per_place = np.zeros(len(cuts) + 1, dtype=np.intp)
    places = np.empty(min(_BLOCK, len(scores)), dtype=np.intp)
    work = np.empty(len(places))
    for at in range(0, len(scores), _BLOCK):
        block = scores[at : at + _BLOCK]
        n = len(block)
        placed = _place(block, cuts, grid, places[:n], work[:n])
        per_place += np.bincount(placed, minlength=len(per_place))
    above: np.ndarray = np.cumsum(per_place[::-1])[::-1][1:]
    return above


def _cuts_below(scores: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """For each score, how many cuts are strictly below it (``searchsorted(side="left")``;
    0 for NaN, which passes no cut): arithmetic on an even grid, else a binary search.

    >>> _cuts_below(np.array([0.5, np.nan, 2.0, 1.0, -np.inf]), np.array([0.0, 1.0, 2.0]))
    array([1, 0, 2, 1, 0])
    """
    grid = _even_grid(cuts)
    if grid is None:
        found: np.ndarray = np.searchsorted(cuts, np.where(np.isnan(scores), -np.inf, scores))
        return found
    out = np.empty(len(scores), dtype=np.intp)
    work = np.empty(min(_BLOCK, len(scores)))
    for at in range(0, len(scores), _BLOCK):
        block = scores[at : at + _BLOCK]
        _place(block, cuts, grid, out[at : at + _BLOCK], work[: len(block)])
    return out


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The positions of the ranges ``[lo[i], hi[i])`` one after another (``hi >= lo``).

    >>> _ranges(np.array([5, 0, 2]), np.array([7, 0, 4])).tolist()
    [5, 6, 2, 3]
    """
    lengths = hi - lo
    shift = np.repeat(lo - (np.cumsum(lengths) - lengths), lengths)
    positions: np.ndarray = np.arange(len(shift)) + shift
    return positions


def _union(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ranges ``[lo[i], hi[i])`` merged into disjoint ranges, in order.

    >>> [r.tolist() for r in _union(np.array([4, 0, 1, 9]), np.array([6, 3, 2, 9]))]
    [[0, 4], [3, 6]]
    """
    keep = hi > lo
    order = np.argsort(lo[keep], kind="stable")
    lo, hi = lo[keep][order], hi[keep][order]
    if not len(lo):
        return lo, hi
    reach = np.maximum.accumulate(hi)
    opens = np.flatnonzero(np.append(True, lo[1:] > reach[:-1]))
    return lo[opens], reach[np.append(opens[1:] - 1, len(lo) - 1)]


_CELLS = 1 << 20  # (incident, threshold) pairs judged at once: bounds memory


@dataclass
class _Totals:
    """Per threshold, summed over the groups of one setting: what each result row needs."""

    alerts: np.ndarray  # points scoring above the threshold
    inside: np.ndarray  # such points inside an incident
    detected: np.ndarray  # incidents with such a point
    delay_sum: np.ndarray  # over detected incidents: first such point minus the start
    incidents: int = 0

    @classmethod
    def zeros(cls, k: int) -> _Totals:
        return cls(np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k))

    def add(
        self, scores: np.ndarray, times: np.ndarray, incidents: Sequence[Incident], cuts: np.ndarray
    ) -> None:
        """Judge one group's scores (``times`` sorted) at every cut at once."""
        self.alerts += _above(scores, cuts)
        self.incidents += len(incidents)
        if not incidents:
            return
        starts = np.fromiter((i.start for i in incidents), dtype=float, count=len(incidents))
        ends = np.fromiter((i.end for i in incidents), dtype=float, count=len(incidents))
        lo = np.searchsorted(times, starts, side="left")
        hi = np.maximum(np.searchsorted(times, ends, side="left"), lo)
        self.inside += _above(scores[_ranges(*_union(lo, hi))], cuts)
        per = max(1, _CELLS // max(len(cuts), 1))
        for a in range(0, len(incidents), per):
            chunk = slice(a, a + per)
            hit, delay = _first_alerts(scores, times, starts[chunk], lo[chunk], hi[chunk], cuts)
            self.detected += hit.sum(axis=0)
            # one incident after another, as a running sum would add them
            self.delay_sum = np.cumsum(np.vstack([self.delay_sum, delay]), axis=0)[-1]

    def columns(self, span_days: float, labelled: bool) -> dict[str, np.ndarray]:
        """The figures of every threshold, as result columns."""
        out = {"alerts": self.alerts.astype(np.int64), "alerts_per_day": self.alerts / span_days}
        if labelled:
            with np.errstate(divide="ignore", invalid="ignore"):
                precision = np.where(self.alerts > 0, self.inside / self.alerts, np.nan)
                none = np.full(len(self.alerts), np.nan)
                recall = self.detected / self.incidents if self.incidents else none
                both = precision + recall
                out["precision"] = precision
                out["recall"] = recall
                out["f1"] = np.where(
                    (both != 0) & (both == both), 2 * precision * recall / both, 0.0
                )
                out["mean_delay_s"] = np.where(
                    self.detected > 0, self.delay_sum / self.detected, np.nan
                )
        return out


def _first_alerts(
    scores: np.ndarray,
    times: np.ndarray,
    starts: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    cuts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per (incident, cut): whether a point of ``[lo, hi)`` scores above the cut, and the
    delay of the first one (its time minus the incident's start; 0 where none does).

    The incidents' points are laid end to end; incident i's points count the cuts below
    them offset by ``i * (k + 1)``, so one running maximum over all of them is each
    incident's own running maximum, and one binary search per (incident, cut) finds the
    first point that passes the cut.
    """
    k, m = len(cuts), len(lo)
    at = _ranges(lo, hi)
    if not len(at):
        return np.zeros((m, k), dtype=bool), np.zeros((m, k))
    lengths = hi - lo
    offsets = np.arange(m) * (k + 1)
    running = np.maximum.accumulate(_cuts_below(scores[at], cuts) + np.repeat(offsets, lengths))
    first = np.searchsorted(running, offsets[:, None] + np.arange(k), side="right")
    hit = first < np.cumsum(lengths)[:, None]
    when = times[at][np.minimum(first, len(at) - 1)]
    return hit, np.where(hit, when - starts[:, None], 0.0)


def from_rule(rule: Rule | Mapping[str, Any]) -> tuple[str, str, dict[str, list[Any]]]:
    """(method, value column, grid pinned to the rule's parameters) of a rule.

    An anomaly rule sweeps its detector on its ``value_path``, a metric rule with a
    ``metric_name`` its threshold; any other rule raises ValueError (a document that is
    not a rule, :class:`cepkit.errors.RuleValidationError`).

    >>> from_rule({"rule_name": "cpu", "trigger_type": "metric",
    ...            "trigger_spec": {"metric_name": "cpu", "operator": ">", "threshold": 90}})
    ('threshold', 'cpu', {})
    >>> from_rule({"rule_name": "lat", "trigger_type": "anomaly", "trigger_spec":
    ...            {"value_path": "ms", "anomaly_method": "ema", "alpha": 0.2}})[:2]
    ('ema', 'ms')
    """
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
        method, rule_value, pinned = from_rule(method)
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
    series = _series(data, timestamp, value, group)
    span_days = _span_days(series)
    keys = list((grid or {}).keys())
    combos = list(itertools.product(*[(grid or {})[k] for k in keys]))
    parts: list[dict[str, Any]] = []
    for combo in combos:
        params = dict(zip(keys, combo, strict=True))
        totals = _Totals.zeros(len(cuts))
        scored: list[tuple[Any, np.ndarray, np.ndarray, list[Incident]]] = []
        for key, times, values in series:
            incidents = labels.for_group(key) if labels is not None else []
            group_scores = _scores(method, params, values)
            totals.add(group_scores, times, incidents, cuts)
            if nab_profile is not None:
                scored.append((key, times, group_scores, incidents))
        part: dict[str, Any] = totals.columns(span_days, labels is not None)
        if nab_profile is not None and labels is not None:
            part[f"nab_{nab_profile}"] = _nab_scores(scored, cuts, nab_profile)
        parts.append(part)
    if not parts or not len(cuts):
        return pd.DataFrame()
    columns: dict[str, Any] = {"method": [method] * (len(combos) * len(cuts))}
    for i, key in enumerate(keys):
        columns[key] = [combo[i] for combo in combos for _ in cuts]
    columns["threshold"] = np.tile(cuts, len(combos))
    for name in parts[0]:
        columns[name] = np.concatenate([part[name] for part in parts])
    return pd.DataFrame(columns)


def _series(
    data: pd.DataFrame, timestamp: str, value: str, group: str | None
) -> list[tuple[Any, np.ndarray, np.ndarray]]:
    """Per group: (key, times sorted, values in time order), prepared once for every
    setting; without groups the columns' own arrays (no copy when already in order)."""
    all_times = _epoch(data[timestamp])
    column = data[value]
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "fiu":
        all_values = column.to_numpy(dtype=float)  # no copy for a float column
    else:
        all_values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    if group is None:
        parts: Iterable[tuple[Any, np.ndarray, np.ndarray]] = [(None, all_times, all_values)]
    else:
        parts = (
            (key, all_times[rows_of], all_values[rows_of])
            for key, rows_of in data.groupby(group, sort=False).indices.items()
        )
    series = []
    for key, times, values in parts:
        if len(times) > 1 and not (times[1:] >= times[:-1]).all():
            order = np.argsort(times, kind="stable")
            times, values = times[order], values[order]
        series.append((key, times, values))
    return series


def _span_days(series: Sequence[tuple[Any, np.ndarray, np.ndarray]]) -> float:
    """Days from the first to the last timestamp (at least one second's worth)."""
    # times are sorted with NaN last: the ends are the extremes unless NaN is among them
    ends = np.array([t[i] for _, t, _ in series if len(t) for i in (0, -1)], dtype=float)
    if np.isnan(ends).any():
        ends = np.concatenate([t for _, t, _ in series])
    return max(float(np.nanmax(ends) - np.nanmin(ends)) / 86400.0, 1 / 86400.0)


def _nab_scores(
    scored: Sequence[tuple[Any, np.ndarray, np.ndarray, list[Incident]]],
    cuts: np.ndarray,
    profile: str,
) -> list[float]:
    """The NAB score of "alert where score > cut" for each cut; groups are files.

    The corpus rows (credits, windows) are gathered once; each cut then only tallies its
    detections, exactly as :func:`cepkit.nab.score_corpus` at a fixed threshold does.
    """
    from cepkit.nab import (
        Corpus,
        DataFile,
        NabError,
        ScoredRows,
        Window,
        normalised_score,
    )

    files, raw = [], []
    for key, times, group_scores, incidents in scored:
        raw.append(group_scores)
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
    if profile not in corpus.profiles:
        raise NabError(f"unknown profile {profile!r}; the corpus has {sorted(corpus.profiles)}")
    weights = corpus.profiles[profile]
    rows = ScoredRows.gather(corpus, {f.name: np.zeros(f.n_rows) for f in files})
    scores = np.concatenate([s[f.probationary_length :] for f, s in zip(files, raw, strict=True)])
    null = -weights.fn_weight * rows.n_windows
    perfect = weights.tp_weight * corpus.n_windows
    out = []
    for cut in cuts:
        detected = ScoredRows(
            (scores > cut).astype(float), rows.sigmoid, rows.window, rows.n_windows
        )
        tally = detected.at_threshold(weights, 1.0)
        out.append(float(normalised_score(tally.raw_score, null, perfect)))
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


#: the detector parameters a sweep row may carry (its setting)
_SETTING_KEYS = ("window", "multiplier", "alpha")


def detector_params(row: Mapping[str, Any]) -> dict[str, Any]:
    """The detector parameters of a sweep row: an int ``window``, float others; a
    parameter the row lacks (missing, None or NaN) is left out.

    >>> detector_params({"method": "iqr", "window": 60.0, "multiplier": 1.5, "alpha": None})
    {'window': 60, 'multiplier': 1.5}
    """
    out: dict[str, Any] = {}
    for key in _SETTING_KEYS:
        value = row.get(key)
        if value is not None and not pd.isna(value):
            out[key] = int(value) if key == "window" else float(value)
    return out


def setting_label(row: Mapping[str, Any], *, sep: str = " ") -> str:
    """A sweep row's setting as text: its method, then its :func:`detector_params`.

    >>> row = {"method": "iqr", "window": 60.0, "multiplier": 1.5, "threshold": 2.0}
    >>> setting_label(row), setting_label(row, sep=", "), setting_label({"method": "threshold"})
    ('iqr window=60 multiplier=1.5', 'iqr window=60, multiplier=1.5', 'threshold')
    """
    params = [f"{k}={v:g}" for k, v in detector_params(row).items()]
    return f"{row['method']} {sep.join(params)}" if params else str(row["method"])


def tuned_rule(
    document: Mapping[str, Any], row: Mapping[str, Any], group: str | None = None
) -> dict[str, Any]:
    """A copy of the rule ``document`` with the method, parameters and threshold of a
    sweep ``row``; ``group`` (when given) becomes its ``group_by``.

    A ``threshold`` row sets a metric rule's threshold. IQR has no threshold of its own:
    scoring ``t`` IQRs beyond the fences at ``k`` is being beyond the fences at ``k + t``,
    so its multiplier becomes ``k + t``. Other detectors get the row's threshold.

    >>> rule = {"rule_name": "r", "trigger_type": "anomaly",
    ...         "trigger_spec": {"value_path": "v", "anomaly_method": "zscore"}}
    >>> row = {"method": "iqr", "window": 60.0, "multiplier": 1.5, "threshold": 2.0}
    >>> tuned_rule(rule, row, "host")["trigger_spec"]
    {'value_path': 'v', 'anomaly_method': 'iqr', 'window': 60, 'multiplier': 3.5}
    """
    doc = dict(document)
    spec = dict(doc["trigger_spec"])
    threshold = float(row["threshold"])
    if row["method"] == "threshold":
        spec["threshold"] = threshold
    else:
        spec["anomaly_method"] = row["method"]
        spec.update(detector_params(row))
        if row["method"] == "iqr":
            spec["multiplier"] = float(row["multiplier"]) + threshold
            spec.pop("threshold", None)
        else:
            spec["threshold"] = threshold
    doc["trigger_spec"] = spec
    if group:
        doc["group_by"] = [group]
    return doc


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
