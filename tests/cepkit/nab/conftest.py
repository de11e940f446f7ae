"""The NAB corpus for the tests: ``CEPKIT_NAB_DIR`` if set, else ``shared/data/nab``
beside the repository checkout. Missing data fails the tests that need it (no skip).

The corpus and the windowedGaussian scores are computed once per session.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from cepkit.nab import (
    NAB_SIGNIFICANT_DIGITS,
    Corpus,
    load_corpus,
    round_significant,
    run_detector,
    windowed_gaussian,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_NAB_DIR = REPO_ROOT / ".." / "shared" / "data" / "nab"


@pytest.fixture(scope="session")
def nab_dir() -> Path:
    """The NAB folder (``data/``, ``labels/``, ``config/``, ``results/``)."""
    path = Path(os.environ.get("CEPKIT_NAB_DIR") or DEFAULT_NAB_DIR).resolve()
    if not (path / "labels" / "combined_windows.json").is_file():
        pytest.fail(
            f"no NAB corpus at {path}: check out shared/ beside the repository or set "
            "CEPKIT_NAB_DIR",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def corpus(nab_dir: Path) -> Corpus:
    """The 58-file NAB corpus, loaded once."""
    return load_corpus(nab_dir)


@pytest.fixture(scope="session")
def gaussian_raw(corpus: Corpus) -> dict[str, NDArray[np.float64]]:
    """windowedGaussian over the corpus, in full precision."""
    return run_detector(corpus, windowed_gaussian)


@pytest.fixture(scope="session")
def gaussian_scores(gaussian_raw: dict[str, NDArray[np.float64]]) -> dict[str, NDArray[np.float64]]:
    """windowedGaussian over the corpus, rounded as NAB's results files are."""
    return {
        name: round_significant(scores, NAB_SIGNIFICANT_DIGITS)
        for name, scores in gaussian_raw.items()
    }
