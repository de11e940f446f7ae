"""The rule builder's state (``/cep-builder``): rule list, JSON Editor, Form Builder, Test, Logs.

:class:`BuilderState` talks to the server only through :class:`cepkit.client.Client`, so
the builder works against a remote server too. Rules are judged by the one rule model
(:func:`cepkit.plan.check_rule`, what the server runs on every save): the JSON Editor's
errors and the Form Builder's carry the JSON path of each defect. Nothing here imports
Panel; ``dashboards.apps.builder`` is a thin view over it.

>>> editor = JsonEditorState()
>>> editor.rule_name, editor.trigger_type = "critical_error_event", "event"
>>> editor.trigger_spec_text = '{"event_type": "error", "source": "api-gateway"}'
>>> editor.action_spec_text = '[{"type": "webhook", "endpoint": "ftp://x"}]'
>>> [(p.path, p.message) for p in editor.problems]
[('actions[0].endpoint', "endpoint must be an http(s) URL, got 'ftp://x'")]
>>> editor.trigger_spec_text = '{"event_type": '
>>> editor.errors_for("trigger")
'trigger_spec: invalid JSON at line 1, column 16: Expecting value'
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import param

from cepkit.client import Client
from cepkit.errors import CepkitError, ClientError, Problem, RuleValidationError
from cepkit.plan import check_rule
from cepkit.rules import SEVERITIES, TRIGGERS
from cepkit.store import METADATA_KEYS, ExecutionLog
from dashboards.state.builder_form import FormState
from server.schemas import RulePublic

__all__ = ["LAB2_PAYLOAD", "BuilderState", "JsonEditorState"]

#: the matching payload of guide Lab 2 (the Test tab's starting point)
LAB2_PAYLOAD = {
    "severity": "critical",
    "service": "api-gateway",
    "summary": "Connection pool exhausted",
    "timestamp": "2026-02-08T10:30:00Z",
}
_BASIC = ("rule_name", "description", "trigger_type", "is_active", "severity")


def _json_problem(path: str, text: str) -> tuple[Any, Problem | None]:
    """The JSON value of ``text`` (None when blank), or a problem naming ``path``."""
    if not text.strip():
        return None, None
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        return None, Problem(path=path, message=f"invalid JSON at {where}: {exc.msg}")


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


class JsonEditorState(param.Parameterized):
    """The JSON Editor tab: basic fields, Trigger Spec and Action Spec as JSON text, and
    the rest of the rule (conditions, window, aggregation...) as one more JSON object."""

    rule_name = param.String(default="")
    description = param.String(default="")
    trigger_type: param.Selector[str] = param.Selector(default="event", objects=list(TRIGGERS))
    is_active = param.Boolean(default=False)
    severity: param.Selector[str] = param.Selector(default="medium", objects=list(SEVERITIES))
    trigger_spec_text = param.String(default="{}")
    action_spec_text = param.String(default="[]")
    other_text = param.String(default="{}", doc="every other key of the rule, as JSON")
    action_key: param.Selector[str] = param.Selector(
        default="actions", objects=["actions", "action_spec"], doc="the key the rule used"
    )

    def reset(self) -> None:
        """An empty rule (``New Rule``)."""
        self.param.update({n: p.default for n, p in self.param.objects().items() if n != "name"})

    def load(self, document: dict[str, Any]) -> None:
        """Show a stored rule's document (metadata keys left out)."""
        doc = {k: v for k, v in document.items() if k not in METADATA_KEYS}
        key = "action_spec" if "action_spec" in doc and "actions" not in doc else "actions"
        basic = {name: doc.pop(name) for name in _BASIC if name in doc}
        values: dict[str, Any] = {n: self.param[n].default for n in _BASIC}
        values.update(basic)
        if values["trigger_type"] not in TRIGGERS:
            values["trigger_type"] = self.param["trigger_type"].default
        if values["severity"] not in SEVERITIES:
            values["severity"] = self.param["severity"].default
        self.param.update(
            **values,
            trigger_spec_text=_dumps(doc.pop("trigger_spec", {})),
            action_spec_text=_dumps(doc.pop(key, [])),
            other_text=_dumps(doc),
            action_key=key,
        )

    def parsed(self) -> tuple[dict[str, Any], list[Problem]]:
        """The rule document the editor holds, and the JSON syntax errors of its texts."""
        problems: list[Problem] = []
        doc: dict[str, Any] = {}
        other, problem = _json_problem("other", self.other_text)
        if problem:
            problems.append(problem)
        elif other is not None and not isinstance(other, dict):
            problems.append(Problem(path="other", message="expected a JSON object"))
        elif other:
            doc.update({k: v for k, v in other.items() if k not in METADATA_KEYS})
        doc.update({name: getattr(self, name) for name in _BASIC})
        spec, problem = _json_problem("trigger_spec", self.trigger_spec_text)
        if problem:
            problems.append(problem)
        doc["trigger_spec"] = spec if spec is not None else {}
        actions, problem = _json_problem(str(self.action_key), self.action_spec_text)
        if problem:
            problems.append(problem)
        doc[str(self.action_key)] = actions if actions is not None else []
        return doc, problems

    def document(self) -> dict[str, Any]:
        """The rule document (RuleValidationError when a JSON text does not parse)."""
        doc, problems = self.parsed()
        if problems:
            raise RuleValidationError(problems, rule_name=self.rule_name or None)
        return doc

    @property
    def problems(self) -> list[Problem]:
        """JSON syntax errors, else the rule model's problems, each with its JSON path."""
        doc, problems = self.parsed()
        if problems:
            return problems
        try:
            check_rule(doc)
        except RuleValidationError as exc:
            return list(exc.problems)
        except CepkitError as exc:
            return [Problem(path="", message=str(exc))]
        return []

    def errors_for(self, part: str) -> str:
        """The problems shown under one part: ``basic`` (name, type...), ``trigger``,
        ``actions`` or ``other``."""
        heads = {
            "basic": ("rule_name", "description", "is_active", "severity", ""),
            "trigger": ("trigger_spec", "trigger_type"),
            "actions": ("actions", "action_spec"),
        }
        out = []
        for problem in self.problems:
            head = problem.path.split(".", 1)[0].split("[", 1)[0]
            owner = next((k for k, v in heads.items() if head in v), "other")
            if owner == part:
                out.append(
                    f"{problem.path}: {problem.message}" if problem.path else problem.message
                )
        return "\n".join(out)


