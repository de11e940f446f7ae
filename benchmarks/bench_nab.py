"""NAB scoring and windowedGaussian speed against literal transcriptions of NAB's loops.

On the NAB v1.1 corpus (58 files, 365,558 rows), median of several rounds:

- ``score_corpus`` (three profiles: threshold sweep over every distinct score, rescoring
  at the best threshold, normalisation) against NAB's procedure written out row by row
  in pure Python (``calcSweepScore`` + ``calcScoreByThreshold``, summing the per-window
  parts at every threshold), on windowedGaussian's scores; both must agree;
- ``windowed_gaussian`` over the corpus against NAB's ``handleRecord`` loop (a list
  window, ``numpy.mean`` / ``numpy.std``; one round); both must give identical scores.

It also prints the three normalised windowedGaussian scores next to NAB's published ones.

Targets: scoring >= 10 x the transcription, the detector >= 2 x. Exits 2 if one is missed,
1 if the results disagree.

    python benchmarks/bench_nab.py [--nab-dir ../shared/data/nab] [--rounds 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from cepkit.nab import (
    NAB_SIGNIFICANT_DIGITS,
    Corpus,
    Profile,
    load_corpus,
    round_significant,
    score_corpus,
    windowed_gaussian,
)

DEFAULT_NAB_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nab"
PUBLISHED = {"standard": 39.65, "reward_low_FP_rate": 20.87, "reward_low_FN_rate": 47.41}


def sigmoid(x: float) -> float:
    return -1.0 if x > 3.0 else 2 * (1 / (1 + math.exp(5 * x))) - 1.0


def nab_best(corpus: Corpus, scores: dict[str, NDArray[np.float64]], profile: Profile) -> float:
    """NAB's best raw score, one row at a time."""
    max_tp = sigmoid(-1.0)
    rows: list[tuple[float, float, str | None]] = []
    for f in corpus:
        pending = [(w.start, w.end) for w in f.windows]
        probation = min(math.floor(0.15 * f.n_rows), 0.15 * 5000)
        current: tuple[int, int] | None = None
        prev_right: int | None = None
        prev_width = 0
        for i, score in enumerate(scores[f.name].tolist()):
            if pending and i == pending[0][0]:
                current = pending.pop(0)
            if current is not None:
                width = current[1] - current[0] + 1
                credit = sigmoid(-(current[1] - i + 1) / width) * profile.tp_weight / max_tp
            elif prev_right is None:
                credit = -1.0 * profile.fp_weight
            else:
                credit = sigmoid(abs(prev_right - i) / (prev_width - 1)) * profile.fp_weight
            if i >= probation:
                rows.append((score, credit, f"{f.name}|{current[0]}" if current else None))
            if current is not None and i == current[1]:
                prev_right, prev_width, current = i, current[1] - current[0] + 1, None
    parts = {"fp": 0.0} | {w: -profile.fn_weight for _, _, w in rows if w is not None}
    best = -math.inf
    threshold = 1.1
    for score, credit, window in sorted(rows, key=lambda r: r[0], reverse=True):
        if score != threshold:
            best = max(best, sum(parts.values()))
            threshold = score
        if window is None:
            parts["fp"] += credit
        else:
            parts[window] = max(parts[window], credit)
    return max(best, sum(parts.values()))


def nab_gaussian(values: list[float], window_size: int = 6400, step: int = 100) -> list[float]:
    """NAB's ``WindowedGaussianDetector.handleRecord`` over a series."""
    window: list[float] = []
    buffer: list[float] = []
    mean, std = 0.0, 1.0
    out = []
    for x in values:
        score = 0.0
        if window:
            xp = 2 * mean - x if x < mean else x
            score = 1 - 0.5 * math.erfc((xp - mean) / std / math.sqrt(2))
        refresh = False
        if len(window) < window_size:
            window.append(x)
            refresh = True
        else:
            buffer.append(x)
            if len(buffer) == step:
                window = window[step:] + buffer
                buffer = []
                refresh = True
        if refresh:
            mean, std = float(np.mean(window)), float(np.std(window))
            std = std or 0.000001
        out.append(score)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nab-dir", type=Path, default=DEFAULT_NAB_DIR)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    corpus = load_corpus(args.nab_dir)
    load_s = time.perf_counter() - start
    ours_det: list[float] = []
    raw: dict[str, NDArray[np.float64]] = {}
    for _ in range(args.rounds):
        start = time.perf_counter()
        raw = {f.name: windowed_gaussian(f.values) for f in corpus}
        ours_det.append(time.perf_counter() - start)
    start = time.perf_counter()
    reference = {f.name: nab_gaussian(f.values.tolist()) for f in corpus}
    nab_det = time.perf_counter() - start
    if any(raw[name].tolist() != reference[name] for name in corpus.names):
        print("DISAGREEMENT: windowed_gaussian differs from NAB's loop")
        return 1
    scores = {name: round_significant(s, NAB_SIGNIFICANT_DIGITS) for name, s in raw.items()}

    ours_score: list[float] = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        result = score_corpus(corpus, scores)
        ours_score.append(time.perf_counter() - start)
    start = time.perf_counter()
    nab_raw = {name: nab_best(corpus, scores, p) for name, p in corpus.profiles.items()}
    nab_score = time.perf_counter() - start
    for name, best in nab_raw.items():
        if abs(result[name].raw_score - best) > 1e-9:
            print(f"DISAGREEMENT: {name}: {result[name].raw_score} vs NAB loop {best}")
            return 1

    rows = corpus.n_rows
    det_med, score_med = statistics.median(ours_det), statistics.median(ours_score)
    print(f"NAB corpus: {len(corpus)} files, {rows:,} rows, {corpus.n_windows} windows")
    print(f"  load_corpus            {load_s:6.2f} s")
    print(f"  windowed_gaussian      {det_med:6.2f} s   NAB loop {nab_det:6.2f} s")
    print(f"  score_corpus (3 prof.) {score_med:6.2f} s   NAB loop {nab_score:6.2f} s")
    for name, figure in PUBLISHED.items():
        print(f"  windowedGaussian {name:<19} {result[name].score:6.2f}  (published {figure})")
    det_ratio, score_ratio = nab_det / det_med, nab_score / score_med
    print(f"  detector / NAB loop = {det_ratio:.1f} x  (target >= 2)")
    print(f"  scoring  / NAB loop = {score_ratio:.1f} x  (target >= 10)")
    return 0 if det_ratio >= 2 and score_ratio >= 10 else 2


if __name__ == "__main__":
    sys.exit(main())
