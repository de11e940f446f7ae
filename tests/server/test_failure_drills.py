"""Guide 20.3: the five failure injections, each run through the live server, then fixed.

| drill              | guide expects    | here                                                   |
| ------------------ | ---------------- | ------------------------------------------------------ |
| threshold typo     | no match         | "9O" is refused (422, ``trigger_spec.threshold``);     |
|                    |                  | 900 for 90 is a valid rule that silently never matches |
| field path error   | eval fail        | simulate: not evaluated, error at ``cpu_usge``;        |
|                    |                  | ingest: no event, one evaluation error counted         |
| channel auth fail  | notify fail      | Slack 401/403: one attempt, no retry, dead letter      |
| webhook timeout    | retry            | 5 attempts, waits 1/2/4/8 s, failed, dead letter       |
| baseline too short | anomaly disabled | no event, ``baseline_insufficient`` to 30 values       |

Each drill ends with the recovery (guide Lab 12: fix, test the channel, trigger again
or retry the dead letter) and checks it worked. Real local HTTP services stand in for
Slack and webhook endpoints; retry waits are recorded by a fake sleep that moves the
test clock, so nothing sleeps for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cepkit.clock import FakeClock
from cepkit.store import DeadLetterStore, ExecutionLogStore, create_store
from server.app import create_app
from server.settings import Settings
from tests.fakes import FakeService, FakeSleep, service
from tests.server.conftest import drain, live_of, wait_for

__all__ = ["service"]  # the fake-service fixture, used by name

HOOK = "/hooks/cep"  # a webhook endpoint that answers 200


@pytest.fixture
def waits(clock: FakeClock) -> FakeSleep:
    """Records the waits between delivery retries (and moves the clock by them)."""
    return FakeSleep(clock)


@pytest.fixture
def client(sqlite_url: str, clock: FakeClock, waits: FakeSleep) -> Iterator[TestClient]:
    app = create_app(Settings(db=sqlite_url, tick_seconds=0), clock=clock, sleep=waits)
    with TestClient(app) as test_client:
        yield test_client


def create(client: TestClient, document: dict[str, Any]) -> str:
    answer = client.post("/cep/rules", json=document)
    assert answer.status_code == 201, answer.text
    rule_id: str = answer.json()["rule_id"]
    return rule_id


def replace(client: TestClient, rule_id: str, document: dict[str, Any]) -> None:
    answer = client.put(f"/cep/rules/{rule_id}", json=document)
    assert answer.status_code == 200, answer.text


def logs(client: TestClient, rule_id: str) -> list[dict[str, Any]]:
    """The rule's execution logs, newest first."""
    entries: list[dict[str, Any]] = client.get(f"/cep/rules/{rule_id}/logs").json()["logs"]
    return entries


def events(client: TestClient, rule_id: str) -> list[dict[str, Any]]:
    page = client.get("/cep/events", params={"rule_id": rule_id}).json()
    found: list[dict[str, Any]] = page["events"]
    return found


def dead_letters(client: TestClient) -> list[dict[str, Any]]:
    letters: list[dict[str, Any]] = client.get("/cep/deliveries").json()["deliveries"]
    return letters


def cpu_rule(threshold: Any, *actions: dict[str, Any]) -> dict[str, Any]:
    """Lab 1's metric rule, "cpu_usage > ``threshold``", with ``actions``."""
    return {
        "rule_name": "cpu_over_90",
        "severity": "high",
        "is_active": True,
        "trigger_type": "metric",
        "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": threshold},
        "actions": list(actions),
    }


def slack_rule() -> dict[str, Any]:
    notify = {"type": "notify", "channels": ["Slack"], "message": "CPU {{cpu_usage}} on {{host}}"}
    return cpu_rule(90, notify)


# -- 1. threshold typo: expected "no match" ---------------------------------------------


