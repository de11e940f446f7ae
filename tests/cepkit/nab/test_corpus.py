"""Loading the NAB corpus: files, rows, windows, probationary periods, profiles."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cepkit.nab import (
    PROFILES,
    Corpus,
    DataFile,
    NabError,
    Window,
    load_corpus,
    load_profiles,
    probationary_length,
    windows_from_limits,
)


def stamps(n: int) -> np.ndarray:
    return np.datetime64("2024-01-01T00:00") + np.arange(n).astype("timedelta64[m]")


class TestRealCorpus:
    def test_shape(self, corpus: Corpus) -> None:
        assert len(corpus) == 58
        assert corpus.n_rows == 365_558
        assert corpus.n_windows == 116
        assert len({f.category for f in corpus}) == 7
        assert sum(1 for f in corpus if not f.windows) == 6
        assert corpus["realKnownCause/nyc_taxi.csv"].n_rows == 10_320
        assert list(corpus.names) == sorted(corpus.names)

    def test_windows_are_the_labels(self, corpus: Corpus, nab_dir: Path) -> None:
        labels = json.loads((nab_dir / "labels" / "combined_windows.json").read_text())
        assert set(labels) == set(corpus.names)
        for f in corpus:
            found = [[str(f.timestamps[w.start]), str(f.timestamps[w.end])] for w in f.windows]
            expected = [
                [np.datetime64(t.replace(" ", "T"), "us").astype(str) for t in pair]
                for pair in labels[f.name]
            ]
            assert found == expected, f.name

    def test_no_window_touches_a_probationary_period(self, corpus: Corpus) -> None:
        for f in corpus:
            assert all(w.start >= f.probationary_length for w in f.windows), f.name

    def test_profiles_are_nabs(self, corpus: Corpus) -> None:
        assert dict(corpus.profiles) == dict(PROFILES)

    def test_arrays_are_read_only(self, corpus: Corpus) -> None:
        f = corpus["realTweets/Twitter_volume_AAPL.csv"]
        assert f.values.dtype == np.float64 and f.timestamps.dtype == "datetime64[us]"
        with pytest.raises(ValueError, match="read-only"):
            f.values[0] = 1.0

    def test_repeated_timestamps_are_kept(self, corpus: Corpus) -> None:
        # A daylight-saving hour repeats in a few AWS files; rows are never dropped.
        f = corpus["realKnownCause/ec2_request_latency_system_failure.csv"]
        assert f.n_rows == 4032
        assert len(np.unique(f.timestamps)) < f.n_rows

    def test_subset(self, corpus: Corpus) -> None:
        tweets = corpus.subset(["realTweets"])
        assert len(tweets) == 10 and {f.category for f in tweets} == {"realTweets"}
        one = corpus.subset(["realKnownCause/nyc_taxi.csv"])
        assert one.names == ("realKnownCause/nyc_taxi.csv",) and one.n_windows == 5
        with pytest.raises(NabError, match="realNothing"):
            corpus.subset(["realNothing"])


class TestProbationaryLength:
    def test_values(self) -> None:
        assert probationary_length(100) == 15
        assert probationary_length(4032) == 604
        assert probationary_length(5000) == 750
        assert probationary_length(22_695) == 750
        assert probationary_length(1) == 0

    @given(st.integers(0, 100_000))
    def test_matches_nabs_float_comparison(self, n: int) -> None:
        bound = min(math.floor(0.15 * n), 0.15 * 5000)
        first = probationary_length(n)
        assert first >= bound and (first == 0 or first - 1 < bound)


class TestWindows:
    def test_limits_map_to_rows(self) -> None:
        ts = stamps(10)
        limits = [
            ["2024-01-01 00:07:00.000000", "2024-01-01 00:08:00"],
            ["2024-01-01 00:01:00"] * 2,
        ]
        assert windows_from_limits("f", ts, limits) == (Window(1, 1), Window(7, 8))

    def test_repeated_timestamp_is_its_first_row(self) -> None:
        ts = np.array(
            ["2024-01-01T00:00", "2024-01-01T00:01", "2024-01-01T00:01", "2024-01-01T00:02"],
            "datetime64[us]",
        )
        assert windows_from_limits("f", ts, [["2024-01-01 00:01", "2024-01-01 00:02"]]) == (
            Window(1, 3),
        )

    @pytest.mark.parametrize(
        ("limits", "message"),
        [
            ([["2024-01-01 00:00:30", "2024-01-01 00:02:00"]], "not a row"),
            ([["2024-01-01 00:00:00"]], "pair"),
            ([["yesterday", "2024-01-01 00:02:00"]], "bad window timestamp"),
        ],
    )
    def test_bad_limits(self, limits: list[list[str]], message: str) -> None:
        with pytest.raises(NabError, match=message):
            windows_from_limits("f", stamps(5), limits)

    def test_window_rows_checked(self) -> None:
        with pytest.raises(NabError, match="start <= end"):
            Window(5, 4)
        assert Window(3, 3).width == 1


class TestDataFileAndCorpus:
    def test_windows_must_be_disjoint_sorted_and_inside(self) -> None:
        for windows in [
            (Window(2, 5), Window(5, 7)),
            (Window(5, 6), Window(1, 2)),
            (Window(8, 10),),
        ]:
            with pytest.raises(NabError, match="disjoint"):
                DataFile("c/f.csv", stamps(10), np.zeros(10), windows)

    def test_lengths_must_agree(self) -> None:
        with pytest.raises(NabError, match="one length"):
            DataFile("c/f.csv", stamps(10), np.zeros(9))

    def test_arrays_are_copied(self) -> None:
        values = np.zeros(4)
        f = DataFile("c/f.csv", stamps(4), values)
        values[0] = 7.0
        assert f.values[0] == 0.0

    def test_names_unique_and_known(self) -> None:
        f = DataFile("c/f.csv", stamps(4), np.zeros(4))
        with pytest.raises(NabError, match="same name"):
            Corpus((f, f))
        with pytest.raises(NabError, match=r"no file .c/g\.csv."):
            Corpus((f,))["c/g.csv"]
        with pytest.raises(NabError, match="profile"):
            Corpus((f,), {})


def small_nab(tmp_path: Path, windows: dict[str, list[list[str]]]) -> Path:
    (tmp_path / "data" / "cat").mkdir(parents=True)
    (tmp_path / "labels").mkdir()
    rows = "\n".join(f"2024-01-01 00:0{i}:00,{i}" for i in range(6))
    (tmp_path / "data" / "cat" / "f.csv").write_text(f"timestamp,value\n{rows}\n")
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    return tmp_path


class TestLoadCorpus:
    def test_small_folder(self, tmp_path: Path) -> None:
        root = small_nab(tmp_path, {"cat/f.csv": [["2024-01-01 00:02:00", "2024-01-01 00:03:00"]]})
        corpus = load_corpus(root)
        assert corpus.names == ("cat/f.csv",)
        assert corpus["cat/f.csv"].windows == (Window(2, 3),)
        assert corpus["cat/f.csv"].values.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
        assert dict(corpus.profiles) == dict(PROFILES)  # no config/profiles.json

    def test_file_missing_from_labels(self, tmp_path: Path) -> None:
        with pytest.raises(NabError, match=r"cat/f\.csv: not in the windows file"):
            load_corpus(small_nab(tmp_path, {}))

    def test_labels_for_a_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(NabError, match=r"cat/g\.csv"):
            load_corpus(small_nab(tmp_path, {"cat/f.csv": [], "cat/g.csv": []}))

    def test_no_data(self, tmp_path: Path) -> None:
        with pytest.raises(NabError, match="cannot read the windows file"):
            load_corpus(tmp_path)

    def test_bad_data_file(self, tmp_path: Path) -> None:
        root = small_nab(tmp_path, {"cat/f.csv": []})
        (root / "data" / "cat" / "f.csv").write_text("time,v\n1,2\n")
        with pytest.raises(NabError, match=r"cat/f\.csv: not a NAB data file"):
            load_corpus(root)

    def test_profiles_file(self, tmp_path: Path, nab_dir: Path) -> None:
        root = small_nab(tmp_path, {"cat/f.csv": []})
        (root / "config").mkdir()
        shutil.copy(nab_dir / "config" / "profiles.json", root / "config" / "profiles.json")
        assert dict(load_corpus(root).profiles) == dict(PROFILES)
        (root / "config" / "profiles.json").write_text('{"p": {"Cost": {}}}')
        with pytest.raises(NabError, match="not a NAB profiles file"):
            load_profiles(root / "config" / "profiles.json")
