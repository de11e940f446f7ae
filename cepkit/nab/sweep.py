"""The scored rows of a corpus and the raw NAB score at every threshold, in one pass.

:meth:`ScoredRows.gather` keeps, for every row past its file's probationary period, the
detector's anomaly score, ``S`` (:mod:`cepkit.nab.credit`) and a corpus-wide window id
(NAB's ``anomalyList``). A detection is a row whose score is ``>= threshold``. At a
threshold the raw score is

    sum over windows of (the best credit of its detections, or -A_FN if none)
    + sum over detections outside windows of A_FP * S

:meth:`ScoredRows.sweep` evaluates it at every distinct score (and at
:data:`NO_DETECTION`) by sorting the rows once, descending, and accumulating per-row
increments: an FP row adds its cost, a window row adds how much it raises its window's
best credit so far. :meth:`ScoredRows.at_threshold` scores one threshold directly.

>>> import numpy as np
>>> from cepkit.nab.corpus import Corpus, DataFile, Window
>>> from cepkit.nab.profiles import PROFILES
>>> f = DataFile("d/f.csv", np.arange(10).astype("datetime64[s]"), np.zeros(10), (Window(6, 8),))
>>> scores = np.array([0, 0, 0, 0.9, 0, 0, 0.5, 0.7, 0, 0])
>>> rows = ScoredRows.gather(Corpus((f,)), {"d/f.csv": scores})
>>> sweep = rows.sweep(PROFILES["standard"])
>>> sweep.thresholds.tolist()
[1.1, 0.9, 0.7, 0.5, 0.0]
>>> [round(v, 4) for v in sweep.raw_scores.tolist()]
[-1.0, -1.11, 0.8337, 0.89, 0.3567]
>>> float(sweep.threshold), round(float(sweep.raw_score), 4)
(0.5, 0.89)
>>> rows.at_threshold(PROFILES["standard"], 0.5)
Tally(raw_score=0.89, tp=1, fp=1, fn=0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cepkit.nab.corpus import Corpus
from cepkit.nab.credit import MAX_TP, row_positions
from cepkit.nab.errors import NabError
from cepkit.nab.profiles import Profile

__all__ = ["NO_DETECTION", "ScoredRows", "Tally", "ThresholdSweep", "check_scores"]

NO_DETECTION = 1.1
"""The threshold above every score in ``[0, 1]``: nothing is detected (NAB's start)."""

Floats = NDArray[np.float64]


def check_scores(corpus: Corpus, scores_by_file: Mapping[str, ArrayLike]) -> dict[str, Floats]:
    """``scores_by_file`` as float64 arrays, checked: one per corpus file, one score per
    row, each finite and in ``[0, 1]``. Raises :class:`NabError` naming the file.
    """
    missing = [name for name in corpus.names if name not in scores_by_file]
    extra = sorted(set(scores_by_file) - set(corpus.names))
    if missing or extra:
        raise NabError(f"scores must cover the corpus files: missing {missing}, unknown {extra}")
    checked = {}
    for file in corpus:
        scores = np.asarray(scores_by_file[file.name], dtype=np.float64)
        if scores.shape != (file.n_rows,):
            raise NabError(f"{file.name}: {scores.shape} scores for {file.n_rows} rows")
        bad = ~((scores >= 0.0) & (scores <= 1.0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            value = float(scores[row])
            raise NabError(f"{file.name}: row {row} scores {value!r}, not in [0, 1]")
        checked[file.name] = scores
    return checked


@dataclass(frozen=True)
class Tally:
    """The raw score at one threshold, with windows hit (``tp``) and missed (``fn``) and
    detections outside windows (``fp``, each of which is charged)."""

    raw_score: float
    tp: int
    fp: int
    fn: int


@dataclass(frozen=True, eq=False)
class ThresholdSweep:
    """Raw scores at every candidate threshold, thresholds descending.

    ``thresholds[0]`` is :data:`NO_DETECTION`; the others are the distinct scores of the
    scored rows. The best threshold is the highest among those with the maximal raw score.
    """

    profile: Profile
    thresholds: Floats
    raw_scores: Floats

    @property
    def best(self) -> int:
        """Index of the best threshold (the first maximum)."""
        return int(np.argmax(self.raw_scores))

    @property
    def threshold(self) -> float:
        """The best threshold."""
        return float(self.thresholds[self.best])

    @property
    def raw_score(self) -> float:
        """The raw score at the best threshold."""
        return float(self.raw_scores[self.best])


@dataclass(frozen=True, eq=False)
class _Descending:
    """The rows sorted by score, descending, ties in corpus order (as NAB's ``sorted``)."""

    sigmoid: Floats
    inside: NDArray[np.bool_]
    groups: tuple[NDArray[np.intp], ...]  # sorted positions of each window's rows
    last_of_score: NDArray[np.intp]  # sorted positions that end a run of equal scores
    thresholds: Floats  # NO_DETECTION, then each distinct score

    @classmethod
    def of(cls, rows: ScoredRows) -> _Descending:
        order = np.argsort(-rows.scores, kind="stable")
        scores = rows.scores[order]
        window = rows.window[order]
        at = np.flatnonzero(window >= 0)
        by_window = at[np.argsort(window[at], kind="stable")]
        cuts = np.flatnonzero(np.diff(window[by_window])) + 1
        last = np.flatnonzero(np.append(scores[1:] != scores[:-1], True))[: len(scores)]
        return cls(
            sigmoid=rows.sigmoid[order],
            inside=window >= 0,
            groups=tuple(np.split(by_window, cuts)) if len(by_window) else (),
            last_of_score=last,
            thresholds=np.concatenate(([NO_DETECTION], scores[last])),
        )


@dataclass(frozen=True, eq=False)
class ScoredRows:
    """Every scored row of a corpus (past its probationary period), in corpus order.

    ``window`` is a corpus-wide window id, ``-1`` outside windows; ``n_windows`` counts
    the windows with at least one scored row (those that can be hit or missed).
    """

    scores: Floats
    sigmoid: Floats
    window: NDArray[np.intp]
    n_windows: int

    @classmethod
    def gather(cls, corpus: Corpus, scores_by_file: Mapping[str, ArrayLike]) -> ScoredRows:
        """The scored rows of ``corpus`` under the detector's ``scores_by_file``."""
        checked = check_scores(corpus, scores_by_file)
        scores, sigmoids, windows = [], [], []
        offset = 0
        for file in corpus:
            sigmoid, window = row_positions(file)
            start = file.probationary_length
            scores.append(checked[file.name][start:])
            sigmoids.append(sigmoid[start:])
            windows.append(np.where(window[start:] >= 0, window[start:] + offset, -1))
            offset += len(file.windows)
        window_ids = np.concatenate(windows) if windows else np.empty(0, np.intp)
        return cls(
            scores=np.concatenate(scores) if scores else np.empty(0),
            sigmoid=np.concatenate(sigmoids) if sigmoids else np.empty(0),
            window=window_ids,
            n_windows=len(np.unique(window_ids[window_ids >= 0])),
        )

    def credits(self, profile: Profile) -> Floats:
        """Each row's credit if detected: ``A_TP * S / S(-1)`` in windows, else ``A_FP * S``."""
        return np.where(
            self.window >= 0,
            self.sigmoid * profile.tp_weight / MAX_TP,
            self.sigmoid * profile.fp_weight,
        )

    @cached_property
    def _descending(self) -> _Descending:
        return _Descending.of(self)

    def sweep(self, profile: Profile) -> ThresholdSweep:
        """The raw score at :data:`NO_DETECTION` and at every distinct score."""
        rows = self._descending
        base = -profile.fn_weight * self.n_windows
        fp_credit = rows.sigmoid * profile.fp_weight
        # FP rows add their cost, accumulated in the same order as NAB's running sum.
        fp_total = np.cumsum(np.where(rows.inside, 0.0, fp_credit))
        # Window rows add how much they raise their window's best credit so far.
        raised = np.zeros(len(rows.sigmoid))
        for group in rows.groups:
            credit = rows.sigmoid[group] * profile.tp_weight / MAX_TP
            best = np.maximum.accumulate(np.maximum(credit, -profile.fn_weight))
            raised[group] = np.diff(best, prepend=-profile.fn_weight)
        raw_after = fp_total + (base + np.cumsum(raised))
        return ThresholdSweep(
            profile=profile,
            thresholds=rows.thresholds,
            raw_scores=np.concatenate(([base], raw_after[rows.last_of_score])),
        )

    def at_threshold(self, profile: Profile, threshold: float) -> Tally:
        """The raw score and counts when rows scoring ``>= threshold`` are detections."""
        detected = self.scores >= threshold
        credit = self.credits(profile)
        outside = detected & (self.window < 0)
        inside = detected & (self.window >= 0)
        best = np.full(int(self.window.max(initial=-1)) + 1, -profile.fn_weight)
        np.maximum.at(best, self.window[inside], credit[inside])
        present = np.zeros(len(best), dtype=bool)
        present[self.window[self.window >= 0]] = True
        hit = np.zeros(len(best), dtype=bool)
        hit[self.window[inside]] = True
        raw = float(np.sum(best[present]) + np.sum(credit[outside]))
        tp = int(hit.sum())
        return Tally(raw_score=raw, tp=tp, fp=int(outside.sum()), fn=self.n_windows - tp)
