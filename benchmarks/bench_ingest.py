"""Live ingest over HTTP: the real server under uvicorn against a no-op FastAPI endpoint.

The servers are subprocesses, each ``uvicorn.run(app, host, port, log_level="info")``
(access log on, output to a file): ``cepkit serve --db <tmp>.db`` and a small app whose
``POST /noop`` reads the same JSON body (``Any``) and answers a small object; a second
copy of that app is the webhook sink. The load
generator is in this process: ``--clients`` threads, each with its own keep-alive httpx
client, sending bodies encoded before the clock starts; the same generator for both sides.

Cases (median of ``--rounds``; the contenders alternate within each round, since the
CPUs are shared; between rounds with rules, the benchmark waits until the webhooks of
the last round are delivered):

- ``single``: one event per ``POST /cep/ingest`` against one body per ``POST /noop``, in
  requests/s, with no rule and then with the 10 rules active (the target is judged on
  the 10 rules);
- ``batch``: 1,000-event ``POST /cep/ingest`` bodies against the no-op endpoint reading
  the same bodies (the ceiling of the machine and generator), with 10 active rules (from
  ``data/rules/pack`` and variations: four threshold metric rules, three tumbling 1m/5m
  averages per host or service, the pack's z-score anomaly rule, two event rules with
  conditions), in events/s. The data makes about 2% of the events fire. First an alert
  storm, every firing stored and delivered to the webhook sink (shown); then the same rules
  as section 9.3 of the guide configures them against storms, a 5-minute suppression per
  group, every firing still evaluated, stored and logged, the suppressed ones logged as
  such (the target is judged on this case). For both, the CPU time the server and the
  sink processes spent per 1,000 events (from ``/proc``, over the sending and until the
  last delivery) and the cores that would take at 100,000 events/s: the storm needs more
  than this 2-core machine has, even before the load generator;
- ``sse``: 10 events every 10 ms (1,000 events/s) in one request each, an SSE client on
  ``/cep/events/stream``; each event fires a probe rule and carries a sequence number,
  and the time from sending its request to reading its ``created`` change is taken with
  ``time.perf_counter`` in this process; p50/p99 per round (events not seen within 10 s
  count as 10 s). The probe rule's action is the local ``store`` to ``events``, so this
  times ingest -> event store -> change feed -> stream, not webhook deliveries (the 10
  rules keep theirs).

The 10 rules' action is a webhook to the sink (answering 200): real deliveries, and
nothing leaves the machine.

Targets (ingest issue): single-event ingest >= 0.5 x the no-op endpoint; batches of 1,000
>= 100,000 events/s with 10 active rules (judged with the rules' suppression on; the
storm's figure is printed beside it); p99 ingest -> SSE <= 50 ms at 1,000 events/s.
Prints the figures and ratios; exits 2 when a target is missed.

    python benchmarks/bench_ingest.py [--rounds 3] [--requests 2000] [--batches 20]
        [--clients 4] [--seconds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import uvicorn
from fastapi import Body, FastAPI

REPO_ROOT = Path(__file__).resolve().parents[1]
PACK = REPO_ROOT / "data" / "rules" / "pack"
T0 = 1_770_000_000.0


# --- the servers ---------------------------------------------------------------------------


def serve_noop(port: int) -> None:
    """The baseline: FastAPI reading the same JSON body as ingest, doing nothing with it."""
    app = FastAPI()
    served = [0]

    @app.post("/noop")
    async def noop(body: Annotated[Any, Body()]) -> dict[str, int]:
        served[0] += 1
        return {"accepted": 1}

    @app.get("/served")
    async def count() -> int:
        return served[0]

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="info")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server(str):
    """A server's base URL (a ``str``), with its process id."""

    pid: int

    def __new__(cls, base: str, pid: int) -> Server:
        server = super().__new__(cls, base)
        server.pid = pid
        return server

    def cpu(self) -> float:
        """CPU seconds (user + system) the process has used; NaN where there is no /proc."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return math.nan
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def running(args: list[str], log: Path) -> Iterator[Server]:
    """Start a server subprocess on a free port; yields it once it answers."""
    port = free_port()
    env = {**os.environ, "CEPKIT_TICK_SECONDS": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *args, "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            with httpx.Client(base_url=base, timeout=5) as client:
                while True:
                    try:
                        client.get("/openapi.json").raise_for_status()
                        break
                    except httpx.TransportError:
                        if process.poll() is not None or time.monotonic() > deadline:
                            raise SystemExit(f"server did not start; see {log}") from None
                        time.sleep(0.1)
            yield Server(base, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- the load ------------------------------------------------------------------------------


class Feed:
    """Metric events with ever-increasing timestamps (10 ms of event time apart)."""

    def __init__(self) -> None:
        self.i = 0
        self.rnd = random.Random(0)

    def take(self, n: int) -> list[dict[str, Any]]:
        out = []
        rnd = self.rnd
        for i in range(self.i, self.i + n):
            event: dict[str, Any] = {
                "timestamp": T0 + i * 0.01,
                "host": f"web-{i % 10}",
                "service": f"svc-{i % 5}",
                "event_type": "metric",
                "cpu_usage": round(min(100.0, max(0.0, rnd.gauss(55, 15))), 2),
                "memory_usage": round(rnd.uniform(30, 96), 2),
                "disk_usage": round(rnd.uniform(40, 98), 2),
                "latency_ms": round(rnd.gauss(120, 15) if i % 997 else 900.0, 1),
            }
            if i % 500 == 0:
                event.update(event_type="error", severity="critical")
            elif i % 700 == 0:
                event.update(event_type="delivery_failed", retry=5)
            out.append(event)
        self.i += n
        return out


def encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def blast(base: str, path: str, bodies: list[bytes], clients: int) -> float:
    """Send every body with ``clients`` keep-alive clients; seconds from start to last answer."""
    chunks = [bodies[k::clients] for k in range(clients)]
    barrier = threading.Barrier(clients + 1)
    failures: list[str] = []

    def worker(chunk: list[bytes]) -> None:
        headers = {"content-type": "application/json"}
        with httpx.Client(base_url=base, timeout=60, headers=headers) as client:
            client.post(path, content=chunk[0])  # connect before the clock starts
            barrier.wait()
            for body in chunk:
                answer = client.post(path, content=body)
                if answer.status_code != 200:
                    failures.append(f"{path}: {answer.status_code} {answer.text[:200]}")

    threads = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{len(failures)} failed requests, first: {failures[0]}")
    return elapsed


# --- the rules -----------------------------------------------------------------------------


def webhook(sink: str) -> list[dict[str, Any]]:
    """The rules' action: a webhook to the local sink (a no-op app), answered 200."""
    return [{"type": "webhook", "endpoint": f"{sink}/noop", "method": "POST"}]


