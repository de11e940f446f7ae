"""cepkit's detectors on NAB, and the ``cepkit nab`` command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cepkit.nab import Corpus, run_detector, score_corpus
from cepkit.nab.builtin import nab_detector, parse_params, rising_edge

ROOT = Path(__file__).parents[3]


def test_zscore_on_differences_scores_what_the_readme_says(corpus: Corpus) -> None:
    fn = nab_detector("zscore", window=1000, min_baseline=100, edge=200, diff=True)
    summary = score_corpus(corpus, run_detector(corpus, fn)).summary()
    assert summary["standard"] == pytest.approx(48.73, abs=0.01)
    assert summary["reward_low_FP_rate"] == pytest.approx(28.80, abs=0.01)
    assert summary["reward_low_FN_rate"] == pytest.approx(58.06, abs=0.01)


def test_detectors_are_causal() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=600)
    fn = nab_detector("zscore", window=100, min_baseline=50, edge=20, diff=True)
    whole = fn(values, None)
    for cut in (120, 300, 599):
        assert np.array_equal(fn(values[:cut], None), whole[:cut])
    assert ((whole >= 0) & (whole < 1)).all()


def test_rising_edge_and_params() -> None:
    assert rising_edge(np.array([0.0, 0.0, 1.0]), 5).tolist() == [0.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="unknown detector 'knn'"):
        nab_detector("knn")
    with pytest.raises(ValueError, match="bad parameters for 'zscore'"):
        nab_detector("zscore", alpha=0.1)
    with pytest.raises(ValueError, match="key=value"):
        parse_params(["window"])


def test_cli_nab_writes_results_and_prints_profiles(nab_dir: Path, tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "cepkit.cli",
            "nab",
            "--nab-dir",
            str(nab_dir),
            "--detector",
            "zscore",
            "--param",
            "window=1000",
            "--param",
            "min_baseline=100",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"standard\s+38\.83", run.stdout)
    written = sorted(tmp_path.rglob("*.csv"))
    assert len(written) == 58
    frame = pd.read_csv(written[0])
    assert list(frame.columns) == ["timestamp", "value", "anomaly_score"]
    assert frame["anomaly_score"].between(0, 1).all()
    bad = subprocess.run(
        [sys.executable, "-m", "cepkit.cli", "nab", "--nab-dir", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert bad.returncode == 1
