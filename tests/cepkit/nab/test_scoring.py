"""NAB scoring: hand-computed cases, a literal transcription of NAB's loops as an oracle
for the vectorised sweep, and the acceptance figures on the real corpus."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from cepkit.nab import (
    MAX_TP,
    NO_DETECTION,
    PROFILES,
    Corpus,
    DataFile,
    NabError,
    Profile,
    ScoredRows,
    Window,
    row_positions,
    scaled_sigmoid,
    score_corpus,
)

STANDARD, LOW_FP, LOW_FN = (
    PROFILES["standard"],
    PROFILES["reward_low_FP_rate"],
    PROFILES["reward_low_FN_rate"],
)
PUBLISHED_WINDOWED_GAUSSIAN = {
    "standard": 39.65,
    "reward_low_FP_rate": 20.87,
    "reward_low_FN_rate": 47.41,
}


def S(x: float) -> float:
    """The scaled sigmoid written another way: ``-tanh(5x/2)``."""
    return -1.0 if x > 3 else -math.tanh(2.5 * x)


# -- one file of 100 rows (probation: rows 0-14), one window at rows 50-59 (W = 10) ----

N, A, B = 100, 50, 59
W = B - A + 1


def one_window_corpus(n: int = N, windows: tuple[Window, ...] = (Window(A, B),)) -> Corpus:
    stamps = np.datetime64("2024-01-01T00:00") + np.arange(n).astype("timedelta64[m]")
    return Corpus((DataFile("cat/file.csv", stamps, np.zeros(n), windows),))


def firing_at(*rows: int, n: int = N) -> dict[str, NDArray[np.float64]]:
    scores = np.zeros(n)
    scores[list(rows)] = 1.0
    return {"cat/file.csv": scores}


def raw(rows: tuple[int, ...], profile: Profile = STANDARD) -> float:
    result = score_corpus(one_window_corpus(), firing_at(*rows), profiles=profile, threshold=1.0)
    return result[profile.name].raw_score


class TestScaledSigmoid:
    def test_reference_values(self) -> None:
        assert abs(MAX_TP - 0.986614) < 1e-6
        assert float(scaled_sigmoid(-0.5)) == pytest.approx(0.848284, abs=1e-6)
        assert float(scaled_sigmoid(0.0)) == 0.0
        assert float(scaled_sigmoid(1.0)) == pytest.approx(-0.986614, abs=1e-6)

    def test_minus_one_exactly_beyond_three(self) -> None:
        assert float(scaled_sigmoid(3.0)) > -1.0
        assert float(scaled_sigmoid(3.0 + 1e-9)) == -1.0
        assert float(scaled_sigmoid(1e6)) == -1.0

    @given(st.floats(-50, 3, allow_nan=False))
    def test_matches_tanh_form(self, x: float) -> None:
        assert float(scaled_sigmoid(x)) == pytest.approx(S(x), abs=1e-12)


class TestRowPositions:
    def test_inside_after_and_before_windows(self) -> None:
        sigmoid, window = row_positions(one_window_corpus()["cat/file.csv"])
        assert (window[A : B + 1] == 0).all()
        assert (window[:A] == -1).all() and (window[B + 1 :] == -1).all()
        assert (sigmoid[:A] == -1.0).all()  # no earlier window: infinitely far
        assert sigmoid[A] == pytest.approx(MAX_TP)
        assert sigmoid[B] == pytest.approx(S(-1 / W))
        assert sigmoid[B + 1] == pytest.approx(S(1 / (W - 1)))
        assert sigmoid[B + 9] == pytest.approx(S(1.0))
        assert sigmoid[B + 27] > -1.0 and (sigmoid[B + 28 :] == -1.0).all()  # x > 3

    def test_after_a_window_of_width_one_is_far(self) -> None:
        sigmoid, _ = row_positions(one_window_corpus(windows=(Window(50, 50),))["cat/file.csv"])
        assert sigmoid[50] == pytest.approx(MAX_TP)
        assert (sigmoid[51:] == -1.0).all()


class TestOneWindow:
    def test_detection_at_window_start_earns_a_tp(self) -> None:
        result = score_corpus(one_window_corpus(), firing_at(A))
        for profile in PROFILES.values():
            score = result[profile.name]
            assert score.raw_score == pytest.approx(profile.tp_weight)
            assert score.score == pytest.approx(100.0)
            assert (score.tp, score.fp, score.fn, score.threshold) == (1, 0, 0, 1.0)

    def test_detection_at_window_end_earns_little(self) -> None:
        expected = math.tanh(0.25) / math.tanh(2.5)  # x = -1/W = -0.1
        assert raw((B,)) == pytest.approx(expected, abs=1e-12)
        assert expected == pytest.approx(0.248242, abs=1e-6)

    def test_detection_in_the_middle_earns_086(self) -> None:
        assert raw((A + W // 2,)) == pytest.approx(math.tanh(1.25) / math.tanh(2.5), abs=1e-12)

    def test_late_detection_is_a_scaled_fp_plus_a_miss(self) -> None:
        late = B + 6  # x = 6 / (W - 1)
        assert raw((late,)) == pytest.approx(-1.0 - 0.11 * math.tanh(2.5 * 6 / 9), abs=1e-12)
        assert raw((late,), LOW_FP) == pytest.approx(-1.0 - 0.22 * math.tanh(2.5 * 6 / 9))
        assert raw((late,), LOW_FN) == pytest.approx(-2.0 - 0.11 * math.tanh(2.5 * 6 / 9))

    def test_detection_right_after_window_costs_little(self) -> None:
        assert raw((B + 1,)) == pytest.approx(-1.0 - 0.11 * math.tanh(2.5 / 9), abs=1e-12)

    def test_detection_three_widths_after_costs_a_full_fp(self) -> None:
        assert raw((B + 27,)) == pytest.approx(-1.0 - 0.11 * math.tanh(2.5 * 3), abs=1e-15)
        assert raw((B + 27,)) > -1.11
        assert raw((B + 28,)) == raw((B + 36,)) == -1.0 - 0.11

    def test_fp_before_window(self) -> None:
        assert raw((20,)) == pytest.approx(-1.11, abs=1e-15)
        assert raw((20, A)) == pytest.approx(1.0 - 0.11, abs=1e-15)
        assert raw((20, A), LOW_FP) == pytest.approx(1.0 - 0.22, abs=1e-15)

    def test_every_fp_row_costs(self) -> None:
        result = score_corpus(one_window_corpus(), firing_at(A, 20, 21, 22, 23, 24), threshold=1.0)
        assert result["standard"].raw_score == pytest.approx(1.0 - 5 * 0.11)
        assert result["standard"].fp == 5

    def test_only_the_earliest_detection_in_a_window_counts(self) -> None:
        result = score_corpus(one_window_corpus(), firing_at(*range(A, B + 1)), threshold=1.0)
        assert result["standard"].raw_score == 1.0
        assert (result["standard"].tp, result["standard"].fp) == (1, 0)
        assert raw((A + 3, A + 1, B)) == pytest.approx(raw((A + 1,)))

    def test_probationary_rows_are_ignored(self) -> None:
        assert one_window_corpus()["cat/file.csv"].probationary_length == 15
        assert raw((0, 5, 14)) == -1.0  # a miss, and no FP cost
        assert raw((15,)) == -1.11
        rows = ScoredRows.gather(one_window_corpus(), firing_at(5))
        assert len(rows.scores) == N - 15
        sweep = rows.sweep(STANDARD)  # the probationary score is not a threshold
        assert sweep.thresholds.tolist() == [NO_DETECTION, 0.0]
        assert sweep.threshold == NO_DETECTION

    def test_missed_window_under_each_profile_is_the_null_score(self) -> None:
        result = score_corpus(one_window_corpus(), firing_at())
        for profile in PROFILES.values():
            score = result[profile.name]
            assert score.raw_score == score.null_score == -profile.fn_weight
            assert score.score == 0.0
            assert (score.tp, score.fp, score.fn) == (0, 0, 1)

    def test_normalisation(self) -> None:
        result = score_corpus(one_window_corpus(), firing_at(B), threshold=1.0)
        credit = math.tanh(0.25) / math.tanh(2.5)
        assert result["standard"].score == pytest.approx(100 * (credit + 1) / 2)
        assert result["reward_low_FN_rate"].score == pytest.approx(100 * (credit + 2) / 3)
        assert result["reward_low_FN_rate"].perfect_score == 1.0


class TestThresholdChoice:
    def test_best_threshold_trades_fps_against_hits(self) -> None:
        scores = np.zeros(N)
        scores[20], scores[A] = 0.8, 0.6
        sweep = ScoredRows.gather(one_window_corpus(), {"cat/file.csv": scores}).sweep(STANDARD)
        assert sweep.thresholds.tolist() == [1.1, 0.8, 0.6, 0.0]
        assert sweep.raw_scores[:3] == pytest.approx([-1.0, -1.11, 0.89])
        assert sweep.threshold == 0.6
        result = score_corpus(one_window_corpus(), {"cat/file.csv": scores})
        assert result["standard"].threshold == 0.6
        assert result["standard"].raw_score == pytest.approx(0.89)
        # A dear FP makes missing the window the better choice.
        dear = Profile("dear", tp_weight=1.0, fp_weight=5.0, fn_weight=1.0)
        assert score_corpus(one_window_corpus(), {"cat/file.csv": scores}, profiles=dear)[
            "dear"
        ].threshold == pytest.approx(NO_DETECTION)

    def test_ties_keep_the_highest_threshold(self) -> None:
        scores = np.zeros(N)
        scores[A] = 0.9
        scores[A + 1 : B + 1] = 0.5  # later rows of the hit window add nothing
        result = score_corpus(one_window_corpus(), {"cat/file.csv": scores})
        assert result["standard"].threshold == 0.9
        assert result["standard"].raw_score == 1.0

    def test_fixed_threshold(self) -> None:
        scores = np.zeros(N)
        scores[A] = 0.4
        result = score_corpus(one_window_corpus(), {"cat/file.csv": scores}, threshold=0.5)
        assert (result["standard"].threshold, result["standard"].raw_score) == (0.5, -1.0)


class TestValidation:
    @pytest.mark.parametrize(
        ("scores", "message"),
        [
            ({}, "missing"),
            ({"cat/file.csv": np.zeros(N), "cat/other.csv": np.zeros(N)}, "unknown"),
            ({"cat/file.csv": np.zeros(N - 1)}, "scores for 100 rows"),
            ({"cat/file.csv": np.full(N, np.nan)}, "row 0 scores nan"),
            ({"cat/file.csv": np.full(N, 1.5)}, "not in"),
            ({"cat/file.csv": np.full(N, -0.1)}, "not in"),
        ],
    )
    def test_bad_scores(self, scores: dict[str, NDArray[np.float64]], message: str) -> None:
        with pytest.raises(NabError, match=message):
            score_corpus(one_window_corpus(), scores)

    def test_unknown_profile(self) -> None:
        with pytest.raises(NabError, match="unknown profile 'strict'"):
            score_corpus(one_window_corpus(), firing_at(A), profiles=["standard", "strict"])

    def test_profile_weights_checked(self) -> None:
        with pytest.raises(NabError, match="fp_weight"):
            Profile("bad", tp_weight=1.0, fp_weight=-1.0, fn_weight=1.0)
        with pytest.raises(NabError, match="tp_weight"):
            Profile("bad", tp_weight=0.0, fp_weight=1.0, fn_weight=1.0)

    def test_corpus_without_windows_has_no_normalised_score(self) -> None:
        result = score_corpus(one_window_corpus(windows=()), firing_at(30))
        assert result["standard"].raw_score == pytest.approx(0.0)  # nothing detected
        assert math.isnan(result["standard"].score)


# -- the sweep against a literal transcription of NAB's loops ---------------------------


def nab_sweep(
    files: list[tuple[str, list[float], list[tuple[int, int]]]], profile: Profile
) -> list[tuple[float, float]]:
    """(threshold, raw score) pairs as NAB's ``calcSweepScore`` + ``calcScoreByThreshold``
    compute them, one row at a time."""
    rows: list[tuple[float, float, str | None]] = []
    for name, scores, windows in files:
        pending = list(windows)
        probation = min(math.floor(0.15 * len(scores)), 0.15 * 5000)
        current: tuple[int, int] | None = None
        prev_right: int | None = None
        prev_width = 0
        for i, score in enumerate(scores):
            if pending and i == pending[0][0]:
                current = pending.pop(0)
            if current is not None:
                width = current[1] - current[0] + 1
                credit = S(-(current[1] - i + 1) / width) * profile.tp_weight / S(-1.0)
            elif prev_right is None:
                credit = -1.0 * profile.fp_weight
            else:
                credit = S(abs(prev_right - i) / (prev_width - 1)) * profile.fp_weight
            if i >= probation:
                rows.append((score, credit, f"{name}|{current[0]}" if current else None))
            if current is not None and i == current[1]:
                prev_right, prev_width, current = i, current[1] - current[0] + 1, None
    parts = {"fp": 0.0} | {w: -profile.fn_weight for _, _, w in rows if w is not None}
    out = []
    threshold = 1.1
    for score, credit, window in sorted(rows, key=lambda r: r[0], reverse=True):
        if score != threshold:
            out.append((threshold, sum(parts.values())))
            threshold = score
        if window is None:
            parts["fp"] += credit
        else:
            parts[window] = max(parts[window], credit)
    out.append((threshold, sum(parts.values())))
    return out


@st.composite
def small_corpora(draw: st.DrawFn) -> list[tuple[str, list[float], list[tuple[int, int]]]]:
    files = []
    for k in range(draw(st.integers(1, 3))):
        n = draw(st.integers(4, 60))
        cuts = sorted(draw(st.sets(st.integers(0, n - 1), max_size=6)))
        cuts = cuts[: len(cuts) // 2 * 2]
        windows = list(zip(cuts[::2], cuts[1::2], strict=True))
        levels = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]) | st.floats(0, 1)
        scores = draw(st.lists(levels, min_size=n, max_size=n))
        files.append((f"c/f{k}.csv", scores, windows))
    return files


def as_corpus(files: list[tuple[str, list[float], list[tuple[int, int]]]]) -> Corpus:
    return Corpus(
        tuple(
            DataFile(
                name,
                np.arange(len(scores)).astype("datetime64[s]"),
                np.zeros(len(scores)),
                tuple(Window(a, b) for a, b in windows),
            )
            for name, scores, windows in files
        )
    )


@settings(max_examples=300, deadline=None)
@given(small_corpora(), st.sampled_from(list(PROFILES.values())))
def test_sweep_matches_nab_loops_and_direct_rescoring(
    files: list[tuple[str, list[float], list[tuple[int, int]]]], profile: Profile
) -> None:
    rows = ScoredRows.gather(as_corpus(files), {name: np.array(s) for name, s, _ in files})
    sweep = rows.sweep(profile)
    expected = nab_sweep(files, profile)
    assert sweep.thresholds.tolist() == [t for t, _ in expected]
    assert sweep.raw_scores.tolist() == pytest.approx([r for _, r in expected], abs=1e-9)
    for threshold, raw_score in zip(sweep.thresholds, sweep.raw_scores, strict=True):
        assert rows.at_threshold(profile, threshold).raw_score == pytest.approx(raw_score, abs=1e-9)
    best = max(range(len(expected)), key=lambda i: (expected[i][1], -i))
    assert sweep.raw_score == pytest.approx(expected[best][1], abs=1e-9)


# -- acceptance on the NAB corpus -----------------------------------------------------


def test_null_detector_scores_zero(corpus: Corpus) -> None:
    result = score_corpus(corpus, {f.name: np.zeros(f.n_rows) for f in corpus})
    for profile in PROFILES:
        assert result[profile].score == 0.0
        assert result[profile].threshold == NO_DETECTION
        assert (result[profile].tp, result[profile].fp, result[profile].fn) == (0, 0, 116)


def test_perfect_detector_scores_hundred(corpus: Corpus) -> None:
    scores = {}
    for f in corpus:
        scores[f.name] = np.zeros(f.n_rows)
        scores[f.name][[w.start for w in f.windows]] = 1.0
    result = score_corpus(corpus, scores)
    for profile in PROFILES:
        assert result[profile].score == pytest.approx(100.0, abs=1e-6)
        assert (result[profile].tp, result[profile].fp, result[profile].fn) == (116, 0, 0)
        assert result[profile].threshold == 1.0


def test_windowed_gaussian_reproduces_the_scoreboard(
    corpus: Corpus, gaussian_scores: dict[str, NDArray[np.float64]], nab_dir: Path
) -> None:
    published = json.loads((nab_dir / "results" / "final_results.json").read_text())
    result = score_corpus(corpus, gaussian_scores)
    for profile, figure in PUBLISHED_WINDOWED_GAUSSIAN.items():
        assert published["windowedGaussian"][profile] == pytest.approx(figure, abs=0.005)
        assert result[profile].score == pytest.approx(figure, abs=0.5)
        assert result[profile].score == pytest.approx(
            published["windowedGaussian"][profile], abs=1e-6
        )
        assert result[profile].threshold == 1.0  # as published in NAB's thresholds.json


def test_windowed_gaussian_needs_nabs_rounding(
    corpus: Corpus, gaussian_raw: dict[str, NDArray[np.float64]]
) -> None:
    # In full precision many scores sit just below 1 (1 - 2e-13 and so on); NAB's results
    # files kept 12 digits, which made them 1.0 and moved the best thresholds.
    result = score_corpus(corpus, gaussian_raw)
    assert result["standard"].score == pytest.approx(40.13, abs=0.01)
    assert result["reward_low_FP_rate"].score == pytest.approx(23.94, abs=0.01)
    assert result["reward_low_FN_rate"].score == pytest.approx(47.73, abs=0.01)
    assert result["standard"].threshold < 1.0


def test_sweep_and_direct_rescoring_agree_on_the_corpus(
    corpus: Corpus, gaussian_scores: dict[str, NDArray[np.float64]]
) -> None:
    rows = ScoredRows.gather(corpus, gaussian_scores)
    assert rows.n_windows == corpus.n_windows == 116
    for profile in PROFILES.values():
        sweep = rows.sweep(profile)
        for index in (0, sweep.best, len(sweep.thresholds) // 2, -1):
            tally = rows.at_threshold(profile, float(sweep.thresholds[index]))
            assert tally.raw_score == pytest.approx(sweep.raw_scores[index], rel=1e-11, abs=1e-9)
