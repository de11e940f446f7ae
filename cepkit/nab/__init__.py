"""The Numenta Anomaly Benchmark (NAB v1.1) scoring procedure, reimplemented.

Contract:

- :func:`load_corpus` reads a NAB folder (``data/``, ``labels/combined_windows.json``,
  ``config/profiles.json``) into a :class:`Corpus`; the library takes that path as an
  argument and reads nothing else.
- A detector is a causal function ``(values, timestamps) -> scores in [0, 1]``;
  :func:`run_detector` runs one over the corpus. :func:`windowed_gaussian` is NAB's
  ``windowedGaussian`` baseline.
- :func:`score_corpus` scores a detector per profile as NAB does: the first 15% of each
  file (at most 750 rows) is not scored, each window earns the scaled-sigmoid credit of
  its earliest detection or costs ``A_FN``, each detection outside windows costs
  ``A_FP * S``, one threshold for the whole corpus maximises the raw score, and the
  result is normalised so that the null detector scores 0 and the perfect one 100.
- NAB's published figures were computed from scores rounded to 12 significant digits
  (Python 2 results files); ``run_detector(..., significant_digits=12)`` does the same.
- Bad input raises :class:`NabError` (a ``CepkitError`` and ``ValueError``) naming the
  file. Nothing is printed; no environment variable is read.

>>> import numpy as np
>>> ts = np.arange(100).astype("datetime64[m]")
>>> values = np.where(np.arange(100) == 60, 9.0, 0.0)
>>> corpus = Corpus((DataFile("demo/one.csv", ts, values, (Window(60, 62),)),))
>>> scores = run_detector(corpus, lambda v, t: (v > 5).astype(float))
>>> score_corpus(corpus, scores).summary()
{'standard': 100.0, 'reward_low_FP_rate': 100.0, 'reward_low_FN_rate': 100.0}
>>> score_corpus(corpus, {"demo/one.csv": np.zeros(100)})["standard"].score
0.0
"""

from cepkit.nab.corpus import (
    PROBATIONARY_PERCENT,
    Corpus,
    DataFile,
    Window,
    load_corpus,
    probationary_length,
    windows_from_limits,
)
from cepkit.nab.credit import MAX_TP, row_positions, scaled_sigmoid
from cepkit.nab.detectors import windowed_gaussian
from cepkit.nab.errors import NabError
from cepkit.nab.profiles import PROFILES, Profile, load_profiles
from cepkit.nab.runner import (
    NAB_SIGNIFICANT_DIGITS,
    DetectorFn,
    read_results,
    round_significant,
    run_detector,
    write_results,
)
from cepkit.nab.scoring import NabResult, ProfileScore, normalised_score, score_corpus
from cepkit.nab.sweep import NO_DETECTION, ScoredRows, Tally, ThresholdSweep, check_scores

__all__ = [
    "MAX_TP",
    "NAB_SIGNIFICANT_DIGITS",
    "NO_DETECTION",
    "PROBATIONARY_PERCENT",
    "PROFILES",
    "Corpus",
    "DataFile",
    "DetectorFn",
    "NabError",
    "NabResult",
    "Profile",
    "ProfileScore",
    "ScoredRows",
    "Tally",
    "ThresholdSweep",
    "Window",
    "check_scores",
    "load_corpus",
    "load_profiles",
    "normalised_score",
    "probationary_length",
    "read_results",
    "round_significant",
    "row_positions",
    "run_detector",
    "scaled_sigmoid",
    "score_corpus",
    "windowed_gaussian",
    "windows_from_limits",
    "write_results",
]
