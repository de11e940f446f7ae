"""Generate the sample data set: one day of per-minute server metrics with incidents.

Three hosts, one row per host per minute (4,320 rows) of ``cpu_usage``,
``memory_percent``, ``latency_ms`` and ``error_count``, with labelled incidents
(CPU saturation, a latency spike, an error burst, a slow memory leak) written to
``incidents.csv`` as windows. Deterministic (seeded): running it again rewrites the
same files.

    python data/samples/make_server_metrics.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
START = pd.Timestamp("2026-02-08T00:00:00Z")
HOSTS = ("gt-01", "gt-02", "gt-03")

INCIDENTS = [
    # host, start, end, kind
    ("gt-01", "2026-02-08T03:10:00Z", "2026-02-08T03:40:00Z", "cpu_saturation"),
    ("gt-02", "2026-02-08T09:05:00Z", "2026-02-08T09:12:00Z", "latency_spike"),
    ("gt-03", "2026-02-08T14:30:00Z", "2026-02-08T14:34:00Z", "error_burst"),
    ("gt-02", "2026-02-08T18:00:00Z", "2026-02-08T20:00:00Z", "memory_leak"),
    ("gt-01", "2026-02-08T21:15:00Z", "2026-02-08T21:20:00Z", "latency_spike"),
]


def generate() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(20260208)
    minutes = pd.date_range(START, periods=24 * 60, freq="1min")
    frames = []
    for i, host in enumerate(HOSTS):
        t = np.arange(len(minutes))
        daily = 10 * np.sin(2 * np.pi * (t / 1440 - 0.25))  # busier in the afternoon
        frame = pd.DataFrame(
            {
                "timestamp": minutes,
                "host": host,
                "cpu_usage": 45 + 5 * i + daily + rng.normal(0, 4, len(t)),
                "memory_percent": 55 + 3 * i + rng.normal(0, 2, len(t)),
                "latency_ms": 120 + 10 * i + rng.gamma(2.0, 8.0, len(t)),
                "error_count": rng.poisson(0.3, len(t)),
            }
        )
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    for host, start, end, kind in INCIDENTS:
        rows = (
            (data["host"] == host)
            & (data["timestamp"] >= pd.Timestamp(start))
            & (data["timestamp"] < pd.Timestamp(end))
        )
        n = int(rows.sum())
        if kind == "cpu_saturation":
            data.loc[rows, "cpu_usage"] = 93 + rng.normal(0, 2, n)
        elif kind == "latency_spike":
            data.loc[rows, "latency_ms"] = 650 + rng.normal(0, 60, n)
        elif kind == "error_burst":
            data.loc[rows, "error_count"] = rng.poisson(12, n)
        elif kind == "memory_leak":
            data.loc[rows, "memory_percent"] = np.linspace(60, 96, n) + rng.normal(0, 0.5, n)
    data = data.sort_values(["timestamp", "host"], kind="stable").reset_index(drop=True)
    for column in ("cpu_usage", "memory_percent", "latency_ms"):
        data[column] = data[column].clip(0, 100 if column != "latency_ms" else None).round(3)
    data["timestamp"] = data["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    incidents = pd.DataFrame(INCIDENTS, columns=["host", "start", "end", "kind"])
    return data, incidents


def main() -> None:
    data, incidents = generate()
    data.to_csv(HERE / "server_metrics.csv", index=False)
    incidents.to_csv(HERE / "incidents.csv", index=False)


if __name__ == "__main__":
    main()
