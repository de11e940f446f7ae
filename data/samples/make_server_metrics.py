"""Write the sample data set: ``server_metrics.csv`` and ``incidents.csv`` beside this file.

One day of per-minute metrics for three hosts with labelled incidents, made by the
seeded generator :func:`cepkit.datasets.server_metrics`: running it again rewrites the
same files.

    python data/samples/make_server_metrics.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cepkit.datasets import server_metrics

HERE = Path(__file__).parent


def generate() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The committed sample (the generator's defaults)."""
    return server_metrics()


def main() -> None:
    data, incidents = generate()
    data.to_csv(HERE / "server_metrics.csv", index=False)
    incidents.to_csv(HERE / "incidents.csv", index=False)


if __name__ == "__main__":
    main()
