"""``GET /cep/events/stream`` over real HTTP (uvicorn in a thread), read with httpx."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cepkit.clock import FakeClock
from server.app import create_app
from server.settings import Settings
from tests.server.conftest import client_for, serving

RULE: dict[str, Any] = {
    "rule_name": "cpu_over_90",
    "is_active": True,
    "trigger_type": "metric",
    "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 90},
    "actions": [{"type": "notify", "channels": ["Slack"], "message": "cpu"}],
}


class Reader:
    """Reads an SSE stream in a thread; frames (dicts of field -> value) go to a queue."""

    def __init__(self, base: str, params: dict[str, Any] | None = None, **headers: str) -> None:
        self.frames: queue.Queue[dict[str, str]] = queue.Queue()
        self._stop = threading.Event()
        self._client = httpx.Client(base_url=base, timeout=httpx.Timeout(10, read=30))
        self._thread = threading.Thread(target=self._run, args=(params, headers), daemon=True)
        self._thread.start()

    def _run(self, params: dict[str, Any] | None, headers: dict[str, str]) -> None:
        try:
            self._read(params, headers)
        except httpx.TransportError:
            if not self._stop.is_set():  # only closing the client may end the stream
                raise

    def _read(self, params: dict[str, Any] | None, headers: dict[str, str]) -> None:
        with self._client.stream(
            "GET", "/cep/events/stream", params=params, headers=headers
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            frame: dict[str, str] = {}
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if not line:
                    if frame:
                        self.frames.put(frame)
                    frame = {}
                    continue
                key, _, value = line.partition(":")
                frame[key or "comment"] = frame.get(key or "comment", "") + value.lstrip()

    def next(self, *, kind: str | None = None, timeout: float = 10.0) -> dict[str, str]:
        """The next frame (of SSE ``event`` ``kind`` when given), skipping others."""
        while True:
            frame = self.frames.get(timeout=timeout)
            if kind is None or frame.get("event") == kind:
                return frame

    def close(self) -> None:
        self._stop.set()
        self._client.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def base(request: pytest.FixtureRequest) -> Iterator[str]:
    """The server on a SQLite file (the feed read on the event loop), then on PostgreSQL
    (read in a thread)."""
    if request.param == "sqlite":
        settings = Settings(db=request.getfixturevalue("sqlite_url"), tick_seconds=0)
    else:
        schema = request.getfixturevalue("pg_clean_schema")
        settings = Settings(db=request.getfixturevalue("pg_url"), db_schema=schema, tick_seconds=0)
    with serving(create_app(settings, clock=FakeClock())) as url:
        yield url


def test_new_events_and_acks_arrive_on_the_stream_and_resume_works(base: str) -> None:
    with client_for(base) as client:
        assert client.post("/cep/rules", json=RULE).status_code == 201
        reader = Reader(base, params={"ping_seconds": 0.2})
        try:
            reader.next()  # ": connected"
            ids = client.post(
                "/cep/ingest", json={"timestamp": 60, "host": "a", "cpu_usage": 95}
            ).json()["event_ids"]
            created = reader.next(kind="created")
            event = json.loads(created["data"])
            assert event["event_id"] == ids[0] and event["rule_name"] == "cpu_over_90"
            assert client.post(f"/cep/events/{ids[0]}/ack", json={"by": "kim"}).is_success
            acked = reader.next(kind="acked")
            assert json.loads(acked["data"])["acked_by"] == "kim"
            assert int(acked["id"]) > int(created["id"])
            ping = reader.next()
            assert ping.get("comment") == "ping"
            last_seen = acked["id"]
        finally:
            reader.close()
        # while nobody listens: two more events
        more = client.post(
            "/cep/ingest",
            json=[{"timestamp": t, "host": "b", "cpu_usage": 99} for t in (120, 180)],
        ).json()["event_ids"]
        resumed = Reader(base, params={"ping_seconds": 0.2}, **{"Last-Event-ID": last_seen})
        try:
            missed = [json.loads(resumed.next(kind="created")["data"]) for _ in more]
            assert [e["event_id"] for e in missed] == more
        finally:
            resumed.close()
        by_query = Reader(base, params={"last_event_id": 0, "ping_seconds": 0.2})
        try:
            kinds = [f.get("event") for f in (by_query.next() for _ in range(8)) if "id" in f][:4]
            assert kinds == ["created", "acked", "created", "created"]
        finally:
            by_query.close()


def test_a_backlog_larger_than_one_read_arrives_whole_and_in_order(base: str) -> None:
    """250 events made while nobody listened: a stream from the start gets every one, in
    order, over several reads of the feed (100 at a time on SQLite)."""
    with client_for(base) as client:
        assert client.post("/cep/rules", json=RULE).status_code == 201
        rows = [{"timestamp": 60 * (k + 1), "host": f"h{k}", "cpu_usage": 95} for k in range(250)]
        ids = client.post("/cep/ingest", json=rows).json()["event_ids"]
        assert len(ids) == 250
    reader = Reader(base, params={"last_event_id": 0})
    try:
        frames = [reader.next(kind="created") for _ in ids]
    finally:
        reader.close()
    assert [json.loads(f["data"])["event_id"] for f in frames] == ids
    seqs = [int(f["id"]) for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == 250