def test_threshold_typo_is_refused_or_never_matches_until_fixed(
    client: TestClient, service: FakeService
) -> None:
    webhook = {"type": "webhook", "endpoint": service.route(HOOK, 200)}
    # "9O" (letter O): the rule is refused with the JSON path, nothing is stored
    refused = client.post("/cep/rules", json=cpu_rule("9O", webhook))
    assert refused.status_code == 422
    [problem] = refused.json()["detail"]
    assert problem["path"] == "trigger_spec.threshold"
    assert problem["msg"] == "threshold must be a number, got '9O'"
    assert client.get("/cep/rules").json()["total"] == 0
    # 900 for 90: a valid rule that can never match a percentage -- the guide's "no match"
    rule_id = create(client, cpu_rule(900, webhook))
    sim = client.post(
        f"/cep/rules/{rule_id}/simulate", json={"payload": {"host": "web-01", "cpu_usage": 95}}
    ).json()
    assert (sim["matched"], sim["condition_evaluated"], sim["errors"]) == (False, False, [])
    assert sim["triggered_actions"] == [] and sim["extracted_value"] == 95
    leaf = sim["explain"]
    assert (leaf["value"], leaf["actual"], leaf["result"]) == (900, 95, False)
    event = {"timestamp": 60, "host": "web-01", "cpu_usage": 95}
    answer = client.post("/cep/ingest", json=event).json()
    assert (answer["accepted"], answer["firings"], answer["event_ids"]) == (1, 0, [])
    drain(client)
    assert events(client, rule_id) == [] and logs(client, rule_id) == []
    runtime = live_of(client).runner.runtime(rule_id)
    assert runtime is not None
    assert (runtime.stats.filtered_out, runtime.stats.evaluation_errors) == (1, 0)  # silent
    # the typo cannot be saved over the rule either: the stored rule is unchanged
    bad_edit = client.put(f"/cep/rules/{rule_id}", json=cpu_rule("9O", webhook))
    assert bad_edit.status_code == 422
    assert bad_edit.json()["detail"][0]["path"] == "trigger_spec.threshold"
    assert client.get(f"/cep/rules/{rule_id}").json()["version"] == 1
    # recovery: fix the threshold, simulate, send the same event again
    replace(client, rule_id, cpu_rule(90, webhook))
    fixed = client.post(
        f"/cep/rules/{rule_id}/simulate", json={"payload": {"host": "web-01", "cpu_usage": 95}}
    ).json()
    assert (fixed["matched"], fixed["triggered_actions"]) == (True, ["webhook"])
    again = client.post("/cep/ingest", json=event).json()
    assert again["firings"] == 1 and len(again["event_ids"]) == 1
    drain(client)
    [stored] = events(client, rule_id)
    assert stored["event_id"] == again["event_ids"][0] and stored["values"] == {"cpu_usage": 95}
    [entry] = logs(client, rule_id)
    assert entry["status"] == "success" and entry["event_id"] == stored["event_id"]
    assert [a["status_code"] for a in entry["actions"][0]["attempts"]] == [200]
    assert service.hits(HOOK)[0].json["payload"]["cpu_usage"] == 95


# -- 2. field path error: expected "eval fail" ------------------------------------------


def _path_rule(field: str, hook: str) -> dict[str, Any]:
    return {
        "rule_name": "cpu_critical_event",
        "severity": "critical",
        "is_active": True,
        "trigger_type": "event",
        "trigger_spec": {
            "event_type": "metric",
            "conditions": [{"field": field, "op": ">", "value": 90}],
        },
        "actions": [{"type": "webhook", "endpoint": hook}],
    }


def test_field_path_error_is_an_evaluation_failure_until_the_path_is_fixed(
    client: TestClient, service: FakeService
) -> None:
    hook = service.route(HOOK, 200)
    rule_id = create(client, _path_rule("cpu_usge", hook))  # typo of cpu_usage
    payload = {"event_type": "metric", "host": "web-01", "cpu_usage": 95}
    sim = client.post(f"/cep/rules/{rule_id}/simulate", json={"payload": payload}).json()
    assert (sim["matched"], sim["condition_evaluated"]) == (False, False)
    assert sim["errors"] == [
        {"path": "cpu_usge", "message": "field 'cpu_usge' is missing from the payload"}
    ]
    leaf = sim["explain"]["items"][0]
    assert (leaf["field"], leaf["present"], leaf["result"]) == ("cpu_usge", False, None)
    # live: the event is accepted, nothing fires, the engine counts an evaluation error
    answer = client.post("/cep/ingest", json={"timestamp": 60, **payload}).json()
    assert (answer["accepted"], answer["firings"], answer["event_ids"]) == (1, 0, [])
    drain(client)
    assert events(client, rule_id) == [] and logs(client, rule_id) == []
    runtime = live_of(client).runner.runtime(rule_id)
    assert runtime is not None
    assert (runtime.stats.evaluation_errors, runtime.stats.filtered_out) == (1, 0)
    assert list(runtime.stats.error_samples) == [
        "cpu_usge: field 'cpu_usge' is missing from the payload"
    ]
    # recovery: the right path; simulate is clean, the same event now fires
    replace(client, rule_id, _path_rule("cpu_usage", hook))
    fixed = client.post(f"/cep/rules/{rule_id}/simulate", json={"payload": payload}).json()
    assert (fixed["matched"], fixed["condition_evaluated"], fixed["errors"]) == (True, True, [])
    again = client.post("/cep/ingest", json={"timestamp": 60, **payload}).json()
    assert len(again["event_ids"]) == 1
    drain(client)
    [stored] = events(client, rule_id)
    assert stored["severity"] == "critical" and stored["condition_evaluated"]["result"] is True
    assert [e["status"] for e in logs(client, rule_id)] == ["success"]
    restarted = live_of(client).runner.runtime(rule_id)
    assert restarted is not None and restarted.stats.evaluation_errors == 0
    assert len(service.hits(HOOK)) == 1


