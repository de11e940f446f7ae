"""Channels and deliveries through the live server, against real local fake services."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cepkit.clock import FakeClock
from server.app import create_app
from server.settings import Settings
from tests.fakes import FakeService, free_port, service
from tests.server.conftest import drain

__all__ = ["service"]  # the fake-service fixture, used by name

SECRET_PATH = "/services/T000/B000/secret-token-123"


class NoSleep:
    """Records the waits between retries instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def no_sleep() -> NoSleep:
    return NoSleep()


@pytest.fixture
def client(sqlite_url: str, clock: FakeClock, no_sleep: NoSleep) -> Iterator[TestClient]:
    app = create_app(Settings(db=sqlite_url, tick_seconds=0), clock=clock, sleep=no_sleep)
    with TestClient(app) as test_client:
        yield test_client


def rule(**extra: Any) -> dict[str, Any]:
    return {
        "rule_name": "cpu_over_90",
        "is_active": True,
        "trigger_type": "metric",
        "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 90},
        "actions": [
            {
                "type": "notify",
                "channels": ["Slack"],
                "fallback_channel": "Discord",
                "message": "CPU {{cpu_usage}} on {{host}}",
            }
        ],
        **extra,
    }


def test_types_status_and_masked_configuration(client: TestClient, service: FakeService) -> None:
    assert client.get("/cep/channels/types").json()["channels"][:4] == [
        "Slack",
        "Email",
        "SMS",
        "Discord",
    ]
    status = client.get("/cep/channels/status").json()["channels"]
    assert status["Slack"] == {
        "configured": False,
        "last_test": None,
        "status": "not_configured",
        "message": None,
        "latency_ms": None,
        "breaker": "closed",
    }
    url = service.url(SECRET_PATH)
    put = client.put("/cep/channels/slack", json={"config": {"webhook_url": url}})
    assert put.status_code == 200 and put.json()["config"] == {"webhook_url": "**********"}
    assert "secret-token" not in client.get("/cep/channels/Slack").text
    assert client.get("/cep/channels/status").json()["channels"]["Slack"]["status"] == "untested"
    # sending the mask back keeps the secret
    masked = {"config": {"webhook_url": "**********"}}
    assert client.put("/cep/channels/Slack", json=masked).is_success
    live = client.app.state.live  # type: ignore[attr-defined]
    assert live.channels.config("Slack").webhook_url.get_secret_value() == url
    bad = client.put("/cep/channels/Email", json={"config": {"smtp_host": "x", "to": []}})
    assert bad.status_code == 422
    assert {p["path"] for p in bad.json()["detail"]} >= {"config.from", "config.to"}
    unknown = client.put("/cep/channels/pager", json={"config": {}})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["path"] == "channel"


def test_channel_test_uses_the_stored_or_given_config_and_is_remembered(
    client: TestClient, service: FakeService
) -> None:
    service.route(SECRET_PATH, 200, body="ok")
    service.route("/missing", 404)
    client.put("/cep/channels/Slack", json={"config": {"webhook_url": service.url(SECRET_PATH)}})
    ok = client.post(
        "/cep/channels/test", json={"channel": "Slack", "test_message": "CEP 채널 테스트"}
    ).json()
    assert ok["channel"] == "Slack" and ok["status"] == "ok"
    assert ok["message"] == "Test message delivered successfully" and ok["latency_ms"] >= 0
    assert service.hits(SECRET_PATH)[0].json["text"].endswith("CEP 채널 테스트")
    status = client.get("/cep/channels/status").json()["channels"]["Slack"]
    assert status["status"] == "ok" and status["last_test"] is not None
    wrong = client.post(
        "/cep/channels/test",
        json={"channel": "Slack", "config": {"webhook_url": service.url("/missing")}},
    ).json()
    assert wrong["status"] == "error" and wrong["message"] == "HTTP 404: Webhook URL not found"
    assert client.get("/cep/channels/status").json()["channels"]["Slack"]["status"] == "error"


