"""The NAB corpus: 58 series, their labelled windows and probationary periods.

:func:`load_corpus` reads a NAB folder (``data/<category>/<file>.csv``,
``labels/combined_windows.json``, ``config/profiles.json``) into a :class:`Corpus` of
:class:`DataFile` s. A window is a pair of row indices, both ends inclusive; its limits
in the labels file must be timestamps of data rows. The first
:func:`probationary_length` rows of a file are not scored.

>>> import numpy as np
>>> ts = np.arange("2024-01-01T00:00", "2024-01-01T00:10", dtype="datetime64[m]")
>>> f = DataFile("demo/ten.csv", ts, np.arange(10.0), (Window(6, 8),))
>>> f.category, f.n_rows, f.windows[0].width, f.probationary_length
('demo', 10, 3, 1)
>>> windows_from_limits(f.name, ts, [["2024-01-01 00:06:00", "2024-01-01 00:08:00.000000"]])
(Window(start=6, end=8),)
>>> f
DataFile(name='demo/ten.csv', windows=(Window(start=6, end=8),))
>>> corpus = Corpus((f,))
>>> corpus.n_windows, corpus.names
(1, ('demo/ten.csv',))
>>> corpus
<Corpus: 1 files, 10 rows, 1 windows, profiles ['standard', ...]>
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from cepkit.nab.errors import NabError
from cepkit.nab.profiles import PROFILES, Profile, load_profiles

__all__ = [
    "PROBATIONARY_PERCENT",
    "Corpus",
    "DataFile",
    "Window",
    "load_corpus",
    "probationary_length",
    "windows_from_limits",
]

PROBATIONARY_PERCENT = 0.15
"""NAB's share of each file that detectors may learn from without being scored."""

_TIME_UNIT = "datetime64[us]"


def probationary_length(n_rows: int, percent: float = PROBATIONARY_PERCENT) -> int:
    """How many leading rows are not scored: ``min(floor(0.15 n), 0.15 * 5000)``.

    NAB compares the row index with this bound as a float; the returned int is the first
    scored row index, the same comparison for every integer index.

    >>> probationary_length(4032), probationary_length(22695), probationary_length(6)
    (604, 750, 0)
    """
    bound = min(math.floor(percent * n_rows), percent * 5000)
    return math.ceil(bound)


