"""The detector contract: ``score_one`` scores against the history so far, ``learn_one`` adds.

A detector is causal: the score of x uses only values learned before x. Below
``min_baseline`` learned values ``score_one`` returns None (baseline insufficient) and
:meth:`Detector.check` never reports an anomaly.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = ["Detector", "DetectorStatus", "Verdict"]


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


class Verdict(BaseModel):
    """One value judged: ``status`` is ``ok`` or ``baseline_insufficient``."""

    model_config = ConfigDict(frozen=True)

    is_anomaly: bool
    score: float | None
    method: str
    status: str
    details: dict[str, Any]


class Detector(ABC):
    """Base of every detector; subclasses implement the four abstract methods."""

    name: ClassVar[str]

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
    def _score(self, x: float) -> float:
        """Score ``x`` against the history (called only once the baseline is ready)."""

    @abstractmethod
    def status(self) -> DetectorStatus:
        """The current baseline."""

    def is_anomalous(self, score: float) -> bool:
        """Whether ``score`` is an anomaly (default: above the threshold)."""
        return score > self.threshold

    def score_one(self, x: float) -> float | None:
        """The score of ``x`` against the history, or None while the baseline is insufficient."""
        if self.n < self.min_baseline:
            return None
        return self._score(float(x))

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


def ratio(distance: float, scale: float) -> float:
    """``distance / scale`` where a zero scale gives 0 (no distance) or infinity."""
    if scale > 0:
        return distance / scale
    return 0.0 if distance == 0 else math.inf
