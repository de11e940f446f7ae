"""store: append firings to CSV, Parquet and a real Redis stream."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from cepkit.actions import CsvSink, Dispatcher, ListSink, ParquetSink, RedisStreamSink
from cepkit.actions.sinks import RECORD_FIELDS
from tests.fakes import FakeSleep, make_firing, make_rule

pytestmark = pytest.mark.anyio

STORE = {"type": "store", "target": "firings"}


async def fire(dispatcher: Dispatcher, *actions: dict[str, Any], cpu: float = 91.5) -> Any:
    rule = make_rule(*actions)
    return await dispatcher.execute(rule, make_firing(rule, avg_cpu=cpu), {"host": "web-01"})


async def test_csv(make_dispatcher: Any, tmp_path: Path) -> None:
    path = tmp_path / "out" / "firings.csv"
    dispatcher = make_dispatcher(sinks={"firings": CsvSink(path)})
    first = await fire(dispatcher, STORE)
    await fire(dispatcher, STORE, cpu=97.0)
    assert first.status == "success" and first.actions[0].target == "firings"
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert path.read_text().count("firing_id") == 1  # one header
    assert list(rows[0]) == list(RECORD_FIELDS)
    assert [json.loads(row["values"]) for row in rows] == [{"avg_cpu": 91.5}, {"avg_cpu": 97.0}]
    assert rows[0]["rule_name"] == "cpu_high" and json.loads(rows[0]["payload"]) == {
        "host": "web-01"
    }
    assert rows[0]["stored_at"] == "2026-02-08T10:30:00+00:00"


async def test_parquet(make_dispatcher: Any, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = tmp_path / "firings.parquet"
    dispatcher = make_dispatcher(sinks={"firings": ParquetSink(path)})
    await fire(dispatcher, STORE)
    await fire(dispatcher, STORE, cpu=97.0)
    table = pq.read_table(path).to_pylist()
    assert [json.loads(row["values"])["avg_cpu"] for row in table] == [91.5, 97.0]
    assert not (tmp_path / "firings.parquet.partial").exists()


async def test_redis_stream(make_dispatcher: Any, redis_client: Any) -> None:
    import redis.asyncio

    stream = f"{redis_client.prefix}firings"
    kwargs = redis_client.connection_pool.connection_kwargs
    client = redis.asyncio.Redis(host=kwargs["host"], port=kwargs["port"], db=kwargs["db"])
    try:
        dispatcher = make_dispatcher(sinks={"firings": RedisStreamSink(client, stream)})
        assert (await fire(dispatcher, STORE)).status == "success"
    finally:
        await client.aclose()
    ((_, fields),) = redis_client.xrange(stream)
    assert fields[b"rule_name"] == b"cpu_high"
    assert json.loads(fields[b"values"]) == {"avg_cpu": 91.5}
    assert b"window_start" not in fields  # empty columns are left out


async def test_unknown_store_fails_at_once(make_dispatcher: Any, sleep: FakeSleep) -> None:
    dispatcher = make_dispatcher(sinks={"events": ListSink()})
    (action,) = (await fire(dispatcher, STORE)).actions
    assert action.error == "no store named 'firings' (known: events)"
    assert action.attempts == [] and sleep.delays == []


async def test_a_failing_store_is_retried(
    make_dispatcher: Any, tmp_path: Path, sleep: FakeSleep
) -> None:
    (tmp_path / "blocked.csv").mkdir()  # a folder where the file should be
    dispatcher = make_dispatcher(sinks={"firings": CsvSink(tmp_path / "blocked.csv")})
    (action,) = (await fire(dispatcher, STORE)).actions
    assert len(action.attempts) == 5 and sleep.delays == [1.0, 2.0, 4.0, 8.0]
    assert (action.error or "").startswith("IsADirectoryError")
    assert action.dead_letter is not None


async def test_list_sink(make_dispatcher: Any) -> None:
    sink = ListSink()
    await fire(make_dispatcher(sinks={"firings": sink}), STORE)
    assert sink.records[0]["values"] == {"avg_cpu": 91.5}
