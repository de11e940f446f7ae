"""``ObservabilityState`` against a real server: Slack fails, Discord takes the fallback,
and the figures say so (no browser)."""

from __future__ import annotations

from cepkit.client import Client
from dashboards.state.observability import ObservabilityState
from tests.fakes import FakeService, service
from tests.server.conftest import wait_for

__all__ = ["service"]  # the fake-service fixture, used by name


def test_rule_durations_channel_rates_backlog_and_checks(
    state_api: Client, service: FakeService
) -> None:
    state = ObservabilityState(state_api)
    state.refresh()
    assert state.rule_rows().empty and state.channel_rows().empty
    assert state.backlog_text() == "ACK backlog: 0 unacked, 0 beyond the 1 h SLA"

    state_api.configure_channel("Slack", {"webhook_url": service.route("/slack", 500)})
    state_api.configure_channel("Discord", {"webhook_url": service.route("/discord", 200)})
    rule_id = state_api.create_rule(
        {
            "rule_name": "cpu_over_90",
            "is_active": True,
            "trigger_type": "metric",
            "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 90},
            "actions": [
                {
                    "type": "notify",
                    "channels": ["Slack"],
                    "fallback_channel": "Discord",
                    "message": "cpu {{cpu_usage}}",
                }
            ],
        }
    ).rule_id
    state_api.ingest([{"cpu_usage": 95}, {"cpu_usage": 96}, {"cpu_usage": 97}])
    wait_for(lambda: state_api.logs(rule_id).total == 3, timeout=15)
    state.refresh()

    rules = state.rule_rows().set_index("rule_name")
    assert rules.loc["cpu_over_90", "executions"] == 3 and rules.loc["cpu_over_90", "firings"] == 3
    assert float(rules.loc["cpu_over_90", "p95_ms"]) >= 0
    assert float(rules.loc["cpu_over_90", "p99_ms"]) >= float(rules.loc["cpu_over_90", "p95_ms"])
    assert bool(rules.loc["cpu_over_90", "within_targets"])  # local fakes answer at once
    channels = state.channel_rows().set_index("channel")
    assert channels.loc["Slack", "success_rate"] == "0.0%"
    assert channels.loc["Slack", "fallback_rate"] == "100.0%"
    assert channels.loc["Discord", "success_rate"] == "100.0%"
    # three failed deliveries open Slack's breaker (guide: 3 failures); which delivery is
    # "the newest" (breaker_state) depends on how the parallel workers interleave
    assert channels.loc["Slack", "breaker_opens"] == 1
    assert state.backlog_text().startswith("ACK backlog: 3 unacked, oldest 0 min")
    assert state.events_text().startswith("Events: 3 created, 0 acked")
    checks = state.check_rows()
    assert set(checks["status"]) <= {"pass", "warn", "unknown"} and "warn" in set(checks["status"])

    state.period = "week"
    state.refresh()
    assert state.checks is not None and state.checks.kind == "weekly"
    assert state.stats is not None and state.stats.period.name == "week"
