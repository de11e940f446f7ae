"""The best built-in NAB configuration on the whole NAB v1.1 corpus (the README's figures)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from cepkit.cli import main
from cepkit.nab import Corpus, run_detector, score_corpus
from cepkit.nab.builtin import BEST, NAB_DETECTORS, nab_detector

#: standard, reward_low_FP_rate, reward_low_FN_rate as the README reports them
BEST_FIGURES = (69.70, 64.51, 73.76)
ENTROPY_FIGURES = (65.75, 54.56, 71.71)


def summary(corpus: Corpus, name: str, **params: object) -> tuple[float, ...]:
    result = score_corpus(corpus, run_detector(corpus, nab_detector(name, **params)))
    return tuple(result.summary().values())


def test_best_scores_at_least_55_standard_and_what_the_readme_says(corpus: Corpus) -> None:
    figures = summary(corpus, "best")
    assert figures[0] >= 55.0
    assert figures == pytest.approx(BEST_FIGURES, abs=0.005)
    assert BEST["method"] == "entropy_zscore"
    assert {"relative_entropy", "entropy_zscore"} <= set(NAB_DETECTORS)


def test_relative_entropy_with_its_defaults(corpus: Corpus) -> None:
    assert summary(corpus, "relative_entropy") == pytest.approx(ENTROPY_FIGURES, abs=0.005)


def test_cli_prints_the_best_figures(nab_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nab", "--nab-dir", str(nab_dir)]) == 0  # --detector best is the default
    out = capsys.readouterr().out
    assert "detector best" in out
    printed = dict(re.findall(r"^\s+(\S+)\s+(-?\d+\.\d\d)$", out, re.MULTILINE))
    assert printed == {
        "standard": f"{BEST_FIGURES[0]:.2f}",
        "reward_low_FP_rate": f"{BEST_FIGURES[1]:.2f}",
        "reward_low_FN_rate": f"{BEST_FIGURES[2]:.2f}",
    }


def test_best_is_causal_on_a_corpus_file(corpus: Corpus) -> None:
    file = next(f for f in corpus if f.name.endswith("ec2_request_latency_system_failure.csv"))
    fn = nab_detector("best")
    whole = np.asarray(fn(file.values, file.timestamps))
    assert whole.max() > 0.5
    for cut in (500, 2000, 3000):
        part = np.asarray(fn(file.values[:cut], file.timestamps[:cut]))
        assert np.array_equal(part, whole[:cut])
