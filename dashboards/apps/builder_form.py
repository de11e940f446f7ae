"""The Form Builder tab: a thin Panel view over :class:`dashboards.state.builder_form.FormState`.

Every widget is bound to a parameter of the state; the sections follow guide Lab 8
(BasicInfo, Trigger, Conditions, Windowing, Aggregation, Enrichment, Actions, JSON
preview). What the form means (errors, the sentence under the window, whether the rule
can be created) comes from the state, which asks the rule model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn

from dashboards.state.builder_form import (
    ActionRow,
    AggregationRow,
    ConditionRow,
    EnrichmentRow,
    FormState,
)

__all__ = ["form_builder"]

TRIGGER_LABELS = {"메트릭": "metric", "이벤트": "event", "스케줄": "schedule", "이상치": "anomaly"}
WINDOW_LABELS = {
    "없음": "",
    "Tumbling Window": "tumbling",
    "Sliding Window": "sliding",
    "Session Window": "session",
}
WINDOW_HELP = {
    "": "",
    "tumbling": "고정 크기의 겹치지 않는 시간 윈도우",
    "sliding": "고정 크기, 일정 간격으로 이동하며 겹치는 윈도우",
    "session": "활동 기반, 비활동 timeout 시 종료되는 윈도우",
}
ACTION_LABELS = {
    "Webhook 호출": "webhook",
    "알림 전송": "notify",
    "규칙 연쇄 실행": "trigger",
    "이벤트 저장": "store",
}
ENRICHMENT_LABELS = {"데이터 조회": "lookup", "과거 집계": "aggregate", "ML 모델": "ml_model"}
_INPUT: dict[str, Any] = {"margin": (2, 5)}


def follow(render: Callable[..., Any], *deps: Any) -> Any:
    """``pn.bind`` of a render function to the parameters it follows."""
    return pn.bind(render, *deps)


def adder(add: Callable[[], object]) -> Callable[[Any], None]:
    """A click handler for a ``+ ... 추가`` button."""

    def click(_event: Any) -> None:
        add()

    return click


def _text(parameter: Any, name: str, **kw: Any) -> pn.widgets.TextInput:
    return pn.widgets.TextInput.from_param(parameter, label=name, **_INPUT, **kw)


def _select(parameter: Any, name: str, **kw: Any) -> pn.widgets.Select:
    return pn.widgets.Select.from_param(parameter, label=name, **_INPUT, **kw)


def _error(text: str) -> pn.pane.Markdown:
    return pn.pane.Markdown(
        text, styles={"color": "#c62828"}, visible=bool(text), css_classes=["form-error"]
    )


def _section(title: str, *items: Any) -> pn.Card:
    return pn.Card(*items, title=title, collapsible=False, sizing_mode="stretch_width")


def _delete(form: FormState, row: Any) -> pn.widgets.Toggle:
    """The row's delete button. A toggle, not a Button: a click on a Button made after the
    page loaded reaches Bokeh as a model it already knows (a BokehUserWarning that can
    drop the click); a toggle's click is a plain value change."""
    button = pn.widgets.Toggle(label="삭제", color="danger", variant="outline")
    button.param.watch(lambda _e: form.remove(row), "value")
    return button


def _rows(form: FormState, name: str, make: Callable[[Any, int], Any]) -> pn.Column:
    """The views of a repeated section, kept per row: adding or removing one row leaves
    the others' widgets (and what the browser holds of them) as they are."""
    column = pn.Column(sizing_mode="stretch_width")
    views: dict[tuple[int, int], Any] = {}

    def update(*_events: Any) -> None:
        rows = getattr(form, name)
        fresh = {
            (id(row), i): views.get((id(row), i)) or make(row, i) for i, row in enumerate(rows)
        }
        views.clear()
        views.update(fresh)
        column.objects = list(fresh.values())

    form.param.watch(update, [name])
    update()
    return column


def _basic(form: FormState) -> pn.Card:
    active_label = follow(lambda on: "활성" if on else "비활성", form.param.is_active)
    return _section(
        "기본 정보 (BasicInfo)",
        _text(form.param.rule_name, "규칙명 (필수)", placeholder="production_server_monitor"),
        follow(lambda _r: _error(form.name_error), form.param.revision),
        _text(form.param.description, "설명"),
        pn.Row(
            pn.widgets.Checkbox.from_param(form.param.is_active, label="규칙 활성화"),
            pn.pane.Str(active_label, css_classes=["active-state"]),
        ),
        _select(form.param.severity, "Severity"),
    )


