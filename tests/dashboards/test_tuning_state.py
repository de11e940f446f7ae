"""The tuning dashboard's state (no browser) against a real server: guide Lab 13."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cepkit.client import Client
from cepkit.clock import FakeClock
from cepkit.rules import parse_rule
from dashboards.state.tuning import TuningState
from server.app import create_app
from server.settings import Settings
from tests.server.conftest import no_sleep, serving

ROOT = Path(__file__).parents[2]
PACK = ROOT / "data" / "rules" / "pack"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    db = tmp_path_factory.mktemp("tuning") / "cepkit.db"
    settings = Settings(db=f"sqlite:///{db}", tick_seconds=0)
    app = create_app(settings, clock=FakeClock(), sleep=no_sleep)
    with serving(app) as base, Client(base) as api:
        for name in ("01_critical_cpu.json", "04_latency_anomaly.json", "03_health_check.json"):
            api.create_rule(json.loads((PACK / name).read_text()))
        yield api


def test_sweep_choose_within_budget_replay_and_promote(client: Client) -> None:
    state = TuningState(client=client, data_dir=str(ROOT / "data" / "samples"))
    assert state.data_file == "server_metrics.csv" and state.labels_file == "incidents.csv"
    state.refresh_rules()
    # the schedule rule cannot be swept; the anomaly and the metric rule can
    assert sorted(state.rules) == ["critical_cpu (metric)", "latency_anomaly (anomaly)"]
    state.rule_id = state.rules["latency_anomaly (anomaly)"]
    assert state.is_anomaly and state.value_column == "latency_ms"
    state.kinds = ["latency_spike"]
    state.param.update(threshold_min=0.5, threshold_max=40.0, threshold_steps=80)
    state.run_sweep()
    assert state.error == "", state.error
    result = state.result
    assert result is not None and set(result["method"]) == {"zscore", "iqr", "ema"}
    assert len(result) == 80 * (2 + 2 + 2)  # 80 thresholds x two settings per method
    choice = state.choice
    assert choice is not None and choice["recall"] == 1.0 and choice["alerts_per_day"] <= 5.0
    # the tuned rule, replayed by the engine, fires where the sweep counted alerts
    assert state.check is not None
    assert state.check["replay_firings"] == state.check["sweep_alerts"] == choice["alerts"]
    tuned = state.tuned
    assert tuned is not None and tuned["group_by"] == ["host"]
    assert tuned["trigger_spec"]["anomaly_method"] == choice["method"]
    # a smaller budget picks again; one nobody meets says so
    state.budget = 0.0
    assert state.choice is None and state.error.startswith("no setting stays within 0 alerts/day")
    state.budget = 5.0
    assert state.choice == choice and state.error == ""
    # figures: the curves per method, the series with the detections and the incidents
    curves = state.curve_figure()
    assert {trace.name for trace in curves.data} == set(result["setting"])
    series = state.series_figure("gt-02")
    assert [trace.name for trace in series.data] == ["latency_ms", "detections"]
    assert len(series.layout.shapes) == 1  # gt-02's latency spike
    assert len(series.data[1].x) >= 1
    # promote: a new version on the server, exactly the tuned rule
    before = client.rule(state.rule_id).version
    state.promote()
    assert state.promoted == {"rule_id": state.rule_id, "version": before + 1}
    assert state.message == f"Promoted as version {before + 1}."
    stored = client.rule(state.rule_id).model_dump(mode="json")
    assert parse_rule({k: stored[k] for k in tuned}) == parse_rule(tuned)


def test_metric_rule_sweeps_its_threshold(client: Client) -> None:
    state = TuningState(client=client, data_dir=str(ROOT / "data" / "samples"))
    state.refresh_rules()
    state.rule_id = state.rules["critical_cpu (metric)"]
    assert not state.is_anomaly and state.value_column == "cpu_usage"
    state.kinds = ["cpu_saturation"]
    state.param.update(threshold_min=80.0, threshold_max=99.0, threshold_steps=20, budget=50.0)
    state.run_sweep()
    assert state.error == "", state.error
    assert state.result is not None and set(state.result["method"]) == {"threshold"}
    assert state.choice is not None and state.choice["recall"] == 1.0
    assert state.check is not None
    assert state.check["replay_firings"] == state.check["sweep_alerts"]
    assert state.tuned is not None
    assert state.tuned["trigger_spec"]["threshold"] == state.choice["threshold"]


def test_bad_inputs_are_named(client: Client) -> None:
    state = TuningState(client=client, data_dir=str(ROOT / "data" / "samples"))
    state.refresh_rules()
    state.rule_id = state.rules["latency_anomaly (anomaly)"]
    state.window_grid = "60, sixty"
    state.run_sweep()
    assert state.error == "window_grid: not a number: 'sixty'" and state.result is None
    state.window_grid = "60"
    state.methods = []
    state.run_sweep()
    assert state.error == "methods: choose at least one of zscore, iqr, ema"
    state.promote()
    assert state.error == "run a sweep and choose a setting first"
    empty = TuningState(client=client, data_dir=str(ROOT / "data" / "rules"))
    assert empty.data_file == ""
    with pytest.raises(Exception, match="no data file"):
        empty.frame()
