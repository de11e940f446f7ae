"""Run a detector over a corpus, and write or read its scores as NAB results files.

A detector is a function ``detector_fn(values, timestamps) -> scores``: given a whole
series (read-only ``float64`` values and ``datetime64[us]`` timestamps) it returns one
anomaly score in ``[0, 1]`` per row. It must be causal: the score of row ``i`` may depend
on rows ``0..i`` only (the function sees the whole series for speed; nothing checks it).

NAB's published scores were computed from results CSV files written by Python 2, which
keeps 12 significant digits of a float (``str(0.9999999999997738) == '1.0'``). Pass
``significant_digits=NAB_SIGNIFICANT_DIGITS`` to :func:`run_detector` to score a
detector as the scoreboard did; it matters for detectors whose scores crowd near 1.

>>> import numpy as np
>>> round_significant(np.array([0.9999999999997738, 0.123456789012345]), 12).tolist()
[1.0, 0.123456789012]
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from cepkit.nab.corpus import Corpus
from cepkit.nab.errors import NabError
from cepkit.nab.sweep import check_scores

__all__ = [
    "NAB_SIGNIFICANT_DIGITS",
    "DetectorFn",
    "read_results",
    "round_significant",
    "run_detector",
    "write_results",
]

NAB_SIGNIFICANT_DIGITS = 12
"""Digits of the anomaly scores in NAB's results files (Python 2 ``str(float)``)."""

DetectorFn = Callable[[NDArray[np.float64], NDArray[np.datetime64]], ArrayLike]
"""``detector_fn(values, timestamps) -> one anomaly score in [0, 1] per row``."""


def round_significant(scores: ArrayLike, digits: int) -> NDArray[np.float64]:
    """``scores`` rounded to ``digits`` significant decimal digits (``'%.{digits}g'``)."""
    if digits < 1:
        raise NabError(f"significant digits must be >= 1, got {digits}")
    flat = np.asarray(scores, dtype=np.float64).ravel().tolist()
    fmt = f"%.{digits}g"
    return np.fromiter((float(fmt % v) for v in flat), np.float64, len(flat))


def run_detector(
    corpus: Corpus, detector_fn: DetectorFn, *, significant_digits: int | None = None
) -> dict[str, NDArray[np.float64]]:
    """``detector_fn`` over every file of ``corpus``: file name -> anomaly scores.

    The scores are checked (one per row, finite, in ``[0, 1]``; :class:`NabError`
    otherwise) and, with ``significant_digits``, rounded as NAB's results files are.

    >>> import numpy as np
    >>> from cepkit.nab.corpus import DataFile
    >>> f = DataFile("d/f.csv", np.arange(3).astype("datetime64[s]"), [1.0, 2.0, 9.0])
    >>> run_detector(Corpus((f,)), lambda v, t: v / v.max())["d/f.csv"].round(3).tolist()
    [0.111, 0.222, 1.0]
    """
    raw = {file.name: detector_fn(file.values, file.timestamps) for file in corpus}
    scores = check_scores(corpus, raw)
    if significant_digits is not None:
        scores = {name: round_significant(s, significant_digits) for name, s in scores.items()}
    return scores


def write_results(
    out_dir: str | Path, corpus: Corpus, scores_by_file: Mapping[str, ArrayLike]
) -> list[Path]:
    """Write ``out_dir/<category>/<file>.csv`` (``timestamp,value,anomaly_score``) per file.

    Timestamps are written as in NAB's data (``2014-07-01 00:00:00``), floats in full
    (round-trip) precision. Returns the paths written.

    >>> import tempfile
    >>> from cepkit.nab.corpus import DataFile
    >>> f = DataFile("d/f.csv", np.arange(2).astype("datetime64[h]"), [3.0, 4.5])
    >>> corpus = Corpus((f,))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     [path] = write_results(tmp, corpus, {"d/f.csv": [0.0, 0.75]})
    ...     print(path.read_text(), end="")
    ...     read_results(tmp, corpus)["d/f.csv"].tolist()
    timestamp,value,anomaly_score
    1970-01-01 00:00:00,3.0,0.0
    1970-01-01 01:00:00,4.5,0.75
    [0.0, 0.75]
    """
    checked = check_scores(corpus, scores_by_file)
    written = []
    for file in corpus:
        path = Path(out_dir) / file.name
        path.parent.mkdir(parents=True, exist_ok=True)
        stamps = np.datetime_as_string(file.timestamps, unit="s")
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["timestamp", "value", "anomaly_score"])
            for stamp, value, score in zip(
                stamps.tolist(), file.values.tolist(), checked[file.name].tolist(), strict=True
            ):
                writer.writerow([stamp.replace("T", " "), repr(value), repr(score)])
        written.append(path)
    return written


def read_results(
    results_dir: str | Path, corpus: Corpus, *, detector: str | None = None
) -> dict[str, NDArray[np.float64]]:
    """The ``anomaly_score`` column of each corpus file's results CSV in ``results_dir``.

    Looks for ``<category>/<file>.csv`` (as :func:`write_results` writes) or, given
    ``detector``, NAB's ``<category>/<detector>_<file>.csv``. Each file's timestamps
    must be the corpus file's.
    """
    scores = {}
    for file in corpus:
        category, _, base = file.name.rpartition("/")
        path = Path(results_dir) / file.name
        if detector is not None and not path.exists():
            path = Path(results_dir) / category / f"{detector}_{base}"
        try:
            frame = pd.read_csv(path, dtype={"timestamp": str})
            stamps = frame["timestamp"].to_numpy().astype("datetime64[us]")
            scores[file.name] = frame["anomaly_score"].to_numpy(dtype=np.float64)
        except (OSError, ValueError, KeyError) as exc:
            raise NabError(f"{path}: not a results file with anomaly_score ({exc})") from exc
        if stamps.shape != file.timestamps.shape or not np.array_equal(stamps, file.timestamps):
            raise NabError(f"{path}: timestamps differ from the corpus file {file.name}")
    return check_scores(corpus, scores)