class BuilderState(param.Parameterized):
    """Everything ``/cep-builder`` shows, driven through a :class:`~cepkit.client.Client`."""

    client = param.ClassSelector(class_=Client, allow_None=True, default=None)
    on_loop = param.Callable(
        default=None,
        allow_None=True,
        doc="how a chosen or saved rule's page changes are made after the server calls "
        "(which may run in a worker thread): the view makes them on the session's event "
        "loop, all in one go; None: at once. Made from a worker thread, each change would "
        "reach the browser from its own tick, and a model taken out of the page and put "
        "back in between could arrive as a reference the page no longer has (Bokeh's "
        "'reference ... isn't known').",
    )
    rules = param.List(default=[], doc="RulePublic of every rule, in creation order")
    selected = param.String(default=None, allow_None=True, doc="the chosen rule's id")
    payload_text = param.String(default=_dumps(LAB2_PAYLOAD))
    simulation = param.Dict(default=None, allow_None=True, doc="the Simulate answer")
    trigger_result = param.Dict(default=None, allow_None=True, doc="the Manual trigger answer")
    logs = param.List(default=[], doc="exec_id, status, duration_ms, error per execution")
    message = param.String(default="", doc="the last status message")
    error = param.String(default="", doc="the last error, with JSON paths")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)  # type: ignore[no-untyped-call]
        self.editor = JsonEditorState()  # type: ignore[no-untyped-call]
        self.form = FormState()
        self._loading = False
        self.form.param.watch(self._form_edited, ["revision"])

    def _form_edited(self, *_events: Any) -> None:
        """The JSON Editor follows the Form Builder (guide Lab 8 step 8): an edit of the
        form shows the rule it makes in the JSON Editor too."""
        if not self._loading:
            self.editor.load(self.form.document())

    def _api(self) -> Client:
        if self.client is None:
            raise CepkitError("the builder has no server client")
        client: Client = self.client
        return client

    def _fail(self, exc: CepkitError) -> None:
        self.message = ""
        self.error = str(exc)

    # -- the rule list ---------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the rule list again."""
        try:
            self.rules = list(self._api().rules())
        except CepkitError as exc:
            self._fail(exc)

    @property
    def rule_names(self) -> dict[str, str]:
        """``"name (trigger_type)"`` -> rule_id."""
        return {
            f"{r.rule_name} ({r.model_dump().get('trigger_type', '?')})": r.rule_id
            for r in self.rules
        }

    @property
    def rule_list(self) -> dict[str, str]:
        """The list on the left: :attr:`rule_names`, an inactive rule marked ``· draft``
        (guide Lab 1)."""
        active = {r.rule_id: bool(r.model_dump().get("is_active")) for r in self.rules}
        return {
            label if active[rule_id] else f"{label} · draft": rule_id
            for label, rule_id in self.rule_names.items()
        }

    def new_rule(self) -> None:
        """``New Rule``: empty editors, nothing selected."""
        self.selected = None
        self._loading = True
        try:
            self.form.reset()
        finally:
            self._loading = False
        self.editor.reset()
        self.param.update(simulation=None, trigger_result=None, logs=[], message="", error="")

    def select(self, rule_id: str) -> None:
        """Show a stored rule in the JSON Editor and the Form Builder; read its logs."""
        fetched = self.fetch(rule_id)
        self.apply_change(lambda: self.show(rule_id, fetched))

    def apply_change(self, change: Callable[[], None]) -> None:
        """Make ``change`` to the state through :attr:`on_loop` (at once without one)."""
        if self.on_loop is None:
            change()
        else:
            self.on_loop(change)

    def fetch(self, rule_id: str) -> tuple[RulePublic, list[ExecutionLog]] | CepkitError:
        """:meth:`select`'s server calls (any thread; the state is not touched): the rule
        and its execution logs, or the error that reading them gave."""
        try:
            api = self._api()
            return api.rule(rule_id), api.logs(rule_id).logs
        except CepkitError as exc:
            return exc

    def show(
        self, rule_id: str, fetched: tuple[RulePublic, list[ExecutionLog]] | CepkitError
    ) -> None:
        """:meth:`select`'s state changes, from what :meth:`fetch` gave (through
        :attr:`on_loop`)."""
        if isinstance(fetched, CepkitError):
            self._fail(fetched)
            return
        stored, entries = fetched
        document = stored.model_dump(mode="json")
        self._loading = True
        try:
            self.form.load({k: v for k, v in document.items() if k not in METADATA_KEYS})
        except RuleValidationError as exc:
            self.form.reset()
            self.form.notes = [f"the form cannot show this rule: {exc}"]
        finally:
            self._loading = False
        self.editor.load(document)
        self.param.update(
            selected=rule_id,
            simulation=None,
            trigger_result=None,
            message="",
            error="",
            logs=_log_rows(entries),
        )

    # -- saving ----------------------------------------------------------------------------

    def _saved(self, rule_id: str, message: str) -> None:
        self.refresh()
        fetched = self.fetch(rule_id)

        def show() -> None:
            self.show(rule_id, fetched)
            self.message = message

        self.apply_change(show)

    def save_json(self) -> bool:
        """``Create rule`` / ``Update rule`` from the JSON Editor (invalid: nothing sent)."""
        problems = self.editor.problems
        if problems:
            self._fail(RuleValidationError(problems, rule_name=self.editor.rule_name or None))
            return False
        document = self.editor.document()
        try:
            if self.selected is None:
                stored = self._api().create_rule(document)
                message = "Rule created."
            else:
                stored = self._api().update_rule(self.selected, document)
                message = f"Rule updated (version {stored.version})."
        except CepkitError as exc:
            self._fail(exc)
            return False
        self._saved(stored.rule_id, message)
        return True

    def save_form(self) -> bool:
        """``규칙 생성`` (``POST /cep/rules/form``), or an update of the selected rule."""
        if not self.form.actions:
            self._fail(CepkitError("add at least one action (액션 추가) before saving"))
            return False
        problems = self.form.problems
        if problems:
            self._fail(RuleValidationError(problems, rule_name=self.form.rule_name or None))
            return False
        document = self.form.document()
        try:
            if self.selected is None:
                created = self._api().create_rule_from_form(document)
                rule_id, message = created.rule.rule_id, created.message
            else:
                stored = self._api().update_rule(self.selected, document)
                rule_id, message = stored.rule_id, f"Rule updated (version {stored.version})."
        except CepkitError as exc:
            self._fail(exc)
            return False
        self._saved(rule_id, message)
        return True

    # -- Test and Logs ---------------------------------------------------------------------

    def _payload(self) -> dict[str, Any] | None:
        payload, problem = _json_problem("payload", self.payload_text)
        if problem is not None:
            self._fail(CepkitError(f"{problem.path}: {problem.message}"))
            return None
        if payload is None:
            return {}
        if not isinstance(payload, dict):
            self._fail(CepkitError("payload: expected a JSON object"))
            return None
        return payload

    def _chosen(self) -> str | None:
        if self.selected is None:
            self._fail(CepkitError("save the rule first (Create rule), then test it"))
        return self.selected

    def simulate(self) -> None:
        """``Simulate``: the saved rule evaluated on the payload (no action runs)."""
        rule_id, payload = self._chosen(), self._payload()
        if rule_id is None or payload is None:
            return
        try:
            result = self._api().simulate(rule_id, payload)
        except CepkitError as exc:
            self._fail(exc)
            return
        self.simulation = result.model_dump(mode="json", exclude_none=True)
        self.param.update(error="", message="Simulated (no action ran).")

    def trigger(self) -> None:
        """``Manual trigger``: the actions run for real; an event and a log are written."""
        rule_id, payload = self._chosen(), self._payload()
        if rule_id is None or payload is None:
            return
        try:
            result = self._api().trigger(rule_id, payload)
        except ClientError as exc:
            self._fail(exc)
            return
        self.trigger_result = result.model_dump(mode="json")
        self.param.update(error="", message=f"Manual trigger: {result.status}.")
        self.load_logs()

    def load_logs(self) -> None:
        """The selected rule's execution logs, newest first."""
        if self.selected is None:
            self.logs = []
            return
        try:
            entries = self._api().logs(self.selected).logs
        except CepkitError as exc:
            self._fail(exc)
            return
        self.logs = _log_rows(entries)

    @property
    def simulation_text(self) -> str:
        """The Simulation result panel."""
        return _dumps(self.simulation) if self.simulation is not None else ""

    @property
    def trigger_text(self) -> str:
        """The Manual trigger result panel."""
        return _dumps(self.trigger_result) if self.trigger_result is not None else ""


def _log_rows(entries: list[ExecutionLog]) -> list[dict[str, Any]]:
    """The Logs tab's rows of execution log entries."""
    return [
        {
            "exec_id": entry.exec_id,
            "status": entry.status,
            "duration_ms": entry.duration_ms,
            "error": entry.error_message or "",
        }
        for entry in entries
    ]