def ten_rules(sink: str) -> list[dict[str, Any]]:
    """The pack's event-driven rules and variations, all with the sink webhook."""
    pack = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in PACK.glob("*.json")}
    base = [
        pack["01_critical_cpu"],  # tumbling 1m avg cpu per host > 90
        pack["02_critical_error"],  # event: error with severity critical
        pack["04_latency_anomaly"],  # z-score of latency_ms, window 100
        pack["05_escalation"],  # event: delivery_failed with retry > 3
    ]

    def metric(name: str, field: str, threshold: float) -> dict[str, Any]:
        spec = {"metric_name": field, "operator": ">", "threshold": threshold}
        return {"rule_name": name, "trigger_type": "metric", "trigger_spec": spec}

    def window(name: str, field: str, size: str, by: str, threshold: float) -> dict[str, Any]:
        return {
            **metric(name, field, threshold),
            "window_config": {"type": "tumbling", "size": size},
            "aggregation": {"type": "avg", "field": field, "group_by": [by]},
        }

    variations = [
        metric("memory_high", "memory_usage", 95.5),
        metric("disk_high", "disk_usage", 97.8),
        window("latency_5m_by_service", "latency_ms", "5m", "service", 400),
        window("cpu_5m_by_service", "cpu_usage", "5m", "service", 85),
        metric("latency_high", "latency_ms", 800),
        metric("cpu_spike", "cpu_usage", 99.0),
    ]
    rules = [*base, *variations]
    return [{**rule, "is_active": True, "actions": webhook(sink)} for rule in rules]


