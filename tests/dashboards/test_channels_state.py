"""``ChannelsState`` against a real server and a fake Slack (no browser)."""

from __future__ import annotations

import pytest

from cepkit.channels import CHANNELS
from cepkit.client import Client
from dashboards.state.channels import (
    MASK,
    ChannelsState,
    config_fields,
    config_from_texts,
    texts_from_config,
)
from tests.fakes import FakeService, service
from tests.server.conftest import wait_for

__all__ = ["service"]  # the fake-service fixture, used by name

SECRET = "/services/T000/B000/secret-token-123"


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_every_channel_gets_a_form_from_its_model(channel: str) -> None:
    model = CHANNELS[channel]
    keys = [field.key for field in config_fields(channel)]
    assert keys == [info.alias or name for name, info in model.model_fields.items()]
    # the defaults alone plus every required field typed in make a valid configuration
    samples = {"secret": "s3cret", "int": "25", "bool": "true", "list": "a@b.c, d@e.f"}
    texts = {
        f.key: samples.get(f.kind, "https://hooks.example.com/x") if f.required else f.default
        for f in config_fields(channel)
    }
    model.model_validate(config_from_texts(channel, texts))


def test_form_texts_round_trip_and_refuse_by_path() -> None:
    config = {"smtp_host": "mx", "smtp_port": 465, "from": "a@b.c", "to": ["x@y.z", "w@v.u"]}
    texts = texts_from_config("Email", {**config, "password": MASK})
    assert texts["to"] == "x@y.z, w@v.u" and texts["password"] == MASK
    assert texts["starttls"] == "true"  # the model's default
    assert config_from_texts("Email", texts) == {
        **config,
        "password": MASK,
        "use_ssl": False,
        "starttls": True,
    }
    with pytest.raises(ValueError, match=r"^config.use_ssl: expected true or false"):
        config_from_texts("Email", {**texts, "use_ssl": "maybe"})
    with pytest.raises(ValueError, match=r"^config.headers: invalid JSON"):
        config_from_texts("Webhook", {"url": "https://x", "headers": "{nope"})


def test_configure_masked_test_and_retry(state_api: Client, service: FakeService) -> None:
    state = ChannelsState(state_api)
    state.load()
    assert state.param.channel.objects == list(CHANNELS) and state.channel == "Slack"
    assert state.texts == {"webhook_url": ""}
    assert state.status_rows().set_index("channel").loc["Slack", "status"] == "not_configured"

    service.route(SECRET, 200)
    state.set_text("webhook_url", service.url(SECRET))
    assert state.save()
    assert state.texts == {"webhook_url": MASK} and state.message == "Slack configuration saved."
    assert state.save()  # the mask sent back keeps the secret
    result = state.test()
    assert result is not None and result.status == "ok" and result.latency_ms >= 0
    assert len(service.hits(SECRET)) == 1
    slack = state.status_rows().set_index("channel").loc["Slack"]
    assert (slack["status"], slack["breaker"]) == ("ok", "closed") and slack["latency_ms"]

    state.open_channel("Email")
    assert state.channel == "Email" and state.texts["smtp_port"] == "587"
    state.set_text("smtp_host", "mx.example.com")
    assert not state.save()  # from and to are required: the server names them
    assert "config.from" in state.message and "config.to" in state.message
    state.set_text("smtp_port", "five")
    assert not state.save()
    assert state.message == "config.smtp_port: expected a whole number, got 'five'"

    # a dead letter (404 is not retried), fixed, retried from the state
    state_api.configure_channel("Slack", {"webhook_url": service.route("/gone", 404)})
    state_api.create_rule(
        {
            "rule_name": "cpu_over_90",
            "is_active": True,
            "trigger_type": "metric",
            "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 90},
            "actions": [{"type": "notify", "channels": ["Slack"], "message": "cpu"}],
        }
    )
    state_api.ingest({"cpu_usage": 95})
    wait_for(state_api.dead_letters, timeout=10)
    state.refresh()
    rows = state.dead_letter_rows()
    assert list(rows["status"]) == ["dead"] and rows["channel"][0] == "Slack"
    assert not state.retry(rows["dead_letter_id"][0])  # still 404
    assert "failed" in state.message
    state_api.configure_channel("Slack", {"webhook_url": service.url(SECRET)})
    assert state.retry(rows["dead_letter_id"][0])
    assert list(state.dead_letter_rows()["status"]) == ["redelivered"]
    assert not state.retry("nope") and "HTTP 404" in state.message