def test_ingest_delivers_for_real_with_attempts_in_the_log(
    client: TestClient, service: FakeService, no_sleep: NoSleep
) -> None:
    service.route(SECRET_PATH, 500, 503, 200)
    client.put("/cep/channels/Slack", json={"config": {"webhook_url": service.url(SECRET_PATH)}})
    rule_id = client.post("/cep/rules", json=rule()).json()["rule_id"]
    ids = client.post(
        "/cep/ingest", json={"timestamp": 60, "host": "web-01", "cpu_usage": 95}
    ).json()["event_ids"]
    drain(client)
    log = client.get(f"/cep/rules/{rule_id}/logs").json()["logs"][0]
    assert log["status"] == "success" and log["event_id"] == ids[0]
    action = log["actions"][0]
    assert [a["status_code"] for a in action["attempts"]] == [500, 503, 200]
    assert no_sleep.waits == [1.0, 2.0]
    assert service.hits(SECRET_PATH)[-1].json["text"].endswith("CPU 95 on web-01")
    assert "secret-token" not in str(log)
    detail = client.get(f"/cep/events/{ids[0]}").json()
    assert detail["deliveries"][0]["exec_id"] == log["exec_id"]


def test_failure_goes_to_the_fallback_then_a_dead_letter_that_retries_once_fixed(
    client: TestClient, service: FakeService
) -> None:
    dead_port = free_port()  # nothing listens: connection refused
    client.put(
        "/cep/channels/Slack",
        json={"config": {"webhook_url": f"http://127.0.0.1:{dead_port}/hook"}},
    )
    service.route("/discord", 500)
    client.put("/cep/channels/Discord", json={"config": {"webhook_url": service.url("/discord")}})
    rule_id = client.post("/cep/rules", json=rule()).json()["rule_id"]
    client.post("/cep/ingest", json={"timestamp": 60, "host": "web-01", "cpu_usage": 95})
    drain(client)
    log = client.get(f"/cep/rules/{rule_id}/logs").json()["logs"][0]
    assert log["status"] == "failed"
    action = log["actions"][0]
    assert len(action["attempts"]) == 5 and action["fallback"]["channel"] == "Discord"
    letters = client.get("/cep/deliveries").json()["deliveries"]
    assert len(letters) == 1 and letters[0]["letter"]["channel"] == "Slack"
    letter_id = letters[0]["dead_letter_id"]
    # fix the channel (Lab 12), then retry the dead letter
    service.route("/fixed", 200)
    client.put("/cep/channels/Slack", json={"config": {"webhook_url": service.url("/fixed")}})
    retried = client.post(f"/cep/deliveries/{letter_id}/retry").json()
    assert retried["delivered"] is True
    assert service.hits("/fixed")[0].json["text"].endswith("CPU 95 on web-01")
    assert client.get("/cep/deliveries").json()["total"] == 0
    assert client.get(f"/cep/deliveries/{letter_id}").json()["status"] == "redelivered"
    newest = client.get(f"/cep/rules/{rule_id}/logs").json()["logs"][0]
    assert (newest["exec_id"], newest["trigger"], newest["status"]) == (
        retried["exec_id"],
        "retry",
        "success",
    )
    assert letters[0]["exec_id"] == log["exec_id"]  # the dead letter names its execution
    assert client.post("/cep/deliveries/nope/retry").status_code == 404


def test_with_redis_two_servers_share_the_channel_breaker(
    tmp_path: Any, clock: FakeClock, redis_server: str, redis_client: Any
) -> None:
    """Three failed deliveries through server A open Slack's breaker; server B sees it."""
    dead = f"http://127.0.0.1:{free_port()}/hook"  # connection refused
    prefix = redis_client.prefix

    def settings(name: str) -> Settings:
        return Settings(
            db=f"sqlite:///{tmp_path / name}",
            tick_seconds=0,
            redis_url=redis_server,
            redis_prefix=prefix,
        )

    rule_doc = rule()
    rule_doc["actions"][0].pop("fallback_channel")
    with (
        TestClient(create_app(settings("a.db"), clock=clock, sleep=NoSleep())) as a,
        TestClient(create_app(settings("b.db"), clock=clock, sleep=NoSleep())) as b,
    ):
        for app in (a, b):
            app.put("/cep/channels/Slack", json={"config": {"webhook_url": dead}})
        assert b.get("/cep/channels/status").json()["channels"]["Slack"]["breaker"] == "closed"
        a.post("/cep/rules", json=rule_doc)
        for t in (60, 120, 180):
            a.post("/cep/ingest", json={"timestamp": t, "host": "h", "cpu_usage": 95})
            drain(a)
        assert a.get("/cep/channels/status").json()["channels"]["Slack"]["breaker"] == "open"
        assert b.get("/cep/channels/status").json()["channels"]["Slack"]["breaker"] == "open"
