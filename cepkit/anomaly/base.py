"""The detector contract: ``score_one`` scores against the history so far, ``learn_one`` adds.

A detector is causal: the score of x uses only values learned before x. Below
``min_baseline`` learned values ``score_one`` returns None (baseline insufficient) and
:meth:`Detector.check` never reports an anomaly.

Every detector also offers

- ``score_series(values)``: the scores of a whole series at once, from an empty history
  (element t is what ``score_one(values[t])`` returns after learning ``values[:t]``;
  NaN where the baseline is insufficient), vectorised where the method allows it;
- ``snapshot()`` / ``restore(state)``: the whole state as a JSON-serialisable dict and
  back, so that a restored detector continues exactly where the original stopped.

Learned values must be finite (``learn_one`` and ``score_series`` raise ValueError on
NaN or infinity). Scores are accurate to about 1e-10 relative for values whose magnitude
(and whose pairwise differences) lie between 1e-100 and 1e100; a zero spread gives a
score of 0 for a value equal to the baseline and infinity otherwise.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict

__all__ = ["SNAPSHOT_VERSION", "Detector", "DetectorStatus", "Verdict"]

#: version of the :meth:`Detector.snapshot` layout
SNAPSHOT_VERSION = 1

Floats = NDArray[np.float64]


class DetectorStatus(BaseModel):
    """The baseline as the API shows it (``/anomaly-status``)."""

    model_config = ConfigDict(frozen=True)

    method: str
    n: int
    ready: bool
    mean: float | None = None
    std: float | None = None
    q1: float | None = None
    q3: float | None = None
    ema: float | None = None
    median: float | None = None
    mad: float | None = None


class Verdict(BaseModel):
    """One value judged: ``status`` is ``ok`` or ``baseline_insufficient``."""

    model_config = ConfigDict(frozen=True)

    is_anomaly: bool
    score: float | None
    method: str
    status: str
    details: dict[str, Any]


class Detector(ABC):
    """Base of every detector.

    A subclass sets ``name`` and ``reports`` (the :class:`DetectorStatus` fields its
    ``status()`` fills once two values are learned) and implements ``n``, ``learn_one``,
    ``score_one``, ``status``, ``params``, ``_get_state`` and ``_set_state``; it overrides
    ``score_series`` with a vectorised version where it can.
    """

    name: ClassVar[str]
    reports: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, threshold: float = 3.0, min_baseline: int = 30) -> None:
        if min_baseline < 1:
            raise ValueError("min_baseline must be at least 1")
        self.threshold = threshold
        self.min_baseline = min_baseline

    @property
    @abstractmethod
    def n(self) -> int:
        """How many values are in the baseline now."""

    @abstractmethod
    def learn_one(self, x: float) -> None:
        """Add ``x`` to the history."""

    @abstractmethod
    def status(self) -> DetectorStatus:
        """The current baseline."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The constructor parameters: ``type(self)(**self.params())`` is a fresh twin."""

    @abstractmethod
    def _get_state(self) -> dict[str, Any]:
        """The learned state as JSON-serialisable values."""

    @abstractmethod
    def _set_state(self, state: Mapping[str, Any]) -> None:
        """Load a state produced by :meth:`_get_state`."""

    def is_anomalous(self, score: float) -> bool:
        """Whether ``score`` is an anomaly (default: above the threshold)."""
        return score > self.threshold

    @abstractmethod
    def score_one(self, x: float) -> float | None:
        """The score of ``x`` against the history, or None while the baseline is insufficient
        (fewer than ``min_baseline`` values learned); never learns ``x``."""

    def score_learn_one(self, x: float) -> float | None:
        """``score_one(x)`` then ``learn_one(x)`` in one call (the engine's hot path);
        detectors may fuse the two, with the same result."""
        score = self.score_one(x)
        self.learn_one(x)
        return score

    def score_learn_many(self, xs: Sequence[float], start: int = 0) -> list[float | None]:
        """:meth:`score_learn_one` of ``xs[start:]`` in order, stopping right after the
        first anomalous score (so the caller reads :meth:`status` as it was then): the
        scores of the values taken, the last one the anomaly unless every value was taken.
        Detectors may fuse the loop, with the same result.

        >>> from cepkit.anomaly import create
        >>> det = create("zscore", window=10, min_baseline=3, threshold=3.0)
        >>> xs = [10.0, 11.0, 9.0, 10.0, 50.0, 10.0]
        >>> [None if s is None else round(s, 2) for s in det.score_learn_many(xs)]
        [None, None, None, 0.0, 48.99]
        >>> [round(s, 3) for s in det.score_learn_many(xs, 5)], det.n
        ([0.447], 6)
        """
        out: list[float | None] = []
        for i in range(start, len(xs)):
            score = self.score_learn_one(xs[i])
            out.append(score)
            if score is not None and self.is_anomalous(score):
                break
        return out

    def score_learn_stretches(
        self, xs: Sequence[float]
    ) -> Iterator[tuple[int, list[float | None]]]:
        """:meth:`score_learn_many` over the whole of ``xs``, one stretch at a time: each
        stretch's end (one past its last position) and scores; every stretch but the last
        ends with an anomaly, read before the next stretch is learned.

        >>> from cepkit.anomaly import create
        >>> det = create("zscore", window=10, min_baseline=3, threshold=3.0)
        >>> [end for end, _ in det.score_learn_stretches([10.0, 11.0, 9.0, 10.0, 50.0, 10.0])]
        [5, 6]
        """
        start = 0
        while start < len(xs):
            scores = self.score_learn_many(xs, start)
            start += len(scores)
            yield start, scores

    def check(self, x: float) -> Verdict:
        """Judge ``x`` without learning it."""
        score = self.score_one(x)
        details = self.status().model_dump(exclude={"method"})
        if score is None:
            details["min_baseline"] = self.min_baseline
            return Verdict(
                is_anomaly=False,
                score=None,
                method=self.name,
                status="baseline_insufficient",
                details=details,
            )
        details["threshold"] = self.threshold
        return Verdict(
            is_anomaly=self.is_anomalous(score),
            score=score,
            method=self.name,
            status="ok",
            details=details,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle and deep-copy through :meth:`snapshot` (state may live in closures)."""
        return (_restore_snapshot, (type(self), self.snapshot()))

    def fresh(self) -> Self:
        """A new detector with the same parameters and an empty history."""
        return type(self)(**self.params())

    def score_series(self, values: ArrayLike) -> Floats:
        """Scores of ``values`` from an empty history (NaN while the baseline is insufficient).

        Element t equals ``score_one(values[t])`` after ``learn_one`` of ``values[:t]``.
        This default runs the streaming loop; detectors override it with a vectorised one.
        """
        return stream_scores(self.fresh(), as_series(values))

    def snapshot(self) -> dict[str, Any]:
        """The detector (parameters and learned state) as a JSON-serialisable dict."""
        return {
            "method": self.name,
            "version": SNAPSHOT_VERSION,
            "params": self.params(),
            "state": self._get_state(),
        }

    @classmethod
    def restore(cls, snapshot: Mapping[str, Any]) -> Self:
        """The detector a :meth:`snapshot` describes; raises ValueError if it is not one."""
        name = getattr(cls, "name", None)
        if name is None:
            raise TypeError("restore on a concrete detector class, or use cepkit.anomaly.restore")
        try:
            method, version = snapshot["method"], snapshot["version"]
            params, state = snapshot["params"], snapshot["state"]
        except (KeyError, TypeError):
            raise ValueError(
                "not a detector snapshot: expected keys method, version, params, state"
            ) from None
        if method != name:
            raise ValueError(f"snapshot is of method {method!r}, not {name!r}")
        if version != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported snapshot version {version!r}")
        try:
            detector = cls(**params)
        except TypeError as exc:
            raise ValueError(f"bad {name} snapshot params: {exc}") from exc
        try:
            detector._set_state(state)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad {name} snapshot state: {exc}") from exc
        return detector


def ratio(distance: float, scale: float) -> float:
    """``distance / scale`` where a zero scale gives 0 (no distance) or infinity."""
    if scale > 0:
        return distance / scale
    return 0.0 if distance == 0 else math.inf


def ratio_array(distance: Floats, scale: Floats) -> Floats:
    """:func:`ratio` element-wise."""
    out = np.where(distance == 0, 0.0, math.inf)
    positive = scale > 0
    np.divide(distance, scale, out=out, where=positive)
    return out


def as_series(values: ArrayLike) -> Floats:
    """``values`` as a 1-D float64 array; raises ValueError unless it is one of finite numbers."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"score_series expects a 1-D series, got {array.ndim} dimensions")
    if not np.isfinite(array).all():
        raise ValueError("score_series expects finite values (no NaN or infinity)")
    return array


def finite(x: float) -> float:
    """``float(x)``, raising ValueError for NaN or infinity (which would poison a baseline)."""
    value = float(x)
    if not math.isfinite(value):
        raise ValueError(f"cannot learn a non-finite value: {value!r}")
    return value


def check_window(window: int | None) -> None:
    """A window is None (expanding) or a positive number of values."""
    if window is not None and window < 1:
        raise ValueError(f"window must be None (expanding) or at least 1, got {window}")


def stream_scores(detector: Detector, values: Floats) -> Floats:
    """The reference loop: score each value, then learn it."""
    out = np.full(len(values), np.nan)
    for t, x in enumerate(values.tolist()):
        score = detector.score_one(x)
        if score is not None:
            out[t] = score
        detector.learn_one(x)
    return out


def _restore_snapshot(cls: type[Detector], state: Mapping[str, Any]) -> Detector:
    return cls.restore(state)