# -- 3. channel auth failure: expected "notify fail" ------------------------------------

REVOKED = "/services/T000/B000/revoked-token"
ROTATED = "/services/T000/B000/rotated-token"


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        (401, "HTTP 401: Unauthorized (check the token or API key)"),
        (403, "HTTP 403: Forbidden (check the token or its permissions)"),
    ],
)
def test_channel_auth_failure_fails_at_once_then_redelivers_with_new_credentials(
    client: TestClient, service: FakeService, waits: FakeSleep, status: int, phrase: str
) -> None:
    service.route(REVOKED, status, body="invalid_token")
    client.put("/cep/channels/Slack", json={"config": {"webhook_url": service.url(REVOKED)}})
    test = client.post("/cep/channels/test", json={"channel": "Slack"}).json()
    assert test["status"] == "error" and test["status_code"] == status
    assert test["message"] == f"{phrase} (invalid_token)"
    rule_id = create(client, slack_rule())
    tested = len(service.hits(REVOKED))  # the channel test's request
    answer = client.post(
        "/cep/ingest", json={"timestamp": 60, "host": "web-01", "cpu_usage": 95}
    ).json()
    drain(client)
    [entry] = logs(client, rule_id)
    assert entry["status"] == "failed" and entry["event_id"] == answer["event_ids"][0]
    assert entry["error_message"] == f"notify Slack: {phrase} (invalid_token)"
    [action] = entry["actions"]
    assert (action["channel"], action["status"], action["delivered"]) == ("Slack", "failed", False)
    [attempt] = action["attempts"]  # not retryable: exactly one attempt
    assert (attempt["attempt"], attempt["status_code"]) == (1, status)
    assert attempt["delay_before_s"] == 0.0
    assert str(status) in attempt["error"] and attempt["latency_ms"] >= 0
    assert waits.delays == [] and len(service.hits(REVOKED)) == tested + 1
    assert "revoked-token" not in str(entry)  # the webhook URL is the credential
    [letter] = dead_letters(client)
    assert letter["letter"]["channel"] == "Slack" and letter["letter"]["attempts"] == 1
    assert letter["letter"]["error"].startswith(f"HTTP {status}")
    # recovery (Lab 12): new credentials, channel test, then retry the dead letter
    service.route(ROTATED, 200, body="ok")
    client.put("/cep/channels/Slack", json={"config": {"webhook_url": service.url(ROTATED)}})
    retest = client.post("/cep/channels/test", json={"channel": "Slack"}).json()
    assert retest["status"] == "ok"
    retried = client.post(f"/cep/deliveries/{letter['dead_letter_id']}/retry").json()
    assert retried["delivered"] is True
    assert retried["result"]["role"] == "retry"
    assert [a["status_code"] for a in retried["result"]["attempts"]] == [200]
    messages = [hit.json["text"] for hit in service.hits(ROTATED)]
    assert messages[-1] == "CPU 95 on web-01"
    assert dead_letters(client) == []
    redelivered = client.get(f"/cep/deliveries/{letter['dead_letter_id']}").json()
    assert redelivered["status"] == "redelivered"
    # and the rule delivers again on its own
    client.post("/cep/ingest", json={"timestamp": 120, "host": "web-01", "cpu_usage": 97})
    drain(client)
    newest = logs(client, rule_id)[0]
    assert newest["status"] == "success" and newest["error_message"] is None
    assert [a["status_code"] for a in newest["actions"][0]["attempts"]] == [200]
    assert len(service.hits(REVOKED)) == tested + 1 and waits.delays == []


