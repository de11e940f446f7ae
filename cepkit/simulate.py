"""Simulate: evaluate one rule on one payload, explain why, and never run an action.

What a payload is depends on the trigger type:

- **event**: the event. The trigger spec's ``event_type`` and ``source`` filter it first
  (against the payload's ``event_type`` or ``type``, and ``source``; a payload that does
  not carry the field is not filtered on it), then the inline conditions and
  ``composite_condition`` must hold.
- **metric**: one metric snapshot. With ``value_path``, a payload that contains that
  path (a raw endpoint response) is narrowed to it; otherwise the payload is the
  snapshot. The threshold applies to the snapshot's ``metric_name`` value.
- **windowed rules** (a window, or a metric ``duration``) run through the engine itself
  as one window holding the payload: the event filter, the window's aggregates
  (``window_values``) and the window check, exactly as live.
- **schedule**: nothing is needed; an empty payload matches.
- **anomaly**: the value at ``value_path`` judged by the rule's detector against the
  baseline given as ``history`` (earlier values, oldest first); without enough history
  the verdict is ``baseline_insufficient`` and the rule does not match.

``extracted_value`` is the metric value (metric), the value at ``value_path``
(anomaly) or the payload's value of the first condition field (event).

>>> from cepkit.rules import load_rule_files
>>> [(_, doc)] = load_rule_files("data/rules/guide/lab2_critical_error_event.json")
>>> result = simulate(doc, {"severity": "critical", "service": "api-gateway",
...                         "summary": "Connection pool exhausted"})
>>> result.matched, result.condition_evaluated, result.triggered_actions, result.extracted_value
(True, True, ['webhook', 'notify'], 'critical')
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cepkit.anomaly import Verdict, create_from_spec
from cepkit.conditions import (
    EvalProblem,
    ExplainGroup,
    ExplainLeaf,
    leaves,
)
from cepkit.engine import RuleRuntime, event_passes_trigger, metric_subject
from cepkit.operators import as_number
from cepkit.paths import MISSING, resolve
from cepkit.plan import RulePlan, compile_plan
from cepkit.rules import AnomalyTrigger, EventTrigger, MetricTrigger, Rule, parse_rule

__all__ = ["SimulationResult", "simulate"]


class SimulationResult(BaseModel):
    """What simulate answers; the first four keys are the guide's (Lab 2)."""

    model_config = ConfigDict(frozen=True)

    matched: bool
    condition_evaluated: bool
    triggered_actions: list[str]
    extracted_value: Any = None
    errors: list[EvalProblem] = Field(default_factory=list)
    explain: ExplainLeaf | ExplainGroup | None = None
    rule_name: str
    trigger_type: str
    filter_matched: bool = True
    anomaly: Verdict | None = None
    window_values: dict[str, Any] | None = None
    notes: list[str] = Field(default_factory=list)
    dry_run: bool = True


