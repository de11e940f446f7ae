"""run_detector, NAB's 12-digit rounding, and results files written and read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

from cepkit.nab import (
    Corpus,
    DataFile,
    NabError,
    Window,
    read_results,
    round_significant,
    run_detector,
    score_corpus,
    write_results,
)


def small_corpus() -> Corpus:
    ts = np.datetime64("2014-04-01T00:00") + np.arange(30).astype("timedelta64[m]") * 5
    return Corpus(
        (
            DataFile("artificial/a.csv", ts, np.arange(30.0), (Window(20, 23),)),
            DataFile("real/b.csv", ts[:10], np.linspace(0.5, 5.0, 10)),
        )
    )


def ramp(values: NDArray[np.float64], timestamps: NDArray[np.datetime64]) -> NDArray[np.float64]:
    return np.asarray(values / values.max(), dtype=np.float64)


class TestRunDetector:
    def test_one_score_array_per_file(self) -> None:
        seen: list[tuple[int, str]] = []

        def detector(values: NDArray[np.float64], stamps: NDArray[np.datetime64]) -> list[float]:
            seen.append((len(values), str(stamps.dtype)))
            return [0.25] * len(values)

        scores = run_detector(small_corpus(), detector)
        assert list(scores) == ["artificial/a.csv", "real/b.csv"]
        assert scores["real/b.csv"].tolist() == [0.25] * 10
        assert seen == [(30, "datetime64[us]"), (10, "datetime64[us]")]

    def test_detector_cannot_change_the_corpus(self) -> None:
        def vandal(values: NDArray[np.float64], _: NDArray[np.datetime64]) -> NDArray[np.float64]:
            values[0] = 99.0
            return values

        with pytest.raises(ValueError, match="read-only"):
            run_detector(small_corpus(), vandal)

    @pytest.mark.parametrize(
        ("output", "message"),
        [
            (lambda v, t: v, r"artificial/a\.csv: row 2 scores 2\.0, not in \[0, 1\]"),
            (lambda v, t: np.zeros(3), r"artificial/a\.csv: \(3,\) scores for 30 rows"),
            (lambda v, t: np.full(len(v), np.nan), "nan"),
        ],
    )
    def test_bad_output_names_the_file(self, output: object, message: str) -> None:
        with pytest.raises(NabError, match=message):
            run_detector(small_corpus(), output)  # type: ignore[arg-type]

    def test_significant_digits(self) -> None:
        def near_one(values: NDArray[np.float64], _: NDArray[np.datetime64]) -> NDArray[np.float64]:
            return np.full(len(values), 0.9999999999997738)

        assert run_detector(small_corpus(), near_one)["real/b.csv"][0] == 0.9999999999997738
        rounded = run_detector(small_corpus(), near_one, significant_digits=12)
        assert rounded["real/b.csv"].tolist() == [1.0] * 10


@given(st.lists(st.floats(0, 1), max_size=20), st.integers(1, 17))
def test_round_significant_is_printf_g(values: list[float], digits: int) -> None:
    expected = [float(f"%.{digits}g" % v) for v in values]
    assert round_significant(np.array(values), digits).tolist() == expected


def test_round_significant_needs_a_digit() -> None:
    with pytest.raises(NabError, match="digits"):
        round_significant([0.5], 0)


class TestResultsFiles:
    def test_round_trip(self, tmp_path: Path) -> None:
        corpus = small_corpus()
        scores = run_detector(corpus, ramp)
        paths = write_results(tmp_path, corpus, scores)
        assert paths == [tmp_path / "artificial" / "a.csv", tmp_path / "real" / "b.csv"]
        lines = paths[1].read_text().splitlines()
        assert lines[0] == "timestamp,value,anomaly_score"
        assert lines[1] == "2014-04-01 00:00:00,0.5,0.1"
        back = read_results(tmp_path, corpus)
        assert {k: v.tolist() for k, v in back.items()} == {
            k: v.tolist() for k, v in scores.items()
        }
        assert score_corpus(corpus, back).summary() == score_corpus(corpus, scores).summary()

    def test_nab_file_names(self, tmp_path: Path) -> None:
        corpus = small_corpus()
        write_results(tmp_path, corpus, run_detector(corpus, ramp))
        for name in ("artificial/a.csv", "real/b.csv"):
            category, _, base = name.partition("/")
            (tmp_path / name).rename(tmp_path / category / f"ramp_{base}")
        assert read_results(tmp_path, corpus, detector="ramp")["real/b.csv"][-1] == 1.0
        with pytest.raises(NabError, match="not a results file"):
            read_results(tmp_path, corpus)

    def test_timestamps_must_match(self, tmp_path: Path) -> None:
        corpus = small_corpus()
        write_results(tmp_path, corpus, run_detector(corpus, ramp))
        path = tmp_path / "real" / "b.csv"
        path.write_text(path.read_text().replace("2014-04-01 00:00:00", "2014-04-01 00:00:01"))
        with pytest.raises(NabError, match="timestamps differ"):
            read_results(tmp_path, corpus)

    def test_the_whole_corpus(
        self, tmp_path: Path, corpus: Corpus, gaussian_scores: dict[str, NDArray[np.float64]]
    ) -> None:
        write_results(tmp_path, corpus, gaussian_scores)
        assert len(list(tmp_path.glob("*/*.csv"))) == 58
        back = read_results(tmp_path, corpus)
        assert all(np.array_equal(back[n], gaussian_scores[n]) for n in corpus.names)