PROBE_RULE: dict[str, Any] = {
    "rule_name": "bench_probe",
    "is_active": True,
    "trigger_type": "event",
    "trigger_spec": {
        "event_type": "probe",
        "conditions": [{"field": "seq", "op": ">=", "value": 0}],
    },
    "actions": [{"type": "store", "target": "events"}],  # local: no delivery in the way
}


def settle(sink: str, quiet: float = 1.0, limit: float = 120.0) -> None:
    """Wait until the sink got no webhook for ``quiet`` s: the last phase's deliveries are
    done and do not eat into the next one's CPU."""
    deadline = time.monotonic() + limit
    with httpx.Client(base_url=sink, timeout=10) as client:
        last = client.get("/served").json()
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = client.get("/served").json()
            if now == last:
                return
            last = now
    print(f"    deliveries still going after {limit:g} s")


def create_rules(base: str, rules: list[dict[str, Any]]) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        for rule in rules:
            answer = client.post("/cep/rules", json=rule)
            if answer.status_code != 201:
                raise SystemExit(f"rule {rule['rule_name']}: {answer.status_code} {answer.text}")


# --- the cases -----------------------------------------------------------------------------


def single_round(cepkit: str, noop: str, feed: Feed, n: int, clients: int) -> tuple[float, float]:
    """(no-op requests/s, single-event ingest requests/s) of one round."""
    bodies = [encode(event) for event in feed.take(n + clients)]
    noop_rate = (n + clients) / blast(noop, "/noop", bodies, clients)
    bodies = [encode(event) for event in feed.take(n + clients)]
    ingest_rate = (n + clients) / blast(cepkit, "/cep/ingest", bodies, clients)
    return noop_rate, ingest_rate


def batch_round(base: str, path: str, feed: Feed, batches: int, clients: int) -> float:
    """Events/s of 1,000-event requests (``/cep/ingest``, or the no-op endpoint)."""
    count = batches + clients
    bodies = [encode(feed.take(1000)) for _ in range(count)]
    return count * 1000 / blast(base, path, bodies, clients)


def rules_round(
    cepkit: Server, sink: Server, feed: Feed, batches: int, clients: int
) -> tuple[float, float, float]:
    """(events/s, server CPU ms per 1,000 events, sink CPU ms per 1,000 events) of one
    round of 1,000-event requests to ``/cep/ingest``, the CPU taken over the sending and
    until the last webhook of the round is delivered."""
    count = batches + clients
    bodies = [encode(feed.take(1000)) for _ in range(count)]
    server0, sink0 = cepkit.cpu(), sink.cpu()
    rate = count * 1000 / blast(cepkit, "/cep/ingest", bodies, clients)
    settle(sink, quiet=0.5)
    server1, sink1 = cepkit.cpu(), sink.cpu()
    return rate, (server1 - server0) / count * 1e3, (sink1 - sink0) / count * 1e3


def suppress_rules(base: str, interval: str) -> None:
    """Give every rule a suppression per its group (section 9.3's answer to a storm)."""
    with httpx.Client(base_url=base, timeout=30) as client:
        for document in client.get("/cep/rules").json()["rules"]:
            rule_id = document["rule_id"]
            keys = document.get("group_by") or (document.get("aggregation") or {}).get(
                "group_by", []
            )
            document["suppression"] = {"interval": interval, "key": keys}
            answer = client.put(f"/cep/rules/{rule_id}", json=document)
            if answer.status_code != 200:
                raise SystemExit(f"suppression: {answer.status_code} {answer.text[:200]}")


