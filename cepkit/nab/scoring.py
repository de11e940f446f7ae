"""NAB v1.1 scores of a detector over a corpus, per application profile.

:func:`score_corpus` takes a detector's anomaly scores (one array per file, values in
``[0, 1]``), picks for each profile the one corpus-wide threshold that maximises the raw
score (:mod:`cepkit.nab.sweep`; the highest threshold among ties) and normalises the raw
score so that the null detector scores 0 and the perfect detector 100::

    score = 100 * (raw - null) / (perfect - null),  null = -A_FN * windows,
                                                    perfect = A_TP * windows

Pass ``threshold=`` to score at a fixed threshold instead of the optimal one.

>>> import numpy as np
>>> from cepkit.nab.corpus import Corpus, DataFile, Window
>>> f = DataFile("d/f.csv", np.arange(10).astype("datetime64[s]"), np.zeros(10), (Window(6, 8),))
>>> corpus = Corpus((f,))
>>> result = score_corpus(corpus, {"d/f.csv": np.eye(10)[6]})
>>> result["standard"].score, result["standard"].threshold
(100.0, 1.0)
>>> zeros = {"d/f.csv": np.zeros(10)}
>>> score_corpus(corpus, zeros, profiles="reward_low_FN_rate", threshold=0.5).summary()
{'reward_low_FN_rate': 0.0}
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from numpy.typing import ArrayLike

from cepkit.nab.corpus import Corpus
from cepkit.nab.errors import NabError
from cepkit.nab.profiles import Profile
from cepkit.nab.sweep import ScoredRows

__all__ = ["NabResult", "ProfileScore", "normalised_score", "score_corpus"]


def normalised_score(raw: float, null: float, perfect: float) -> float:
    """``100 * (raw - null) / (perfect - null)``; NaN when ``perfect == null`` (no windows).

    >>> normalised_score(0.0, -116.0, 116.0)
    50.0
    """
    if perfect == null:
        return math.nan
    return 100.0 * (raw - null) / (perfect - null)


@dataclass(frozen=True)
class ProfileScore:
    """A detector's NAB result under one profile.

    ``score`` is the normalised score, ``raw_score`` the raw one at ``threshold``;
    ``null_score`` / ``perfect_score`` are the raw scores normalised to 0 and 100. ``tp``
    and ``fn`` count windows hit and missed, ``fp`` the detections outside windows (NAB
    prints row counts instead; they do not enter the score).
    """

    profile: str
    score: float
    threshold: float
    raw_score: float
    null_score: float
    perfect_score: float
    tp: int
    fp: int
    fn: int


@dataclass(frozen=True, eq=False)
class NabResult:
    """The :class:`ProfileScore` of each profile scored, by profile name."""

    scores: Mapping[str, ProfileScore]

    def __post_init__(self) -> None:
        object.__setattr__(self, "scores", MappingProxyType(dict(self.scores)))

    def __getitem__(self, profile: str) -> ProfileScore:
        return self.scores[profile]

    def __iter__(self) -> Iterator[str]:
        return iter(self.scores)

    def __len__(self) -> int:
        return len(self.scores)

    def summary(self) -> dict[str, float]:
        """Normalised score by profile name."""
        return {name: s.score for name, s in self.scores.items()}


def _profiles(
    corpus: Corpus, profiles: str | Profile | Iterable[str | Profile] | None
) -> list[Profile]:
    if profiles is None:
        return list(corpus.profiles.values())
    chosen = [profiles] if isinstance(profiles, str | Profile) else list(profiles)
    resolved = []
    for item in chosen:
        if isinstance(item, Profile):
            resolved.append(item)
        elif item in corpus.profiles:
            resolved.append(corpus.profiles[item])
        else:
            raise NabError(f"unknown profile {item!r}; the corpus has {sorted(corpus.profiles)}")
    if not resolved:
        raise NabError("no profile to score")
    return resolved


def score_corpus(
    corpus: Corpus,
    scores_by_file: Mapping[str, ArrayLike],
    *,
    profiles: str | Profile | Iterable[str | Profile] | None = None,
    threshold: float | None = None,
) -> NabResult:
    """Score a detector's ``scores_by_file`` (file name -> one score in [0, 1] per row).

    ``profiles`` are names in ``corpus.profiles`` or :class:`Profile` objects (default:
    all of the corpus's profiles). Every corpus file needs scores, and no other file may
    appear. Raises :class:`NabError` on missing, misshapen or out-of-range scores.
    """
    rows = ScoredRows.gather(corpus, scores_by_file)
    results = {}
    for profile in _profiles(corpus, profiles):
        chosen = rows.sweep(profile).threshold if threshold is None else float(threshold)
        tally = rows.at_threshold(profile, chosen)
        null = -profile.fn_weight * rows.n_windows
        perfect = profile.tp_weight * corpus.n_windows
        results[profile.name] = ProfileScore(
            profile=profile.name,
            score=normalised_score(tally.raw_score, null, perfect),
            threshold=chosen,
            raw_score=tally.raw_score,
            null_score=null,
            perfect_score=perfect,
            tp=tally.tp,
            fp=tally.fp,
            fn=tally.fn,
        )
    return NabResult(results)