def test_a_dead_letter_names_the_execution_log_it_came_from(
    client: TestClient, service: FakeService
) -> None:
    """The dead letter's exec_id leads the operator to the failed execution's log."""
    service.route(REVOKED, 401)
    client.put("/cep/channels/Slack", json={"config": {"webhook_url": service.url(REVOKED)}})
    rule_id = create(client, slack_rule())
    client.post("/cep/ingest", json={"timestamp": 60, "host": "web-01", "cpu_usage": 95})
    drain(client)
    [entry] = logs(client, rule_id)
    [letter] = dead_letters(client)
    assert letter["exec_id"] == entry["exec_id"]


# -- 4. webhook timeout: expected "retry" -----------------------------------------------

SLOW = "/hooks/slow"


def _webhook_rule(endpoint: str, timeout: float) -> dict[str, Any]:
    return cpu_rule(90, {"type": "webhook", "endpoint": endpoint, "timeout": timeout})


def test_webhook_timeout_retries_with_backoff_then_fails_and_redelivers_once_fast(
    client: TestClient, service: FakeService, waits: FakeSleep
) -> None:
    service.route(SLOW, 200, delay=0.6)  # answers, but after the action's 0.2 s timeout
    rule_id = create(client, _webhook_rule(service.url(SLOW), 0.2))
    answer = client.post(
        "/cep/ingest", json={"timestamp": 60, "host": "web-01", "cpu_usage": 95}
    ).json()
    drain(client)
    [entry] = logs(client, rule_id)
    assert entry["status"] == "failed" and entry["event_id"] == answer["event_ids"][0]
    assert entry["error_message"] == f"webhook {service.url(SLOW)}: Timed out after 0.2 s"
    [action] = entry["actions"]
    attempts = action["attempts"]
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4, 5]
    assert [a["delay_before_s"] for a in attempts] == [0.0, 1.0, 2.0, 4.0, 8.0]
    assert {a["error"] for a in attempts} == {"Timed out after 0.2 s"}
    assert {a["status_code"] for a in attempts} == {None}
    assert all(a["latency_ms"] >= 150 for a in attempts)
    first = datetime.fromisoformat(attempts[0]["at"])
    offsets = [(datetime.fromisoformat(a["at"]) - first).total_seconds() for a in attempts]
    assert offsets == [0, 1, 3, 7, 15]  # the waits moved the (fake) clock
    assert waits.delays == [1.0, 2.0, 4.0, 8.0]
    assert len(service.hits(SLOW)) == 5
    assert action["fallback"] is None and action["breaker"] == "closed"
    [letter] = dead_letters(client)
    assert letter["letter"]["action_type"] == "webhook" and letter["letter"]["attempts"] == 5
    assert letter["letter"]["target"] == service.url(SLOW)
    assert letter["letter"]["error"] == "Timed out after 0.2 s"
    # recovery: the endpoint answers in time again; retry the dead letter
    service.route(SLOW, 200)
    retried = client.post(f"/cep/deliveries/{letter['dead_letter_id']}/retry").json()
    assert retried["delivered"] is True
    assert [a["status_code"] for a in retried["result"]["attempts"]] == [200]
    assert service.hits(SLOW)[-1].json["payload"]["cpu_usage"] == 95
    assert dead_letters(client) == []
    assert waits.delays == [1.0, 2.0, 4.0, 8.0]  # no new waits: first try got through


def test_webhook_timeout_recovery_by_pointing_the_rule_at_a_fast_endpoint(
    client: TestClient, service: FakeService
) -> None:
    service.route(SLOW, 200, delay=0.6)
    rule_id = create(client, _webhook_rule(service.url(SLOW), 0.2))
    client.post("/cep/ingest", json={"timestamp": 60, "host": "web-01", "cpu_usage": 95})
    drain(client)
    [letter] = dead_letters(client)
    # the retry takes the rule as it is now: the new endpoint
    fast = service.route(HOOK, 200)
    replace(client, rule_id, _webhook_rule(fast, 0.2))
    retried = client.post(f"/cep/deliveries/{letter['dead_letter_id']}/retry").json()
    assert retried["delivered"] is True and retried["result"]["target"] == fast
    assert len(service.hits(HOOK)) == 1 and len(service.hits(SLOW)) == 5
    client.post("/cep/ingest", json={"timestamp": 120, "host": "web-01", "cpu_usage": 96})
    drain(client)
    assert logs(client, rule_id)[0]["status"] == "success"