def firings_total(base: str) -> int:
    with httpx.Client(base_url=base, timeout=30) as client:
        total: int = client.get("/cep/events", params={"limit": 1}).json()["total"]
        return total


def sse_round(cepkit: str, feed: Feed, seconds: float, first_seq: int) -> tuple[list[float], float]:
    """Seconds from sending each probe event to reading its ``created`` change, and the
    rate the events could be sent at (below 1,000/s when the server cannot keep up)."""
    total = int(seconds * 1000)
    sent: dict[int, float] = {}
    seen: dict[int, float] = {}
    connected = threading.Event()
    done = threading.Event()

    def read() -> None:
        timeout = httpx.Timeout(10, read=None)
        with (
            httpx.Client(base_url=cepkit, timeout=timeout) as client,
            client.stream("GET", "/cep/events/stream") as stream,
        ):
            kind = ""
            for line in stream.iter_lines():
                if line.startswith(": connected"):
                    connected.set()
                elif line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:") and kind == "created":
                    now = time.perf_counter()
                    payload = json.loads(line[5:])["payload"]
                    if payload.get("event_type") == "probe":
                        seen.setdefault(payload["seq"], now)
                        if len(seen) >= total:
                            done.set()
                            return
                if done.is_set():
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not connected.wait(30):
        raise SystemExit("the SSE stream did not connect")
    events = feed.take(total)
    for k, event in enumerate(events):
        event.update(event_type="probe", seq=first_seq + k)
    bodies = [encode(events[i : i + 10]) for i in range(0, total, 10)]
    with httpx.Client(base_url=cepkit, timeout=30) as client:
        start = time.perf_counter()
        for k, body in enumerate(bodies):
            delay = start + k * 0.01 - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            at = time.perf_counter()
            for seq in range(first_seq + k * 10, first_seq + k * 10 + 10):
                sent[seq] = at
            answer = client.post("/cep/ingest", content=body, headers=_JSON)
            if answer.status_code != 200:
                raise SystemExit(f"ingest: {answer.status_code} {answer.text[:200]}")
        rate = total / (time.perf_counter() - start)
    done.wait(10)
    done.set()
    if len(seen) < total:
        print(f"    sse round: {total - len(seen)} of {total} probe events never seen")
    return [seen.get(seq, sent[seq] + 10.0) - sent[seq] for seq in sent], rate


_JSON = {"content-type": "application/json"}


