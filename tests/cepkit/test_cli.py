"""The cepkit command: validate and simulate, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def cepkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cepkit.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_validate_guide_and_pack_folders() -> None:
    run = cepkit("validate", "data/rules/guide", "data/rules/pack")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().endswith("13 rules valid")


def test_validate_reports_paths_and_exits_1(tmp_path: Path) -> None:
    doc = json.loads((ROOT / "data/rules/guide/lab5_system_resource_alert.json").read_text())
    doc["composite_condition"]["conditions"][2]["op"] = "gt"
    doc["window_config"]["size"] = "7q"
    (tmp_path / "bad.json").write_text(json.dumps(doc), encoding="utf-8")
    run = cepkit("validate", str(tmp_path))
    assert run.returncode == 1
    assert "INVALID (system_resource_alert)" in run.stdout
    assert "composite_condition.conditions[2].op: unknown operator 'gt'" in run.stdout
    assert "window_config.size: invalid duration '7q'" in run.stdout


def test_simulate_prints_the_result(tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps({"severity": "critical", "service": "api-gateway"}))
    run = cepkit("simulate", "data/rules/guide/lab2_critical_error_event.json", str(payload))
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["matched"] is True
    assert result["triggered_actions"] == ["webhook", "notify"]


def test_simulate_bad_payload_file(tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text("{not json")
    run = cepkit("simulate", "data/rules/guide/lab2_critical_error_event.json", str(payload))
    assert run.returncode == 1
    assert "invalid JSON" in run.stdout


def test_report_runs_the_notebook_and_writes_html_without_code(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    run = cepkit(
        "report",
        "--rule",
        "data/rules/pack/01_critical_cpu.json",
        "--data",
        "data/samples/server_metrics.csv",
        "--labels",
        "data/samples/incidents.csv",
        "--start",
        "2026-02-08T02:00:00Z",
        "--end",
        "2026-02-08T06:00:00Z",
        "--out",
        str(out),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    html = out.read_text(encoding="utf-8")
    assert "720 rows replayed" in html  # 4 hours x 60 minutes x 3 hosts
    assert "import json" not in html  # code cells are left out
    assert "incidents detected" in html and "plotly" in html
