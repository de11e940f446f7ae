"""Combining NAB detectors: hold-off, gate, gated (cepkit.nab.combine)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from cepkit.nab import NabError
from cepkit.nab.combine import gate, gated, hold_off


def spikes(values: NDArray[np.float64], timestamps: Any) -> NDArray[np.float64]:
    return (np.abs(values) > 2.0).astype(float)


def size(values: NDArray[np.float64], timestamps: Any) -> NDArray[np.float64]:
    magnitude = np.abs(values)
    out: NDArray[np.float64] = magnitude / (1.0 + magnitude)
    return out


def test_hold_off_keeps_one_alarm_per_quiet_period() -> None:
    alarms = np.zeros(20)
    alarms[[2, 3, 5, 9, 10, 19]] = [1.0, 0.7, 1.0, 1.0, 0.2, 1.0]
    assert np.flatnonzero(hold_off(alarms, 3)).tolist() == [2, 9, 19]
    assert hold_off(alarms, 3)[9] == 1.0
    assert np.array_equal(hold_off(alarms, 0), alarms)
    assert hold_off([], 5).shape == (0,)
    with pytest.raises(NabError, match="rows >= 0"):
        hold_off(alarms, -1)


def test_gate_grades_alarms_by_strength() -> None:
    assert gate([1.0, 0.0, 1.0, 1.0], [0.2, 1.0, 1.0, 7.0]).tolist() == [0.6, 0.0, 1.0, 1.0]
    with pytest.raises(NabError, match="alarms"):
        gate([1.0], [0.5, 0.5])


def test_gated_is_causal_and_in_range() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=400)
    fn = gated(spikes, size, holdoff=10)
    whole = np.asarray(fn(x, None))
    for cut in (17, 200, 399):
        assert np.array_equal(np.asarray(fn(x[:cut], None)), whole[:cut])
    alarms = np.flatnonzero(whole)
    assert alarms.size and (np.diff(alarms) > 10).all()
    assert ((whole[alarms] > 0.5) & (whole[alarms] <= 1.0)).all()
    with pytest.raises(NabError, match="rows >= 0"):
        gated(spikes, size, holdoff=-2)