def medians(rounds: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """The median of each figure over the rounds."""
    rate, server, sink = (statistics.median(column) for column in zip(*rounds, strict=True))
    return rate, server, sink


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000, help="single-event requests")
    parser.add_argument("--batches", type=int, default=20, help="1,000-event requests")
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    parser.add_argument("--seconds", type=float, default=5.0, help="sse case, per round")
    parser.add_argument("--serve-noop", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_noop:
        serve_noop(args.port)
        return 0

    feed = Feed()
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as work:
        logs = Path(work)
        cepkit_args = ["-m", "cepkit.cli", "serve", "--db", str(logs / "bench.db")]
        noop_args = [str(Path(__file__).resolve()), "--serve-noop"]
        with (
            running(cepkit_args, logs / "cepkit.log") as cepkit,
            running(noop_args, logs / "noop.log") as noop,
            running(noop_args, logs / "sink.log") as sink,
        ):
            rates: dict[str, list[float]] = {k: [] for k in ("noop0", "single0", "noop", "single")}
            for _ in range(args.rounds):
                noop_rate, ingest_rate = single_round(
                    cepkit, noop, feed, args.requests, args.clients
                )
                rates["noop0"].append(noop_rate)
                rates["single0"].append(ingest_rate)
            create_rules(cepkit, ten_rules(sink))
            for _ in range(args.rounds):
                noop_rate, ingest_rate = single_round(
                    cepkit, noop, feed, args.requests, args.clients
                )
                rates["noop"].append(noop_rate)
                rates["single"].append(ingest_rate)
                settle(sink)
            batch_noop: list[float] = []
            storm: list[tuple[float, float, float]] = []
            stored_before = firings_total(cepkit)
            for _ in range(args.rounds):
                batch_noop.append(batch_round(noop, "/noop", feed, args.batches, args.clients))
                storm.append(rules_round(cepkit, sink, feed, args.batches, args.clients))
            alert_share = (firings_total(cepkit) - stored_before) / (
                args.rounds * (args.batches + args.clients) * 1000
            )
            suppress_rules(cepkit, "5m")
            quiet = [
                rules_round(cepkit, sink, feed, args.batches, args.clients)
                for _ in range(args.rounds)
            ]
            create_rules(cepkit, [PROBE_RULE])
            p50s: list[float] = []
            p99s: list[float] = []
            sent_rates: list[float] = []
            for r in range(args.rounds):
                latencies, sent_rate = sse_round(cepkit, feed, args.seconds, r * 1_000_000)
                p50s.append(percentile(latencies, 0.50))
                p99s.append(percentile(latencies, 0.99))
                sent_rates.append(sent_rate)

    med = {name: statistics.median(values) for name, values in rates.items()}
    med_storm, med_quiet = medians(storm), medians(quiet)
    med_batch_noop = statistics.median(batch_noop)
    p50, p99 = statistics.median(p50s), statistics.median(p99s)
    sent_rate = statistics.median(sent_rates)
    print(f"ingest over HTTP, {args.clients} client threads, median of {args.rounds} rounds")
    print(f"  single event, no rule      {med['single0']:8,.0f} req/s   no-op {med['noop0']:8,.0f}")
    print(f"  single event, 10 rules     {med['single']:8,.0f} req/s   no-op {med['noop']:8,.0f}")
    print("  batches of 1,000, 10 rules:        events/s   CPU ms per 1,000 events: server  sink")
    for name, (rate, server_ms, sink_ms) in [
        (f"alert storm ({alert_share:.1%} delivered)", med_storm),
        ("5m suppression per group", med_quiet),
    ]:
        print(f"    {name:30s} {rate:9,.0f}   {server_ms:33.1f} {sink_ms:5.1f}")
    print(f"  no-op, same bodies         {med_batch_noop:8,.0f} events/s   (the ceiling here)")
    print(
        f"  ingest -> SSE, paced 1,000/s p50 {p50 * 1e3:6.1f} ms   p99 {p99 * 1e3:6.1f} ms"
        f"   (sent at {sent_rate:,.0f} events/s)"
    )
    ok = True
    ratio0 = med["single0"] / med["noop0"]
    ratio = med["single"] / med["noop"]
    print(f"  single / no-op, no rule    = {ratio0:.2f}  (shown for reference)")
    print(f"  single / no-op, 10 rules   = {ratio:.2f}  (target >= 0.5)")
    ok &= ratio >= 0.5
    storm_cores = (med_storm[1] + med_storm[2]) / 10  # ms per 1,000 events x 100 per s
    print(f"  suppressed batch / 100,000 = {med_quiet[0] / 1e5:.2f}  (target >= 1)")
    ok &= med_quiet[0] >= 100_000
    print(f"  storm batch / 100,000      = {med_storm[0] / 1e5:.2f}  (shown)")
    print(f"  storm CPU at 100,000/s     = {storm_cores:.1f} cores, server and sink (shown)")
    print(f"  suppressed / no-op batch   = {med_quiet[0] / med_batch_noop:.2f}  (shown)")
    print(f"  p99 / 50 ms                = {p99 / 0.05:.2f}  (target <= 1)")
    print(f"  sent rate / 1,000 events/s = {sent_rate / 1e3:.2f}  (the pace held: >= 0.95)")
    ok &= p99 <= 0.05 and sent_rate >= 950
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