def _trigger_fields(form: FormState, kind: str) -> pn.Column:
    p = form.param
    fields: dict[str, list[Any]] = {
        "metric": [
            _text(p.metric_name, "메트릭명 (필수)"),
            _select(p.operator, "연산자 (필수)"),
            _text(p.threshold, "임계값 (필수)"),
            _select(p.metric_aggregation, "집계 방식 (필수)"),
            _select(p.duration, "시간 윈도우 (필수)"),
        ],
        "event": [
            _text(p.event_type, "이벤트 타입 (필수)", placeholder="error, warning, alert"),
            _text(p.source, "Source"),
        ],
        "schedule": [
            _text(p.schedule_expression, "Cron 표현식 (필수)", placeholder="*/5 * * * *"),
            pn.pane.Markdown(form.CRON_HELP, css_classes=["cron-help"]),
            _text(p.timezone, "Timezone"),
        ],
        "anomaly": [
            _text(p.value_path, "값 경로 (value_path)"),
            _select(p.anomaly_method, "탐지 방식"),
            _text(p.anomaly_threshold, "임계값"),
        ],
    }
    return pn.Column(*fields[kind])


def _trigger(form: FormState) -> pn.Card:
    buttons = pn.widgets.RadioButtonGroup.from_param(
        form.param.trigger_type,
        label="트리거 타입",
        options=TRIGGER_LABELS,
        color="primary",
        variant="outline",
    )
    return _section(
        "트리거 설정 (Trigger)",
        buttons,
        follow(lambda kind: _trigger_fields(form, kind), form.param.trigger_type),
        follow(lambda _r: _error(form.error_at("trigger_spec")), form.param.revision),
    )


def _condition_row(form: FormState, row: ConditionRow) -> pn.Row:
    return pn.Row(
        _text(row.param.field, "필드", width=180),
        _select(row.param.op, "연산자", width=90),
        _text(row.param.value, "값", width=180),
        _delete(form, row),
        css_classes=["condition-row"],
    )


def _conditions(form: FormState) -> pn.Card:
    add = pn.widgets.Button(label="+ 조건 추가", color="primary", variant="outline")
    add.on_click(adder(form.add_condition))
    rows = _rows(form, "conditions", lambda row, _i: _condition_row(form, row))
    return _section(
        "조건 설정 (Conditions, 선택)",
        add,
        rows,
        _select(form.param.logic, "논리 연산"),
        follow(lambda _r: _error(form.error_at("composite_condition")), form.param.revision),
    )


def _window_fields(form: FormState, kind: str) -> pn.Column:
    p = form.param
    items: list[Any] = [pn.pane.Markdown(WINDOW_HELP[kind])] if kind else []
    if kind in ("tumbling", "sliding"):
        items.append(_select(p.window_size, "윈도우 크기"))
    if kind == "sliding":
        items.append(_select(p.window_slide, "Slide 간격"))
    if kind == "session":
        items.append(_select(p.session_timeout, "Session Timeout"))
    return pn.Column(*items)


def _windowing(form: FormState) -> pn.Card:
    kinds = pn.widgets.RadioBoxGroup.from_param(
        form.param.window_type, label="윈도우 타입", options=WINDOW_LABELS, inline=True
    )
    sentence = follow(
        lambda _r: pn.pane.Markdown(form.window_sentence, css_classes=["window-sentence"]),
        form.param.revision,
    )
    return _section(
        "윈도우 설정 (Windowing, 선택)",
        kinds,
        follow(lambda kind: _window_fields(form, kind), form.param.window_type),
        sentence,
    )


def _aggregation_row(form: FormState, row: AggregationRow) -> pn.Row:
    field = follow(
        lambda _t: _text(row.param.field, "필드명", width=160, visible=row.needs_field),
        row.param.type,
    )
    return pn.Row(
        _select(row.param.type, "집계 타입", width=110),
        field,
        _text(row.param.output_alias, "출력명", width=130),
        _text(row.param.group_by, "그룹화 필드 (쉼표 구분)", width=200),
        _delete(form, row),
        css_classes=["aggregation-row"],
    )


def _aggregation(form: FormState) -> pn.Card:
    add = pn.widgets.Button(label="+ 집계 추가", color="primary", variant="outline")
    add.on_click(adder(form.add_aggregation))
    rows = _rows(form, "aggregations", lambda row, _i: _aggregation_row(form, row))
    errors = follow(lambda _r: _error(form.error_at("aggregation")), form.param.revision)
    return _section("집계 설정 (Aggregation)", add, rows, errors)


