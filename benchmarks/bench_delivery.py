"""Webhook deliveries: CPU of the cepkit dispatcher per delivery against bare HTTP clients.

The responder is a minimal asyncio HTTP/1.1 server in another process (it answers every
request ``200`` with ``{}``, keep-alive), so only the client side is timed: CPU seconds
of this process (``time.process_time``) per delivery, over ``--n`` deliveries made by
``--workers`` concurrent tasks (4, like the server's action workers), each with the
same JSON body (the firing record). Contenders, alternating within each round (the CPUs
are shared), median of ``--rounds``:

- ``dispatcher``: ``Dispatcher.execute`` of a rule whose action is a webhook to the
  responder (template context, target policy, circuit breaker, retry loop, attempt and
  result models), over the delivery client (:class:`cepkit.channels.http.HttpClient`,
  aiohttp);
- ``httpx``: a bare ``httpx.AsyncClient`` posting the body (what one delivery's HTTP
  request cost before deliveries moved to aiohttp);
- ``aiohttp``: a bare ``aiohttp.ClientSession`` posting the body (the floor).

Target (the live server's alert storms): the dispatcher <= 0.5 x the bare httpx client.
Prints the figures and ratios; exits 2 when the target is missed.

    python benchmarks/bench_delivery.py [--rounds 5] [--n 2000] [--workers 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
import httpx

from cepkit.actions import Dispatcher
from cepkit.actions.runtime import Job, firing_record
from cepkit.channels.http import HttpClient
from cepkit.clock import SystemClock
from cepkit.firing import Firing
from cepkit.rules import Rule

_ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


class _Responder(asyncio.Protocol):
    """Answers each request (headers plus ``content-length`` bytes) with ``200 {}``."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.transport.write(_ANSWER)


def _respond(conn: Connection) -> None:
    """The responder process: serve on a free port, send the port, run until killed."""

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(_Responder, "127.0.0.1", 0)
        conn.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(serve())


def make_rule(url: str) -> Rule:
    return Rule.model_validate(
        {
            "rule_name": "cpu_high",
            "trigger_type": "event",
            "trigger_spec": {},
            "severity": "high",
            "actions": [{"type": "webhook", "endpoint": url}],
        }
    )


async def _workers(n: int, workers: int, one: Callable[[int], Awaitable[None]]) -> float:
    """CPU seconds for ``n`` calls of ``one`` made by ``workers`` tasks."""
    counter = iter(range(n))

    async def work() -> None:
        for i in counter:
            await one(i)

    await asyncio.gather(*(work() for _ in range(workers)))  # warm: connections, caches
    counter = iter(range(n))
    start = time.process_time()
    await asyncio.gather(*(work() for _ in range(workers)))
    return time.process_time() - start


async def run_dispatcher(rule: Rule, firings: list[Firing], workers: int) -> float:
    async with HttpClient() as client:
        dispatcher = Dispatcher(client=client, channels=lambda name: None, clock=SystemClock())

        async def one(i: int) -> None:
            firing = firings[i]
            result = await dispatcher.execute(rule, firing, firing.payload)
            if result.status != "success":
                raise RuntimeError(f"delivery failed: {result.actions[0].error}")

        return await _workers(len(firings), workers, one)


async def run_httpx(url: str, bodies: list[dict[str, Any]], workers: int) -> float:
    async with httpx.AsyncClient(follow_redirects=False) as client:

        async def one(i: int) -> None:
            response = await client.request("POST", url, json=bodies[i], timeout=10.0)
            if not response.is_success:
                raise RuntimeError(f"HTTP {response.status_code}")

        return await _workers(len(bodies), workers, one)


async def run_aiohttp(url: str, bodies: list[dict[str, Any]], workers: int) -> float:
    timeout = aiohttp.ClientTimeout(total=10.0)
    async with aiohttp.ClientSession() as session:

        async def one(i: int) -> None:
            async with session.post(url, json=bodies[i], timeout=timeout) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")

        return await _workers(len(bodies), workers, one)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=2000, help="deliveries per contender and round")
    parser.add_argument("--workers", type=int, default=4, help="concurrent deliveries")
    args = parser.parse_args(argv)
    receive, send = multiprocessing.Pipe(duplex=False)
    responder = multiprocessing.get_context("spawn").Process(
        target=_respond, args=(send,), daemon=True
    )
    responder.start()
    try:
        if not receive.poll(30):
            print("the responder did not start")
            return 1
        url = f"http://127.0.0.1:{receive.recv()}/hook"
        rule = make_rule(url)
        firings = [
            Firing.build(
                rule_key="cpu_high",
                rule_name="cpu_high",
                severity="high",
                event_time=1_770_000_000.0 + i,
                group={"host": f"web-{i % 10:02d}"},
                values={"cpu": 90.0 + i % 10},
                payload={"host": f"web-{i % 10:02d}", "cpu": 90.0 + i % 10},
            )
            for i in range(args.n)
        ]
        bodies = [
            json.loads(json.dumps(firing_record(Job(rule, f, f.payload or {}, {})), default=str))
            for f in firings
        ]
        contenders: dict[str, Callable[[], Awaitable[float]]] = {
            "dispatcher": lambda: run_dispatcher(rule, firings, args.workers),
            "httpx": lambda: run_httpx(url, bodies, args.workers),
            "aiohttp": lambda: run_aiohttp(url, bodies, args.workers),
        }
        seconds: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.rounds):
            for name, run in contenders.items():
                seconds[name].append(asyncio.run(run()))
    finally:
        responder.kill()
        responder.join(timeout=5)
    per = {name: statistics.median(v) / args.n * 1e6 for name, v in seconds.items()}
    print(
        f"webhook deliveries, {args.n:,} per contender, {args.workers} at a time, "
        f"median of {args.rounds} rounds: CPU of this process per delivery"
    )
    print(f"  cepkit dispatcher (aiohttp)   {per['dispatcher']:8.0f} us")
    print(f"  bare httpx.AsyncClient        {per['httpx']:8.0f} us")
    print(f"  bare aiohttp.ClientSession    {per['aiohttp']:8.0f} us")
    ratio = per["dispatcher"] / per["httpx"]
    print(f"  dispatcher / bare httpx   = {ratio:.2f}  (target <= 0.5)")
    print(f"  dispatcher / bare aiohttp = {per['dispatcher'] / per['aiohttp']:.2f}  (shown)")
    return 0 if ratio <= 0.5 else 2


if __name__ == "__main__":
    sys.exit(main())
