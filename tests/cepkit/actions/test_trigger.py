"""trigger: the chained rule gets the firing; cycles and depth are stopped."""

from __future__ import annotations

from typing import Any

import pytest

from cepkit.actions import Dispatcher, ExecutionResult
from cepkit.errors import RuleNotFound
from cepkit.rules import Rule
from tests.fakes import make_firing, make_rule

pytestmark = pytest.mark.anyio


def chained(name: str, *targets: str) -> Rule:
    return make_rule(*({"type": "trigger", "rule_id": t} for t in targets), rule_name=name)


class Server:
    """What the server's trigger callback does: find the rule, run its actions."""

    def __init__(self, rules: dict[str, Rule]) -> None:
        self.rules = rules
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.dispatcher: Dispatcher | None = None

    async def __call__(self, rule_id: str, payload: dict[str, Any]) -> ExecutionResult:
        self.calls.append((rule_id, payload))
        if rule_id not in self.rules:
            raise RuleNotFound(rule_id)
        rule = self.rules[rule_id]
        assert self.dispatcher is not None
        return await self.dispatcher.execute(rule, make_firing(rule), payload)


def setup(make_dispatcher: Any, *rules: Rule, **options: Any) -> tuple[Dispatcher, Server]:
    server = Server({rule.rule_name: rule for rule in rules})
    server.dispatcher = make_dispatcher(trigger=server, **options)
    return server.dispatcher, server


async def test_the_chained_rule_gets_this_firing(make_dispatcher: Any) -> None:
    escalate, page = chained("escalate", "page"), make_rule(rule_name="page")
    dispatcher, server = setup(make_dispatcher, escalate, page)
    firing = make_firing(escalate, failures=4)
    result = await dispatcher.execute(escalate, firing, {"host": "web-01"})
    (action,) = result.actions
    assert (action.action_type, action.target, action.status) == ("trigger", "page", "success")
    assert len(action.attempts) == 1
    ((rule_id, payload),) = server.calls
    assert rule_id == "page"
    assert payload["firing_id"] == firing.firing_id and payload["rule_name"] == "escalate"
    assert payload["values"] == {"failures": 4} and payload["payload"] == {"host": "web-01"}
    assert payload["trigger_chain"] == ["escalate"]
    assert action.detail["triggered"]["rule_name"] == "page"
    assert action.detail["triggered"]["status"] == "success"


async def test_cycle_is_detected(make_dispatcher: Any) -> None:
    a, b = chained("a", "b"), chained("b", "a")
    dispatcher, server = setup(make_dispatcher, a, b)
    result = await dispatcher.execute(a, make_firing(a), {})
    assert result.actions[0].status == "success"  # a ran b ...
    inner = result.actions[0].detail["triggered"]["actions"][0]
    assert inner["status"] == "failed" and inner["error"] == "trigger cycle: a → b → a"
    assert inner["attempts"] == []  # ... and b refused to run a again
    assert [call[0] for call in server.calls] == ["b"]


async def test_self_trigger_is_a_cycle(make_dispatcher: Any) -> None:
    loop = chained("loop", "loop")
    dispatcher, server = setup(make_dispatcher, loop)
    result = await dispatcher.execute(loop, make_firing(loop), {})
    assert result.actions[0].error == "trigger cycle: loop → loop"
    assert server.calls == []


async def test_depth_limit(make_dispatcher: Any) -> None:
    rules = [chained(f"r{i}", f"r{i + 1}") for i in range(5)] + [make_rule(rule_name="r5")]
    dispatcher, server = setup(make_dispatcher, *rules, max_trigger_depth=2)
    result = await dispatcher.execute(rules[0], make_firing(rules[0]), {})
    assert [call[0] for call in server.calls] == ["r1", "r2"]
    second = result.actions[0].detail["triggered"]["actions"][0]["detail"]["triggered"]
    refused = second["actions"][0]
    assert refused["error"] == "trigger depth limit 2 reached: r0 → r1 → r2 → r3"
    assert refused["dead_letter"]["action_type"] == "trigger"


async def test_chain_in_the_payload_is_honoured(make_dispatcher: Any) -> None:
    b = chained("b", "a")
    dispatcher, server = setup(make_dispatcher, b)
    result = await dispatcher.execute(b, make_firing(b), {"trigger_chain": ["a"]})
    assert result.actions[0].error == "trigger cycle: a → b → a" and server.calls == []


async def test_callback_errors_are_reported(make_dispatcher: Any) -> None:
    orphan = chained("orphan", "nowhere")
    dispatcher, _ = setup(make_dispatcher, orphan)
    (action,) = (await dispatcher.execute(orphan, make_firing(orphan), {})).actions
    assert action.error == "RuleNotFound: rule 'nowhere' not found"
    assert action.attempts[0].error == action.error and action.dead_letter is not None


async def test_without_a_handler(dispatcher: Dispatcher) -> None:
    rule = chained("a", "b")
    (action,) = (await dispatcher.execute(rule, make_firing(rule), {})).actions
    assert action.error == "no trigger handler is configured"


async def test_pass_payload_false_sends_only_the_chain(make_dispatcher: Any) -> None:
    rule = make_rule({"type": "trigger", "rule_id": "b", "pass_payload": False}, rule_name="a")
    dispatcher, server = setup(make_dispatcher, rule, make_rule(rule_name="b"))
    await dispatcher.execute(rule, make_firing(rule), {"x": 1})
    assert server.calls[0][1] == {"trigger_chain": ["a"]}