def _enrichment_fields(row: EnrichmentRow, kind: str) -> pn.Row:
    names = {
        "source": "데이터 소스",
        "key": "조회 키",
        "field": "필드",
        "aggregation": "집계",
        "window": "기간",
        "model": "모델",
        "output_field": "출력 필드명",
    }
    widgets: list[Any] = []
    for name in EnrichmentRow.FIELDS[kind]:
        parameter = row.param[name]
        if name == "aggregation":
            widgets.append(_select(parameter, names[name], width=110))
        else:
            widgets.append(_text(parameter, names[name], width=170))
    return pn.Row(*widgets)


def _enrichment_row(form: FormState, row: EnrichmentRow) -> pn.Row:
    kind = pn.widgets.Select.from_param(
        row.param.type, label="타입", options=ENRICHMENT_LABELS, width=130, **_INPUT
    )
    fields = follow(lambda k: _enrichment_fields(row, k), row.param.type)
    return pn.Row(kind, fields, _delete(form, row), css_classes=["enrichment-row"])


def _enrichment(form: FormState) -> pn.Card:
    add = pn.widgets.Button(label="+ 보강 추가", color="primary", variant="outline")
    add.on_click(adder(form.add_enrichment))
    rows = _rows(form, "enrichments", lambda row, _i: _enrichment_row(form, row))
    errors = follow(lambda _r: _error(form.error_at("enrichment")), form.param.revision)
    return _section("데이터 보강 (Enrichment, 선택)", add, rows, errors)


#: the widget of each action input (which inputs a type shows: ``ActionRow.FIELDS``)
_ACTION_INPUTS: dict[str, Callable[[Any], Any]] = {
    "endpoint": lambda p: _text(p, "엔드포인트 URL", width=380),
    "method": lambda p: _select(p, "Method", width=110),
    "message": lambda p: pn.widgets.TextAreaInput.from_param(p, label="알림 메시지", width=380),
    "channels": lambda p: pn.widgets.CheckBoxGroup.from_param(p, label="채널", inline=True),
    "fallback_channel": lambda p: _select(p, "Fallback 채널", width=150),
    "rule_id": lambda p: _text(p, "대상 규칙 ID", width=260),
    "target": lambda p: _text(p, "저장 대상", width=260),
}


def _action_fields(row: ActionRow, kind: str) -> pn.Column:
    return pn.Column(*(_ACTION_INPUTS[name](row.param[name]) for name in ActionRow.FIELDS[kind]))


def _action_row(form: FormState, row: ActionRow, index: int) -> pn.Column:
    kind = pn.widgets.Select.from_param(
        row.param.type, label=f"액션 {index + 1} 타입", options=ACTION_LABELS, width=180, **_INPUT
    )
    fields = follow(lambda k: _action_fields(row, k), row.param.type)
    errors = follow(lambda _r: _error(form.error_at(f"actions[{index}]")), form.param.revision)
    return pn.Column(pn.Row(kind, _delete(form, row)), fields, errors, css_classes=["action-row"])


def _actions(form: FormState) -> pn.Card:
    add = pn.widgets.Button(label="+ 액션 추가", color="primary", variant="outline")
    add.on_click(adder(form.add_action))
    rows = _rows(form, "actions", lambda row, i: _action_row(form, row, i))
    return _section("액션 설정 (Actions, 필수)", add, rows)


def _preview(form: FormState) -> pn.Card:
    text = pn.widgets.TextAreaInput(
        value=form.preview,
        disabled=True,
        rows=24,
        css_classes=["json-preview"],
        sizing_mode="stretch_width",
    )
    copy = pn.widgets.Button(label="Copy", color="light")
    copy.js_on_click(
        args={"source": text},
        code="navigator.clipboard.writeText(source.value); cb_obj.label = 'Copied';",
    )
    problems = pn.pane.Markdown("", css_classes=["form-problems"], styles={"color": "#c62828"})

    def refresh(*_events: Any) -> None:
        text.value = form.preview
        found = form.problems
        problems.object = "\n".join(f"- `{p.path}`: {p.message}" for p in found)
        problems.visible = bool(found)

    form.param.watch(refresh, ["revision"])
    refresh()
    return _section("JSON 미리보기", copy, text, problems)


def form_builder(form: FormState, create: pn.widgets.Button) -> pn.Column:
    """The Form Builder tab; ``create`` is the ``규칙 생성`` button (the caller handles it)."""

    def gate(*_events: Any) -> None:
        create.disabled = not form.can_create

    form.param.watch(gate, ["revision"])
    gate()
    notes = follow(
        lambda items: pn.pane.Alert("\n".join(items), alert_type="warning", visible=bool(items)),
        form.param.notes,
    )
    return pn.Column(
        notes,
        _basic(form),
        _trigger(form),
        _conditions(form),
        _windowing(form),
        _aggregation(form),
        _enrichment(form),
        _actions(form),
        _preview(form),
        create,
        sizing_mode="stretch_width",
    )
