"""Kill -9 a flow process in the middle of 100,000 events, restart it: the same firings.

The uninterrupted run (in this process) and the killed-and-restarted one (a ``cepkit
flow`` subprocess with a recovery directory) read the same events under two prefixes;
collapsed by firing id their firings are equal, content included: a double-counted
event would change a window's average or a detector's baseline, a lost one a firing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cepkit.flow import FlowStreams, RuleCatalog, build_flow, run_flow
from cepkit.flow.streams import GROUP
from tests.cepkit.flow.conftest import RULES, events_of, flow_firings, load, metrics
from tests.conftest import REPO_ROOT

# per-event rules and windows; the schedule rule is left out (its cron look-ups per
# event would make 100,000 events slow without adding anything here)
KILL_RULES = [r for r in RULES if r["trigger_type"] != "schedule"]
BATCH = 100
MESSAGES = 1_000


def _flow_command(streams: FlowStreams, rules: Path, recovery: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cepkit.cli",
        "flow",
        "--redis",
        streams.url,
        "--prefix",
        streams.prefix,
        "--rules",
        str(rules),
        "--recovery-dir",
        str(recovery),
        "--epoch-seconds",
        "0.1",
    ]


def _read(streams: FlowStreams) -> int:
    """How many input messages the consumer group has handed out."""
    client = streams.client()
    try:
        groups = client.xinfo_groups(streams.inputs()[0])
    except Exception:  # the stream or group is not there yet
        return 0
    finally:
        client.close()
    return int(groups[0].get("entries-read") or 0) if groups else 0


def _pending(streams: FlowStreams) -> int:
    client = streams.client()
    try:
        return int(client.xpending(streams.inputs()[0], GROUP)["pending"])
    finally:
        client.close()


def test_sigkill_mid_stream_loses_and_doubles_nothing(
    redis_server: str, redis_prefix: str, tmp_path: Path
) -> None:
    events = events_of(metrics(minutes=10_000, hosts=10))
    assert len(events) == BATCH * MESSAGES
    whole = FlowStreams(url=redis_server, prefix=f"{redis_prefix}whole:")
    killed = FlowStreams(url=redis_server, prefix=f"{redis_prefix}killed:")
    load(whole, events, BATCH)
    load(killed, events, BATCH)
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(KILL_RULES), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}

    run_flow(build_flow(whole, RuleCatalog.of_documents(KILL_RULES)))
    expected = flow_firings(whole)

    command = _flow_command(killed, rules, tmp_path / "recovery")
    first = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _read(killed) < MESSAGES * 2 // 5:
        assert first.poll() is None, "the flow ended before it could be killed"
        assert time.monotonic() < deadline, "the flow did not get going"
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    read_before = _read(killed)
    assert read_before < MESSAGES  # killed in the middle
    # committed messages were acknowledged while it ran; the rest wait in the group
    assert 0 < _pending(killed) < read_before

    second = subprocess.run(
        command, env=env, cwd=REPO_ROOT, stderr=subprocess.PIPE, timeout=120, check=False
    )
    assert second.returncode == 0, second.stderr.decode()[-2000:]

    got = flow_firings(killed)
    assert all(copy == copies[0] for copies in got.values() for copy in copies)
    assert {k: v[0] for k, v in got.items()} == {k: v[0] for k, v in expected.items()}
    repeated = sum(len(copies) for copies in got.values()) - len(got)
    # resumed from a committed epoch, not from the start
    assert repeated < len(got) // 2, f"{repeated} repeated firings of {len(got)}"