def simulate(
    rule: Rule | Mapping[str, Any],
    payload: Mapping[str, Any] | None = None,
    *,
    history: Iterable[float] | None = None,
) -> SimulationResult:
    """Evaluate ``rule`` on ``payload`` (dry run: no action runs, nothing is stored).

    ``rule`` may be a :class:`~cepkit.rules.Rule` or its JSON document (validated here,
    raising :class:`~cepkit.errors.RuleValidationError`); ``history`` is the anomaly
    baseline. A payload that is not a JSON object raises TypeError naming ``payload``.

    >>> simulate({"rule_name": "h", "trigger_type": "schedule",
    ...           "trigger_spec": {"scheduleExpression": "*/5 * * * *"}}, {}).matched
    True
    """
    model = parse_rule(rule)
    if payload is None:
        payload = {}
    if not isinstance(payload, Mapping):
        raise TypeError(f"payload must be a JSON object, got {type(payload).__name__}")
    plan = compile_plan(model)
    if plan.mode == "window":
        return _simulate_window(model, plan, payload)
    spec = model.trigger_spec
    notes: list[str] = []
    subject: Any = payload
    extracted: Any = None
    verdict: Verdict | None = None
    gate_ok = True
    filter_ok = True
    gate_errors: list[EvalProblem] = []

    if isinstance(spec, EventTrigger):
        reason = event_passes_trigger(spec, payload)
        if reason:
            gate_ok = filter_ok = False
            notes.append(f"filtered out by the trigger spec: {reason}")
    elif isinstance(spec, MetricTrigger):
        subject = metric_subject(spec, payload)
        if spec.threshold_field:
            value = resolve(subject, spec.threshold_field)
            extracted = None if value is MISSING else value
        elif subject is not payload:
            extracted = subject
    elif isinstance(spec, AnomalyTrigger):
        value = resolve(payload, spec.value_path)
        if value is MISSING:
            gate_ok = False
            gate_errors.append(
                EvalProblem(
                    path=spec.value_path,
                    message=f"field '{spec.value_path}' is missing from the payload",
                )
            )
        else:
            extracted = value
            detector = create_from_spec(spec.anomaly_method, spec.model_dump())
            for i, past in enumerate(history or ()):
                number = as_number(past) if not isinstance(past, float) else past
                if number is None or not math.isfinite(number):
                    raise TypeError(f"history[{i}] must be a finite number, got {past!r}")
                detector.learn_one(float(number))
            try:
                verdict = detector.check(float(value))
            except (TypeError, ValueError):
                gate_ok = False
                gate_errors.append(
                    EvalProblem(path=spec.value_path, message=f"not a number: {value!r}")
                )
            else:
                gate_ok = verdict.is_anomaly
                if verdict.status == "baseline_insufficient":
                    notes.append(
                        f"baseline_insufficient: {detector.n} of {detector.min_baseline} "
                        "values; an anomaly rule never fires before its baseline is ready"
                    )

    check = plan.event_filter  # the engine's compiled condition for this rule
    explain: ExplainLeaf | ExplainGroup | None = None
    errors = list(gate_errors)
    holds = True
    if check is not None:
        outcome = check.evaluate(subject, explain=True)
        explain = outcome.explain
        errors.extend(outcome.errors)
        holds = outcome.matched
        if isinstance(spec, EventTrigger):
            first = resolve(subject, leaves(check.node)[0].field)
            extracted = None if first is MISSING else first
    return _result(
        model,
        gate_ok and holds and not gate_errors,
        extracted_value=extracted,
        errors=errors,
        explain=explain,
        filter_matched=filter_ok,
        anomaly=verdict,
        notes=notes,
    )


def _result(model: Rule, matched: bool, **fields: Any) -> SimulationResult:
    """The result; what would run follows from ``matched``."""
    return SimulationResult(
        matched=matched,
        condition_evaluated=matched,
        triggered_actions=model.action_types if matched else [],
        rule_name=model.rule_name,
        trigger_type=model.trigger_type,
        **fields,
    )


def _simulate_window(model: Rule, plan: RulePlan, payload: Mapping[str, Any]) -> SimulationResult:
    """A windowed rule on one payload: the engine itself, with one window holding it."""
    spec = model.trigger_spec
    notes = ["windowed rule: evaluated by the engine as one window holding this payload"]
    reason = event_passes_trigger(spec, payload)
    subject = metric_subject(spec, payload)
    check = plan.event_filter
    screened = check.evaluate(subject, explain=True) if check is not None and not reason else None
    runtime = RuleRuntime(model)
    fired = [f for f in runtime.process(payload) + runtime.flush() if f.kind == "firing"]
    errors = list(screened.errors) if screened is not None else []
    if not errors:
        for sample in runtime.stats.error_samples:
            path, _, message = sample.partition(": ")
            errors.append(EvalProblem(path=path, message=message))
    if reason:
        notes.append(f"filtered out by the trigger spec: {reason}")
    if plan.anomaly is not None and not fired:
        notes.append("baseline_insufficient: a windowed anomaly rule needs earlier windows")
    explain = fired[0].explain if fired and fired[0].explain is not None else None
    if explain is None and screened is not None:
        explain = screened.explain
    values = fired[0].values if fired else None
    extracted: Any = None
    if isinstance(spec, MetricTrigger) and spec.threshold_field:
        raw = resolve(subject, spec.threshold_field)
        extracted = (
            values.get(spec.threshold_field) if values else (None if raw is MISSING else raw)
        )
    elif subject is not payload:
        extracted = subject
    return _result(
        model,
        bool(fired),
        extracted_value=extracted,
        errors=errors,
        explain=explain,
        filter_matched=not reason,
        window_values=values,
        notes=notes,
    )