@dataclass(frozen=True)
class Window:
    """A labelled anomaly window: rows ``start`` to ``end``, both inclusive."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise NabError(f"window rows must satisfy 0 <= start <= end, got {self}")

    @property
    def width(self) -> int:
        """Number of rows in the window."""
        return self.end - self.start + 1


@dataclass(frozen=True, eq=False)
class DataFile:
    """One series: its corpus-relative ``name``, timestamps, values and windows.

    The arrays are stored as read-only copies (``datetime64[us]`` and ``float64``).
    Windows are sorted, disjoint and inside the file.
    """

    name: str
    timestamps: NDArray[np.datetime64] = field(repr=False)
    values: NDArray[np.float64] = field(repr=False)
    windows: tuple[Window, ...] = ()

    def __post_init__(self) -> None:
        timestamps = np.array(self.timestamps, dtype=_TIME_UNIT)
        values = np.array(self.values, dtype=np.float64)
        if timestamps.ndim != 1 or timestamps.shape != values.shape:
            raise NabError(
                f"{self.name}: timestamps and values must be 1-d of one length, "
                f"got {timestamps.shape} and {values.shape}"
            )
        timestamps.flags.writeable = False
        values.flags.writeable = False
        object.__setattr__(self, "timestamps", timestamps)
        object.__setattr__(self, "values", values)
        windows = tuple(self.windows)
        object.__setattr__(self, "windows", windows)
        previous_end = -1
        for window in windows:
            if window.start <= previous_end or window.end >= len(values):
                raise NabError(
                    f"{self.name}: windows must be sorted, disjoint and within the "
                    f"{len(values)} rows, got {windows}"
                )
            previous_end = window.end

    @property
    def category(self) -> str:
        """The folder of the file in ``data/`` (``realKnownCause``)."""
        return self.name.rpartition("/")[0]

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.values)

    @property
    def probationary_length(self) -> int:
        """The first scored row index (:func:`probationary_length` of ``n_rows``)."""
        return probationary_length(self.n_rows)


@dataclass(frozen=True, eq=False, repr=False)
class Corpus:
    """The data files to score, by name, and the profiles to score them with."""

    files: tuple[DataFile, ...]
    profiles: Mapping[str, Profile] = field(default_factory=lambda: dict(PROFILES))
    _by_name: Mapping[str, DataFile] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        files = tuple(self.files)
        by_name = {f.name: f for f in files}
        if len(by_name) != len(files):
            raise NabError("a corpus cannot hold two files with the same name")
        if not self.profiles:
            raise NabError("a corpus needs at least one profile")
        object.__setattr__(self, "files", files)
        object.__setattr__(self, "profiles", MappingProxyType(dict(self.profiles)))
        object.__setattr__(self, "_by_name", MappingProxyType(by_name))

    def __repr__(self) -> str:
        return (
            f"<Corpus: {len(self.files)} files, {self.n_rows} rows, {self.n_windows} windows, "
            f"profiles {list(self.profiles)}>"
        )

    def __getitem__(self, name: str) -> DataFile:
        try:
            return self._by_name[name]
        except KeyError:
            raise NabError(f"no file {name!r} in the corpus") from None

    def __iter__(self) -> Iterator[DataFile]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    @property
    def names(self) -> tuple[str, ...]:
        """The file names, in corpus order."""
        return tuple(self._by_name)

    @property
    def n_rows(self) -> int:
        """Rows over all files."""
        return sum(f.n_rows for f in self.files)

    @property
    def n_windows(self) -> int:
        """Windows over all files (the perfect detector's raw score per unit of A_TP)."""
        return sum(len(f.windows) for f in self.files)

    def subset(self, names: Iterable[str]) -> Corpus:
        """The corpus restricted to ``names`` (file names or categories), same profiles.

        >>> import numpy as np
        >>> ts = np.arange(4).astype("datetime64[s]")
        >>> c = Corpus((DataFile("a/x.csv", ts, np.zeros(4)), DataFile("b/y.csv", ts, np.ones(4))))
        >>> c.subset(["b"]).names
        ('b/y.csv',)
        """
        wanted = set(names)
        unknown = wanted - set(self.names) - {f.category for f in self.files}
        if unknown:
            raise NabError(f"no such files or categories in the corpus: {sorted(unknown)}")
        chosen = tuple(f for f in self.files if f.name in wanted or f.category in wanted)
        return Corpus(chosen, self.profiles)


def windows_from_limits(
    name: str, timestamps: ArrayLike, limits: Sequence[Sequence[Any]]
) -> tuple[Window, ...]:
    """The windows whose ``[start, end]`` timestamps are given, as row indices.

    Each limit must equal a timestamp of the file; a timestamp that occurs more than once
    (a few NAB files repeat one, e.g. at a daylight-saving change) stands for its first
    row, as in NAB (``timestamps.index``).
    """
    stamps = np.asarray(timestamps, dtype=_TIME_UNIT)
    unique, first_rows = np.unique(stamps, return_index=True)
    windows = []
    for limit in limits:
        if len(limit) != 2:
            raise NabError(f"{name}: a window is a [start, end] pair, got {limit!r}")
        rows = []
        for stamp in limit:
            try:
                when = np.datetime64(str(stamp).replace(" ", "T"), "us")
            except ValueError as exc:
                raise NabError(f"{name}: bad window timestamp {stamp!r}") from exc
            at = int(np.searchsorted(unique, when))
            if at >= len(unique) or unique[at] != when:
                raise NabError(f"{name}: window limit {stamp!r} is not a row of the file")
            rows.append(int(first_rows[at]))
        windows.append(Window(rows[0], rows[1]))
    return tuple(sorted(windows, key=lambda w: w.start))


def _read_series(path: Path, name: str) -> tuple[NDArray[np.datetime64], NDArray[np.float64]]:
    try:
        frame = pd.read_csv(path, dtype={"timestamp": "str", "value": "float64"})
        timestamps = frame["timestamp"].to_numpy().astype(_TIME_UNIT)
        values = frame["value"].to_numpy(dtype=np.float64)
    except (OSError, ValueError, KeyError) as exc:
        raise NabError(f"{name}: not a NAB data file with timestamp,value ({exc})") from exc
    return timestamps, values


def load_corpus(
    nab_dir: str | Path, *, labels: str | Path = "labels/combined_windows.json"
) -> Corpus:
    """Read a NAB folder: every ``data/<category>/<file>.csv``, its windows and profiles.

    ``labels`` is relative to ``nab_dir`` (or absolute); every data file must appear in
    it. Profiles come from ``config/profiles.json`` when present, else :data:`PROFILES`.
    Files are in sorted name order.
    """
    root = Path(nab_dir)
    labels_path = root / labels
    try:
        limits_by_name = json.loads(labels_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise NabError(f"{labels_path}: cannot read the windows file ({exc})") from exc
    if not isinstance(limits_by_name, dict):
        raise NabError(f"{labels_path}: expected an object of file name -> windows")
    paths = sorted((root / "data").glob("*/*.csv"))
    if not paths:
        raise NabError(f"{root / 'data'}: no <category>/<file>.csv data files")
    files = []
    for path in paths:
        name = path.relative_to(root / "data").as_posix()
        if name not in limits_by_name:
            raise NabError(f"{name}: not in the windows file {labels_path}")
        timestamps, values = _read_series(path, name)
        windows = windows_from_limits(name, timestamps, limits_by_name[name])
        files.append(DataFile(name, timestamps, values, windows))
    missing = sorted(set(limits_by_name) - {f.name for f in files})
    if missing:
        raise NabError(f"{labels_path}: windows for files not in data/: {missing}")
    profiles_path = root / "config" / "profiles.json"
    profiles = load_profiles(profiles_path) if profiles_path.exists() else dict(PROFILES)
    return Corpus(tuple(files), profiles)
