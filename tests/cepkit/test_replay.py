"""Replay: the engine over a DataFrame or file, firings as a DataFrame, the summary, the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cepkit.columnar import why_not
from cepkit.engine import RuleRuntime, run
from cepkit.errors import CepkitError
from cepkit.replay import FIRING_COLUMNS, _named, load_data, replay

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "data" / "samples" / "server_metrics.csv"
PACK = ROOT / "data" / "rules" / "pack"


def pack() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(PACK.glob("*.json"))]


def test_replay_equals_run_over_the_sample_day() -> None:
    rules = pack()
    frame = pd.read_csv(SAMPLE)
    result = replay(rules, frame, batch_size=777)
    expected = run(rules, frame.to_dict("records"))
    assert sorted(f.firing_id for f in result.firing_models) == sorted(
        f.firing_id for f in expected
    )
    assert list(result.firings.columns[: len(FIRING_COLUMNS)]) == list(FIRING_COLUMNS)
    assert len(result.firings) == len(expected)
    by_rule = result.summary.rules
    assert by_rule["critical_cpu"].firings == 3 and by_rule["critical_cpu"].suppressed > 10
    assert by_rule["health_check"].firings == 24 * 12 - 1  # every 5 minutes after the start
    assert by_rule["critical_cpu"].per_day == {"2026-02-08": 3}
    assert by_rule["critical_cpu"].top_groups == [("host=gt-01", 3)]
    assert result.summary.rows == len(frame)


def test_fast_path_equals_the_engine_loop_over_the_sample_day() -> None:
    rules = pack()
    frame = pd.read_csv(SAMPLE)
    named = _named(frame)
    eligible = [r for r in rules if why_not(RuleRuntime(r), named) is None]
    assert [r["rule_name"] for r in eligible] == ["critical_error", "latency_anomaly", "escalation"]
    fast, loop = replay(eligible, frame), replay(eligible, frame, fast=False)
    assert fast.summary == loop.summary
    assert fast.firing_models == loop.firing_models
    pd.testing.assert_frame_equal(fast.firings, loop.firings)
    assert fast.summary.rules["latency_anomaly"].firings > 0


def test_firings_frame_has_flattened_columns() -> None:
    result = replay([pack()[0]], SAMPLE)
    frame = result.firings
    assert {"group.host", "values.cpu_usage"} <= set(frame.columns)
    dtype = frame["event_time"].dtype
    assert isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"
    assert (frame.loc[~frame["suppressed"], "group.host"] == "gt-01").all()


def test_empty_cells_are_missing_fields_and_datetimes_become_epoch_seconds() -> None:
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2026-02-08T10:00:00Z", "2026-02-08T10:01:00Z"]),
            "severity": ["critical", None],
            "service": ["api-gateway", "api-gateway"],
        }
    )
    rule = json.loads((ROOT / "data/rules/guide/lab2_critical_error_event.json").read_text())
    result = replay([rule], frame)
    assert len(result.firings) == 1
    assert result.firing_models[0].payload == {
        "timestamp": 1770544800.0,
        "severity": "critical",
        "service": "api-gateway",
    }
    assert result.summary.rules["critical_error_event"].evaluation_errors == 1  # the None cell


def test_parquet_and_bad_files(tmp_path: Path) -> None:
    frame = pd.read_csv(SAMPLE).head(500)
    frame.to_parquet(tmp_path / "m.parquet")
    assert len(load_data(tmp_path / "m.parquet")) == 500
    with pytest.raises(CepkitError, match=r"unknown data format '\.xlsx'"):
        load_data(tmp_path / "m.xlsx")
    with pytest.raises(CepkitError, match="cannot read"):
        load_data(tmp_path / "absent.csv")


def test_progress_bar_and_batch_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    frame = pd.read_csv(SAMPLE).head(1000)
    one = replay(pack(), frame, batch_size=1)
    big = replay(pack(), frame, batch_size=100_000, progress=True)
    assert [f.firing_id for f in one.firing_models] == [f.firing_id for f in big.firing_models]
    assert "batch" in capsys.readouterr().err
    with pytest.raises(ValueError, match="batch_size"):
        replay(pack(), frame, batch_size=0)


def test_nan_values_do_not_reach_aggregates() -> None:
    frame = pd.DataFrame({"timestamp": [0.0, 10.0, 20.0], "v": [1.0, math.nan, 3.0]})
    rule = {
        "rule_name": "avg",
        "trigger_type": "event",
        "trigger_spec": {},
        "window_config": {"type": "tumbling", "size": "1m"},
        "aggregation": [{"type": "avg", "field": "v"}, {"type": "count"}],
    }
    [firing] = replay([rule], frame).firing_models
    assert firing.values == {"avg_v": 2.0, "count": 3}


def test_cli_replay(tmp_path: Path) -> None:
    out = tmp_path / "firings.csv"
    run_ = subprocess.run(
        [sys.executable, "-m", "cepkit.cli", "replay", str(PACK), str(SAMPLE), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert run_.returncode == 0, run_.stdout + run_.stderr
    assert "4,320 rows replayed" in run_.stdout and "critical_cpu" in run_.stdout
    written = pd.read_csv(out)
    assert {"firing_id", "rule_name", "group.host"} <= set(written.columns)
    bad = subprocess.run(
        [sys.executable, "-m", "cepkit.cli", "replay", str(PACK), str(tmp_path / "nope.csv")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 1 and "cannot read" in bad.stdout
