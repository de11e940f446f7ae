"""The Copilot's phrasebook: sentences in Korean and English with their exact drafts.

Each :class:`Case` gives the status, the rule (in the guide's JSON shapes; compared with
the draft after both are put in canonical form by the rule model) and the unparsed
fragments. ``python -m tests.cepkit.copilot.phrasebook`` prints the share drafted exactly
and every miss. Generated notify messages, the rule name and the description are compared in
test_drafter.py, so a case leaves them out unless it is about them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cepkit.copilot import Draft, draft
from cepkit.rules import parse_rule

PD = "https://events.pagerduty.com/v2/enqueue"
HEALTH = "https://api.internal.example.com/health/check"


def c(f: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": f, "op": op, "value": value}


def all_(*items: dict[str, Any]) -> dict[str, Any]:
    return {"logic": "AND", "conditions": list(items)}


def any_(*items: dict[str, Any]) -> dict[str, Any]:
    return {"logic": "OR", "conditions": list(items)}


def notify(*channels: str, fallback: str | None = None, message: str | None = None) -> Any:
    action: dict[str, Any] = {"type": "notify", "channels": list(channels)}
    if fallback:
        action["fallback_channel"] = fallback
    if message:
        action["message"] = message
    return action


def webhook(url: str, method: str = "POST") -> dict[str, Any]:
    return {"type": "webhook", "endpoint": url, "method": method}


def metric(**spec: Any) -> dict[str, Any]:
    return {"trigger_type": "metric", "trigger_spec": spec}


def event(**spec: Any) -> dict[str, Any]:
    return {"trigger_type": "event", "trigger_spec": spec}


def schedule(cron: str, tz: str = "UTC") -> dict[str, Any]:
    return {
        "trigger_type": "schedule",
        "trigger_spec": {"scheduleExpression": cron, "timezone": tz},
    }


def anomaly(path: str, method: str = "zscore", **params: Any) -> dict[str, Any]:
    return {
        "trigger_type": "anomaly",
        "trigger_spec": {"value_path": path, "anomaly_method": method, **params},
    }


def count_over(size: str, op: str, n: int) -> dict[str, Any]:
    return {
        "window_config": {"type": "tumbling", "size": size},
        "aggregation": [{"type": "count"}],
        "composite_condition": all_(c("count", op, n)),
    }


def averaged(size: str, *fields: str, agg: str = "avg") -> dict[str, Any]:
    return {
        "window_config": {"type": "tumbling", "size": size},
        "aggregation": [{"type": agg, "field": f} for f in fields],
    }


@dataclass(frozen=True)
class Case:
    """A sentence and its exact expected draft."""

    text: str
    status: str
    rule: dict[str, Any] | None = None
    unparsed: tuple[str, ...] = ()
    note: str | None = None  # a fragment one of the notes must contain


def canonical(expected: dict[str, Any], draft: Draft) -> dict[str, Any]:
    """``expected`` completed with the draft's name, description and generated messages,
    in the rule model's canonical form."""
    actual_actions = draft.rule.get("actions", [])
    actions = []
    for index, action in enumerate(expected.get("actions", [])):
        if action["type"] == "notify" and "message" not in action and index < len(actual_actions):
            action = {**action, "message": actual_actions[index].get("message", "")}
        actions.append(action)
    document = {
        "rule_name": draft.rule.get("rule_name"),
        "description": draft.rule.get("description"),
        **expected,
        "actions": actions,
    }
    return parse_rule(document).to_document()


def exact(case: Case, draft: Draft) -> bool:
    """Whether ``draft`` is exactly what ``case`` expects."""
    if draft.status != case.status or tuple(draft.unparsed) != case.unparsed:
        return False
    if case.note is not None and not any(case.note in note for note in draft.notes):
        return False
    if case.rule is None:
        return True
    return draft.rule == canonical(case.rule, draft)


CPU, MEM, DISK, LAT = "cpu_usage", "memory_percent", "disk_percent", "latency_ms"