def test_webhook_timeout_past_the_action_time_limit_still_leaves_a_dead_letter(
    sqlite_url: str, clock: FakeClock, waits: FakeSleep, service: FakeService
) -> None:
    """The defaults give a hanging endpoint 5 x 10 s + 1+2+4+8 s = 65 s of retries, more
    than ``action_timeout`` (60 s); scaled down here: 5 x 0.3 s against a 1 s limit. The
    delivery that was cut off must still be kept for a retry."""
    service.route(SLOW, 200, delay=0.6)
    settings = Settings(db=sqlite_url, tick_seconds=0, action_timeout=1.0)
    with TestClient(create_app(settings, clock=clock, sleep=waits)) as client:
        rule_id = create(client, _webhook_rule(service.url(SLOW), 0.3))
        client.post("/cep/ingest", json={"timestamp": 60, "host": "web-01", "cpu_usage": 95})
        drain(client)
        [entry] = logs(client, rule_id)
        assert entry["status"] == "failed"
        assert len(dead_letters(client)) == 1, entry


def test_an_execution_past_the_rule_time_limit_is_logged_and_its_delivery_goes_on(
    sqlite_url: str, clock: FakeClock, waits: FakeSleep, service: FakeService
) -> None:
    """Rule execution limit (0.5 s here, 5 s by default): the execution is logged as failed
    when it passes, its worker takes the next job, and the retries go on in the background
    until the webhook answers; the same log entry then says so."""
    service.route(SLOW, 500, 500, 200, delay=0.3)  # three tries of 0.3 s: past 0.5 s
    fast = service.route(HOOK, 200)
    settings = Settings(db=sqlite_url, tick_seconds=0, rule_timeout=0.5, action_workers=1)
    with TestClient(create_app(settings, clock=clock, sleep=waits)) as client:
        slow_id = create(client, _webhook_rule(service.url(SLOW), 2.0))
        fast_rule = {**cpu_rule(90, {"type": "webhook", "endpoint": fast}), "rule_name": "fast"}
        fast_id = create(client, fast_rule)
        client.post("/cep/ingest", json={"timestamp": 60, "host": "web-01", "cpu_usage": 95})
        [first] = wait_for(lambda: logs(client, slow_id))
        assert first["status"] == "failed"
        assert first["error_message"].startswith("the rule execution took longer than 0.5 s")
        # the single worker was free for the other rule's job while the retries went on
        [other] = wait_for(lambda: logs(client, fast_id))
        assert other["status"] == "success" and len(service.hits(SLOW)) < 3
        drain(client)  # waits for the late delivery too
        [entry] = logs(client, slow_id)
        assert entry["exec_id"] == first["exec_id"] and entry["status"] == "success"
        assert entry["error_message"] == (
            "the rule execution took longer than 0.5 s; then it finished"
        )
        [action] = entry["actions"]
        assert [a["status_code"] for a in action["attempts"]] == [500, 500, 200]
        assert entry["duration_ms"] >= 900 and dead_letters(client) == []


def test_stopping_the_server_keeps_every_execution_it_could_not_run(
    sqlite_url: str, clock: FakeClock, waits: FakeSleep, service: FakeService
) -> None:
    """One worker, a webhook answering after 1.5 s, five firings: the stop drains for 5 s,
    then the execution cut off in the worker and the one still queued are logged as
    failed and their deliveries kept as dead letters (to retry), none dropped."""
    service.route(SLOW, *([200] * 5), delay=1.5)
    settings = Settings(db=sqlite_url, tick_seconds=0, action_workers=1, rule_timeout=30)
    with TestClient(create_app(settings, clock=clock, sleep=waits)) as client:
        rule_id = create(client, _webhook_rule(service.url(SLOW), 10.0))
        for t in range(5):
            host = {"timestamp": 60 + t, "host": f"web-0{t}", "cpu_usage": 95}
            client.post("/cep/ingest", json=host)
    store = create_store(sqlite_url, clock=clock)
    try:
        entries = ExecutionLogStore(store.engine).for_rule(rule_id)
        letters = DeadLetterStore(store.engine, clock=clock).list()
    finally:
        store.close()
    assert len(entries) == 5
    statuses = sorted(entry.status for entry in entries)
    assert statuses.count("success") == len(service.hits(SLOW)) - 1  # the cut-off one
    not_run = [e for e in entries if e.error_message == "not run: the server stopped"]
    assert len(not_run) == 5 - statuses.count("success") >= 2
    assert sorted(letter.exec_id for letter in letters) == sorted(e.exec_id for e in not_run)