CASES: tuple[Case, ...] = (
    # -- the guide's sentence, and metric comparisons with units
    Case(
        "CPU가 90% 넘고 메모리가 80% 넘으면 Slack으로 알림 보내줘",
        "ready",
        {
            **metric(metric_name=CPU),
            "composite_condition": all_(c(CPU, ">", 90), c(MEM, ">", 80)),
            "actions": [notify("Slack")],
        },
    ),
    Case(
        "memory above 80% and cpu above 90% then notify slack",
        "ready",
        {
            **metric(metric_name=MEM),
            "composite_condition": all_(c(MEM, ">", 80), c(CPU, ">", 90)),
            "actions": [notify("Slack")],
        },
    ),
    Case(
        "디스크 90 이상이면 이메일로 알려줘",
        "ready",
        {**metric(metric_name=DISK, operator=">=", threshold=90), "actions": [notify("Email")]},
    ),
    Case(
        "응답시간 500ms 초과하면 디스코드로 알림",
        "ready",
        {**metric(metric_name=LAT, operator=">", threshold=500), "actions": [notify("Discord")]},
    ),
    Case(
        "CPU 사용률이 95%를 넘으면 문자 보내줘",
        "ready",
        {**metric(metric_name=CPU, operator=">", threshold=95), "actions": [notify("SMS")]},
    ),
    Case(
        "메모리가 20% 미만이면 Slack",
        "ready",
        {**metric(metric_name=MEM, operator="<", threshold=20), "actions": [notify("Slack")]},
    ),
    Case(
        "when disk usage is at least 95% page me via SMS as critical",
        "ready",
        {
            **metric(metric_name=DISK, operator=">=", threshold=95),
            "severity": "critical",
            "actions": [notify("SMS")],
        },
    ),
    Case(
        "send a critical alert to slack when memory > 90%",
        "ready",
        {
            **metric(metric_name=MEM, operator=">", threshold=90),
            "severity": "critical",
            "actions": [notify("Slack")],
        },
    ),
    Case(
        "latency exceeds 2s, notify discord",
        "ready",
        {**metric(metric_name=LAT, operator=">", threshold=2000), "actions": [notify("Discord")]},
        note="2000ms",
    ),
    Case(
        "queue_depth 100 넘으면 https://hooks.example.com/queue 호출",
        "ready",
        {
            **metric(metric_name="queue_depth", operator=">", threshold=100),
            "actions": [webhook("https://hooks.example.com/queue")],
        },
    ),
    Case(
        "cpu 90% or more, email",
        "ready",
        {**metric(metric_name=CPU, operator=">=", threshold=90), "actions": [notify("Email")]},
    ),
    # -- AND / OR
    Case(
        "디스크 90 이상이거나 응답시간 500ms 초과하면 슬랙",
        "ready",
        {
            **metric(metric_name=DISK),
            "composite_condition": any_(c(DISK, ">=", 90), c(LAT, ">", 500)),
            "actions": [notify("Slack")],
        },
    ),
    Case(
        "CPU가 90% 넘거나 디스크가 95% 넘으면 P1 critical로 문자 보내고 실패하면 이메일로",
        "ready",
        {
            **metric(metric_name=CPU),
            "composite_condition": any_(c(CPU, ">", 90), c(DISK, ">", 95)),
            "severity": "critical",
            "priority": "P1",
            "actions": [notify("SMS", fallback="Email")],
        },
    ),
    Case(
        "CPU 80% 이상 그리고 메모리 70% 이상이면 이메일",
        "ready",
        {
            **metric(metric_name=CPU),
            "composite_condition": all_(c(CPU, ">=", 80), c(MEM, ">=", 70)),
            "actions": [notify("Email")],
        },
    ),
    Case(
        "CPU 80% 이상 또는 메모리 70% 이상이면 이메일",
        "ready",
        {
            **metric(metric_name=CPU),
            "composite_condition": any_(c(CPU, ">=", 80), c(MEM, ">=", 70)),
            "actions": [notify("Email")],
        },
    ),
    Case(
        "cpu > 90 and memory > 80 or disk > 95 slack",
        "ready",
        {
            **metric(metric_name=CPU),
            "composite_condition": any_(all_(c(CPU, ">", 90), c(MEM, ">", 80)), c(DISK, ">", 95)),
            "actions": [notify("Slack")],
        },
    ),
    Case(
        'latency above 2s or error_rate > 5 notify discord with message "latency or errors high"',
        "ready",
        {
            **metric(metric_name=LAT),
            "composite_condition": any_(c(LAT, ">", 2000), c("error_rate", ">", 5)),
            "actions": [notify("Discord", message="latency or errors high")],
        },
    ),
    # -- windows and aggregations
    Case(
        "CPU 5분 평균이 90% 넘으면 Slack으로 알려줘",
        "ready",
        {
            **metric(metric_name=CPU, operator=">", threshold=90, aggregation="avg", duration="5m"),
            "actions": [notify("Slack")],
        },
    ),
    Case(
        "alert me on Slack when CPU is over 90% for 5 minutes",
        "ready",
        {
            **metric(metric_name=CPU, operator=">", threshold=90, aggregation="avg", duration="5m"),
            "actions": [notify("Slack")],
        },
        note="avg",
    ),
    Case(
        "if the 5-minute average cpu exceeds 85% send a slack message",
        "ready",
        {
            **metric(metric_name=CPU, operator=">", threshold=85, aggregation="avg", duration="5m"),
            "actions": [notify("Slack")],
        },
    ),
    Case(
        "응답시간 10분 최대값이 2000ms 넘으면 디스코드",
        "ready",
        {
            **metric(
                metric_name=LAT, operator=">", threshold=2000, aggregation="max", duration="10m"
            ),
            "actions": [notify("Discord")],
        },
    ),
    Case(
        "5분 동안 CPU 평균 90% 이상, 메모리 평균 80% 이상이면 이메일",
        "ready",
        {
            **metric(metric_name=CPU),
            **averaged("5m", CPU, MEM),
            "composite_condition": all_(
                c("avg_cpu_usage", ">=", 90), c("avg_memory_percent", ">=", 80)
            ),
            "actions": [notify("Email")],
        },
        note="applies to every metric",
    ),
    Case(
        "호스트별 5분 평균 CPU 90% 넘으면 슬랙",
        "ready",
        {
            **metric(metric_name=CPU, operator=">", threshold=90, aggregation="avg", duration="5m"),
            "group_by": ["host"],
            "actions": [notify("Slack")],
        },
    ),
    Case(
        "error_count >= 10 for 5m then webhook https://hooks.example.com/x",
        "ready",
        {
            **metric(
                metric_name="error_count",
                operator=">=",
                threshold=10,
                aggregation="avg",
                duration="5m",
            ),
            "actions": [webhook("https://hooks.example.com/x")],
        },
    ),
    # -- event counts
    Case(
        "1분 내 에러 5건 이상이면 문자 보내줘",
        "ready",
        {**event(event_type="error"), **count_over("1m", ">=", 5), "actions": [notify("SMS")]},
    ),
    Case(
        "1분 동안 로그인 실패 10번 넘게 발생하면 문자",
        "ready",
        {
            **event(event_type="login_failed"),
            **count_over("1m", ">", 10),
            "actions": [notify("SMS")],
        },
    ),
    Case(
        "more than 5 errors within 1 minute from payment-service, send SMS",
        "ready",
        {
            **event(event_type="error", source="payment-service"),
            **count_over("1m", ">", 5),
            "actions": [notify("SMS")],
        },
    ),
    Case(
        "5 or more timeouts in 10 minutes from checkout-service notify discord",
        "ready",
        {
            **event(event_type="timeout", source="checkout-service"),
            **count_over("10m", ">=", 5),
            "actions": [notify("Discord")],
        },
    ),
    Case(
        "5분 동안 critical 에러가 3번 넘게 나면 Slack",
        "ready",
        {
            **event(event_type="error", conditions=[c("severity", "==", "critical")]),
            **count_over("5m", ">", 3),
            "actions": [notify("Slack")],
        },
    ),
    Case(
        "1분 내 응답시간 500ms 넘는 에러 5건 이상이면 문자",
        "ready",
        {
            **event(event_type="error", conditions=[c(LAT, ">", 500)]),
            **count_over("1m", ">=", 5),
            "actions": [notify("SMS")],
        },
    ),
    Case(
        "more than 5 errors per minute notify slack",
        "ready",
        {**event(event_type="error"), **count_over("1m", ">", 5), "actions": [notify("Slack")]},
    ),
    Case(
        "분당 에러 10건 이상이면 슬랙",
        "ready",
        {**event(event_type="error"), **count_over("1m", ">=", 10), "actions": [notify("Slack")]},
    ),
    # -- event rules
    Case(
        f"api-gateway에서 critical 에러 발생하면 {PD} 호출",
        "ready",
        {
            **event(
                event_type="error",
                source="api-gateway",
                conditions=[c("severity", "==", "critical")],
            ),
            "actions": [webhook(PD)],
        },
    ),
    Case(
        "critical errors from api-gateway should go to slack and email",
        "ready",
        {
            **event(
                event_type="error",
                source="api-gateway",
                conditions=[c("severity", "==", "critical")],
            ),
            "actions": [notify("Slack", "Email")],
        },
    ),
    Case(
        "critical 이벤트가 들어오면 디스코드로",
        "ready",
        {**event(conditions=[c("severity", "==", "critical")]), "actions": [notify("Discord")]},
    ),
    Case(
        "payment_failed 이벤트가 오면 Slack으로 P2 알림",
        "ready",
        {**event(event_type="payment_failed"), "priority": "P2", "actions": [notify("Slack")]},
    ),
    Case(
        "api-gateway에서 응답시간 3000ms 넘는 에러는 Slack",
        "ready",
        {
            **event(event_type="error", source="api-gateway", conditions=[c(LAT, ">", 3000)]),
            "actions": [notify("Slack")],
        },
    ),
    # -- schedules
    Case(
        f"매 5분 {HEALTH} GET 호출",
        "ready",
        {**schedule("*/5 * * * *"), "actions": [webhook(HEALTH, "GET")]},
        note="UTC",
    ),
    Case(
        "10분마다 https://ops.example.com/ping 호출해줘",
        "ready",
        {**schedule("*/10 * * * *"), "actions": [webhook("https://ops.example.com/ping")]},
    ),
    Case(
        "평일 오전 9시 KST에 이메일로 리포트 보내줘",
        "ready",
        {**schedule("0 9 * * 1-5", "Asia/Seoul"), "actions": [notify("Email")]},
    ),
    Case(
        "every day at 9 KST send an email",
        "ready",
        {**schedule("0 9 * * *", "Asia/Seoul"), "actions": [notify("Email")]},
    ),
    Case(
        "every weekday at 9:30 am KST send the report by email",
        "ready",
        {**schedule("30 9 * * 1-5", "Asia/Seoul"), "actions": [notify("Email")]},
    ),
    Case(
        "매주 월요일 오후 6시 한국 시간으로 슬랙에 리포트",
        "ready",
        {**schedule("0 18 * * 1", "Asia/Seoul"), "actions": [notify("Slack")]},
    ),
    Case(
        "every 2 hours call https://ops.example.com/sync with PUT",
        "ready",
        {**schedule("0 */2 * * *"), "actions": [webhook("https://ops.example.com/sync", "PUT")]},
    ),
    Case(
        "주말 자정에 Asia/Tokyo 기준으로 디스코드",
        "ready",
        {**schedule("0 0 * * 0,6", "Asia/Tokyo"), "actions": [notify("Discord")]},
    ),
    # -- anomalies
    Case(
        "응답시간 이상치 탐지되면 Slack으로 알려줘",
        "ready",
        {**anomaly(LAT), "actions": [notify("Slack")]},
        note="z-score",
    ),
    Case(
        "응답시간 z-score가 3 넘으면 Slack으로",
        "ready",
        {**anomaly(LAT, threshold=3), "actions": [notify("Slack")]},
    ),
    Case(
        "메모리 이상치 탐지 (z-score 2.5 초과), 최근 200개 기준, 슬랙",
        "ready",
        {**anomaly(MEM, threshold=2.5, window=200), "actions": [notify("Slack")]},
    ),
    Case(
        "IQR로 CPU 이상치 감지하면 이메일",
        "ready",
        {**anomaly(CPU, "iqr"), "actions": [notify("Email")]},
    ),
    Case(
        "응답시간 IQR 기반 이상치 탐지 후 이메일",
        "ready",
        {**anomaly(LAT, "iqr"), "actions": [notify("Email")]},
    ),
    Case(
        "payment-service에서 타임아웃 발생 시 문자",
        "ready",
        {**event(event_type="timeout", source="payment-service"), "actions": [notify("SMS")]},
    ),
    Case(
        "서비스별 10분 동안 에러 20건 이상이면 슬랙",
        "ready",
        {
            **event(event_type="error"),
            **count_over("10m", ">=", 20),
            "group_by": ["service"],
            "actions": [notify("Slack")],
        },
    ),
    Case(
        "latency anomaly with IQR 2x, notify slack",
        "ready",
        {**anomaly(LAT, "iqr", multiplier=2), "actions": [notify("Slack")]},
    ),
    Case(
        "CPU anomaly using EMA alpha 0.5 over the last 50 samples, email me",
        "ready",
        {**anomaly(CPU, "ema", alpha=0.5, window=50), "actions": [notify("Email")]},
    ),
    Case(
        "응답시간이 3 시그마를 넘으면 Slack 알림",
        "ready",
        {**anomaly(LAT, threshold=3), "actions": [notify("Slack")]},
    ),
    # -- channels, fallback, several actions, names
    Case(
        "CPU 90% 넘으면 슬랙으로 보내고 https://api.internal.example.com/alerts/cpu 호출",
        "ready",
        {
            **metric(metric_name=CPU, operator=">", threshold=90),
            "actions": [notify("Slack"), webhook("https://api.internal.example.com/alerts/cpu")],
        },
    ),
    Case(
        "CPU가 90% 넘으면 Slack, 실패하면 이메일, 규칙 이름은 cpu_high",
        "ready",
        {
            "rule_name": "cpu_high",
            **metric(metric_name=CPU, operator=">", threshold=90),
            "actions": [notify("Slack", fallback="Email")],
        },
    ),
    Case(
        "memory over 85% send slack and discord, fallback to email, severity warning",
        "ready",
        {
            **metric(metric_name=MEM, operator=">", threshold=85),
            "severity": "warning",
            "actions": [notify("Slack", "Discord", fallback="Email")],
        },
    ),
    Case(
        "create a rule named disk_full: disk above 90% -> email",
        "ready",
        {
            "rule_name": "disk_full",
            **metric(metric_name=DISK, operator=">", threshold=90),
            "actions": [notify("Email")],
        },
    ),
    Case(
        "CPU usage > 90% AND memory usage > 80% → Slack",
        "ready",
        {
            **metric(metric_name=CPU),
            "composite_condition": all_(c(CPU, ">", 90), c(MEM, ">", 80)),
            "actions": [notify("Slack")],
        },
    ),
    Case(
        "cpu outliers using IQR with k=3, slack",
        "ready",
        {**anomaly(CPU, "iqr", multiplier=3), "actions": [notify("Slack")]},
    ),
    Case(
        "when there are more than 10 errors in 5 minutes on api-gateway, post to "
        "https://hooks.example.com/x",
        "ready",
        {
            **event(event_type="error", source="api-gateway"),
            **count_over("5m", ">", 10),
            "actions": [webhook("https://hooks.example.com/x")],
        },
    ),
    Case(
        "page oncall via sms when disk is over 95%",
        "needs_input",
        {**metric(metric_name=DISK, operator=">", threshold=95), "actions": [notify("SMS")]},
        unparsed=("oncall",),
    ),
    # -- what cannot be parsed: needs_input, never guessed
    Case("바나나가 노랗다", "needs_input", unparsed=("바나나가 노랗다",)),
    Case("CPU 높으면 알려줘", "needs_input", unparsed=("CPU 높으면",)),
    Case("status가 500이면 Slack", "needs_input", unparsed=("status가 500이면",)),
    Case(
        "CPU가 90% 넘으면 텔레그램으로 보내줘",
        "needs_input",
        {**metric(metric_name=CPU, operator=">", threshold=90)},
        unparsed=("텔레그램으로",),
    ),
    Case(
        "memory above 80% or maybe later, slack",
        "needs_input",
        {**metric(metric_name=MEM, operator=">", threshold=80), "actions": [notify("Slack")]},
        unparsed=("or maybe later",),
    ),
    Case(
        "every 30 seconds check cpu",
        "needs_input",
        unparsed=("every 30 seconds", "cpu"),
        note="minute resolution",
    ),
    Case("매일 리포트 보내줘", "needs_input", unparsed=("매일",), note="time of day"),
    Case(
        "응답시간 이상치",
        "needs_input",
        {**anomaly(LAT)},
        note="no action",
    ),
    Case("Slack으로 알려줘", "needs_input", note="no condition"),
    Case(
        "web-01에서 CPU 90% 넘으면 Slack",
        "needs_input",
        {**metric(metric_name=CPU, operator=">", threshold=90), "actions": [notify("Slack")]},
        unparsed=("web-01에서",),
        note="source",
    ),
    Case(
        "응답시간 1,000ms 초과하면 슬랙",
        "ready",
        {**metric(metric_name=LAT, operator=">", threshold=1000), "actions": [notify("Slack")]},
    ),
    Case(
        "api_gateway에서 응답시간 이상치 Slack",
        "needs_input",
        {**anomaly(LAT), "actions": [notify("Slack")]},
        unparsed=("api_gateway에서",),
        note="source",
    ),
    Case(
        "매 5분 CPU 90 넘으면 슬랙",
        "needs_input",
        {**schedule("*/5 * * * *"), "actions": [notify("Slack")]},
        note="no metric values",
    ),
    Case(
        "CPU가 90 넘으면 이메일 john@example.com 으로",
        "needs_input",
        {**metric(metric_name=CPU, operator=">", threshold=90), "actions": [notify("Email")]},
        unparsed=("john@example.com",),
    ),
    Case(
        "CPU가 90% 넘지 않으면 Slack",
        "needs_input",
        {**metric(metric_name=CPU, operator=">", threshold=90), "actions": [notify("Slack")]},
        unparsed=("않으면",),
    ),
    Case(
        "메모리 80% 넘으면 Slack 말고 이메일로",
        "needs_input",
        {
            **metric(metric_name=MEM, operator=">", threshold=80),
            "actions": [notify("Slack", "Email")],
        },
        unparsed=("말고",),
    ),
    Case("CPU 90% 넘으면 P1, P2로 슬랙", "needs_input", unparsed=("P1", "P2로")),
    Case(
        "CPU가 90% 넘으면 slack please and also make coffee",
        "needs_input",
        {**metric(metric_name=CPU, operator=">", threshold=90), "actions": [notify("Slack")]},
        unparsed=("coffee",),
    ),
)


def report(cases: tuple[Case, ...] = CASES) -> tuple[int, int, list[str]]:
    """(sentences drafted exactly, sentences, the texts of the misses)."""
    misses = [case.text for case in cases if not exact(case, draft(case.text))]
    return len(cases) - len(misses), len(cases), misses


if __name__ == "__main__":
    hits, total, missed = report()
    print(f"copilot phrasebook: {hits}/{total} drafted exactly ({100 * hits / total:.1f}%)")
    for text in missed:
        print(f"  miss: {text}")