# -- 5. anomaly baseline too short: expected "anomaly disabled" -------------------------


def _anomaly_rule(hook: str) -> dict[str, Any]:
    """Lab 4: zscore 3.0 on cpu_percent, 30 values of baseline before it may judge."""
    return {
        "rule_name": "cpu_anomaly",
        "is_active": True,
        "trigger_type": "anomaly",
        "trigger_spec": {
            "value_path": "cpu_percent",
            "anomaly_method": "zscore",
            "threshold": 3.0,
            "min_baseline": 30,
        },
        "actions": [{"type": "webhook", "endpoint": hook}],
    }


def _normal(start: int, count: int) -> list[dict[str, Any]]:
    return [{"timestamp": t, "cpu_percent": 40 + t % 5} for t in range(start, start + count)]


def test_anomaly_is_disabled_while_the_baseline_is_short_and_fires_once_it_is_ready(
    client: TestClient, service: FakeService
) -> None:
    rule_id = create(client, _anomaly_rule(service.route(HOOK, 200)))
    spike = {"cpu_percent": 99}
    # 10 values, then Lab 4's spike: no event, the detector says why
    assert client.post("/cep/ingest", json=_normal(0, 10)).json()["accepted"] == 10
    early = client.post("/cep/ingest", json={"timestamp": 10, **spike}).json()
    assert (early["accepted"], early["firings"], early["event_ids"]) == (1, 0, [])
    status = client.get(f"/cep/rules/{rule_id}/anomaly-status").json()
    assert (status["method"], status["threshold"], status["running"]) == ("zscore", 3.0, True)
    [group] = status["groups"]
    assert (group["status"], group["ready"]) == ("baseline_insufficient", False)
    assert (group["n"], group["min_baseline"]) == (11, 30)  # 10 values and the spike
    runtime = live_of(client).runner.runtime(rule_id)
    assert runtime is not None and runtime.stats.baseline_insufficient == 11
    history = [row["cpu_percent"] for row in _normal(0, 10)]
    sim = client.post(
        f"/cep/rules/{rule_id}/simulate", json={"payload": spike, "history": history}
    ).json()
    assert (sim["matched"], sim["condition_evaluated"]) == (False, False)
    assert sim["extracted_value"] == 99
    assert sim["anomaly"]["status"] == "baseline_insufficient"
    assert (sim["anomaly"]["is_anomaly"], sim["anomaly"]["score"]) == (False, None)
    assert sim["notes"] == [
        "baseline_insufficient: 10 of 30 values; an anomaly rule never fires before its "
        "baseline is ready"
    ]
    drain(client)
    assert events(client, rule_id) == [] and logs(client, rule_id) == []
    # recovery: feed the baseline; one value short it is still insufficient
    client.post("/cep/ingest", json=_normal(11, 18))
    short = client.get(f"/cep/rules/{rule_id}/anomaly-status").json()["groups"][0]
    assert (short["n"], short["status"]) == (29, "baseline_insufficient")
    client.post("/cep/ingest", json=_normal(29, 1))
    ready = client.get(f"/cep/rules/{rule_id}/anomaly-status").json()["groups"][0]
    assert (ready["n"], ready["status"], ready["ready"]) == (30, "ready", True)
    fired = client.post("/cep/ingest", json={"timestamp": 30, **spike}).json()
    assert fired["firings"] == 1 and len(fired["event_ids"]) == 1
    drain(client)
    [event] = events(client, rule_id)
    values = event["values"]
    assert (values["cpu_percent"], values["is_anomaly"], values["method"]) == (99, True, "zscore")
    assert values["score"] > 3.0 and values["details"]["threshold"] == 3.0
    assert [e["status"] for e in logs(client, rule_id)] == ["success"]
    assert service.hits(HOOK)[0].json["values"]["is_anomaly"] is True
    # the same verdict in simulate once 30 values of history are given
    baseline = [row["cpu_percent"] for row in _normal(0, 30)]
    judged = client.post(
        f"/cep/rules/{rule_id}/simulate", json={"payload": spike, "history": baseline}
    ).json()
    assert judged["matched"] is True and judged["anomaly"]["status"] == "ok"
    assert judged["anomaly"]["is_anomaly"] is True and judged["anomaly"]["score"] > 3.0
