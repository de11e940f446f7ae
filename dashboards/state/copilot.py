"""The Copilot panel's state (guide Lab 8, step 9), without Panel.

The flow is Preview -> Test -> Apply -> Save:

- :meth:`CopilotState.preview` asks the server for a ``cep_draft`` of :attr:`text`;
- :meth:`~CopilotState.test` validates it (a ``ready`` draft whose rule the one rule
  model and the engine accept); only then are :attr:`can_apply` and :attr:`can_save` true;
- :meth:`~CopilotState.apply` hands the rule to the Form Builder (``on_apply``);
- :meth:`~CopilotState.save` stores it on the server (``POST /cep/rules``).

Editing the form after Apply marks the draft :attr:`stale` ("드래프트 오래됨"); editing
the text after Test asks for a new Preview (Apply and Save wait); a new Preview starts
over. The server is reached through any object with the
:class:`CopilotClient` methods, such as :class:`cepkit.client.Client`.

>>> from cepkit.copilot import draft
>>> class Local:  # what a client does, without a server
...     def draft(self, text): return draft(text)
...     def validate(self, document): return ()
...     def create_rule(self, document): raise NotImplementedError
>>> state = CopilotState(client=Local(), text="CPU가 90% 넘으면 Slack")
>>> state.preview(); state.status, state.can_apply
('Draft 준비됨', False)
>>> state.test(), state.can_apply, state.can_save
(True, True, True)
>>> state.apply(); state.form_edited(); state.status, state.stale
('드래프트 오래됨', True)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import param

from cepkit.copilot import Draft
from cepkit.errors import CepkitError, Problem

__all__ = ["STATUS", "CopilotClient", "CopilotState", "for_builder"]

#: the status line's wording, by state
STATUS = {
    "empty": "",
    "ready": "Draft 준비됨",
    "needs_input": "입력 필요",
    "tested": "테스트 통과",
    "failed": "테스트 실패",
    "applied": "폼에 적용됨",
    "stale": "드래프트 오래됨",
    "saved": "저장됨",
    "edited": "텍스트가 바뀌었습니다: Preview를 다시 실행하세요",
}


class SavedRule(Protocol):
    """What saving answers (``RulePublic``): at least the new rule's id and name."""

    @property
    def rule_id(self) -> str: ...

    @property
    def rule_name(self) -> str: ...


class CopilotClient(Protocol):
    """The server calls the Copilot panel needs (:class:`cepkit.client.Client` has them)."""

    def draft(self, text: str) -> Draft:
        """``POST /cep/copilot/draft``."""
        ...

    def validate(self, document: Mapping[str, Any]) -> Sequence[Problem]:
        """The problems of a rule document (empty when it is valid)."""
        ...

    def create_rule(self, document: Mapping[str, Any]) -> SavedRule:
        """``POST /cep/rules``."""
        ...


class CopilotState(param.Parameterized):
    """One session's Copilot: the text, the draft, and what may be done with it."""

    client = param.Parameter(default=None, doc="a CopilotClient")
    text = param.String(default="", doc="the sentence to draft")
    draft = param.ClassSelector(class_=Draft, default=None, allow_None=True)
    draft_json = param.String(default="", doc="the draft as indented JSON (Preview)")
    problems = param.List(default=[], item_type=str, doc="why the last Test failed")
    tested = param.Boolean(default=False, doc="the current draft passed Test")
    applied = param.Dict(default=None, allow_None=True, doc="the rule handed to the form")
    stale = param.Boolean(default=False, doc="the form was edited after Apply")
    saved = param.Dict(default=None, allow_None=True, doc="rule_id and rule_name once saved")
    status = param.String(default="", doc="the status line (Draft 준비됨, 드래프트 오래됨...)")
    error = param.String(default="", doc="the last error (server unreachable, refused...)")
    can_apply = param.Boolean(default=False, constant=True)
    can_save = param.Boolean(default=False, constant=True)
    on_apply = param.Callable(default=None, allow_None=True, doc="fills the form with a rule")
    on_save = param.Callable(default=None, allow_None=True, doc="called with the saved rule")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)  # type: ignore[no-untyped-call]
        self._applying = False
        self._drafted_text: str | None = None
        self.param.watch(self._text_edited, ["text"])

    def _text_edited(self, *_events: Any) -> None:
        """A draft describes the text it was made from: editing the text asks for a new
        Preview (Test, Apply and Save wait for it)."""
        if self.draft is not None and self.text != self._drafted_text and self.tested:
            self._set(tested=False, status=STATUS["edited"])

    def _client(self) -> CopilotClient:
        if self.client is None:
            raise CepkitError("the Copilot has no server client")
        client: CopilotClient = self.client
        return client

    def _set(self, **values: Any) -> None:
        values.setdefault("error", "")
        self.param.update(**values)
        with param.edit_constant(self):
            self.can_apply = self.can_save = bool(self.tested and self.draft is not None)

    @property
    def notes(self) -> list[str]:
        """The draft's notes (decisions and what is missing)."""
        return list(self.draft.notes) if self.draft is not None else []

    @property
    def unparsed(self) -> list[str]:
        """The fragments of the text the drafter did not understand."""
        return list(self.draft.unparsed) if self.draft is not None else []

    def preview(self) -> None:
        """Draft :attr:`text` on the server; a new draft must be tested again."""
        try:
            result = self._client().draft(self.text)
        except (CepkitError, ValueError) as exc:
            self._set(error=str(exc))
            return
        self._drafted_text = self.text
        self._set(
            draft=result,
            draft_json=json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False),
            problems=[],
            tested=False,
            applied=None,
            stale=False,
            saved=None,
            status=STATUS[result.status],
        )

    def test(self) -> bool:
        """Validate the draft: it must be ``ready`` and its rule valid. Answers whether it
        passed (Apply and Save are enabled only then)."""
        draft = self.draft
        if draft is None:
            self._set(error="Preview를 먼저 실행하세요 (no draft yet)")
            return False
        problems = [f"{p.path}: {p.message}" if p.path else p.message for p in self._validate()]
        if not draft.ready:
            problems += [f"이해하지 못한 부분: {fragment}" for fragment in draft.unparsed]
            problems += list(draft.notes)
        passed = not problems
        self._set(problems=problems, tested=passed, status=STATUS["tested" if passed else "failed"])
        return passed

    def _validate(self) -> Sequence[Problem]:
        assert self.draft is not None
        try:
            return self._client().validate(self.draft.rule)
        except CepkitError as exc:
            return [Problem(path="", message=str(exc))]

    def apply(self) -> None:
        """Hand the tested draft's rule to the form (``on_apply``)."""
        if not self.can_apply or self.draft is None:
            self._set(error="Test를 통과한 드래프트만 적용할 수 있습니다 (test the draft first)")
            return
        rule = dict(self.draft.rule)
        self._applying = True
        try:
            if self.on_apply is not None:
                self.on_apply(rule)
        except CepkitError as exc:
            self._set(error=str(exc))
            return
        finally:
            self._applying = False
        self._set(applied=rule, stale=False, status=STATUS["applied"])

    def form_edited(self, *_events: Any) -> None:
        """The form changed: after Apply, the draft no longer describes it (stale)."""
        if self.applied is not None and not self._applying and not self.stale:
            self._set(stale=True, status=STATUS["stale"])

    def save(self) -> None:
        """Store the tested draft's rule on the server (``POST /cep/rules``)."""
        if not self.can_save or self.draft is None:
            self._set(error="Test를 통과한 드래프트만 저장할 수 있습니다 (test the draft first)")
            return
        try:
            stored = self._client().create_rule(self.draft.rule)
        except CepkitError as exc:
            self._set(error=str(exc))
            return
        saved = {"rule_id": stored.rule_id, "rule_name": stored.rule_name}
        self._set(saved=saved, status=f"{STATUS['saved']}: {stored.rule_name}")
        if self.on_save is not None:
            self.on_save(stored)


def for_builder(builder: Any) -> CopilotState:
    """The Copilot wired to the rule builder's state: Apply loads the Form Builder and the
    JSON Editor, an edit of the form afterwards marks the draft stale, Save refreshes the
    rule list. ``builder`` is a ``dashboards.state.builder.BuilderState``."""
    form = builder.form

    def fill(rule: dict[str, Any]) -> None:
        form.load(rule)
        builder.editor.load(rule)

    state = CopilotState(
        client=builder.client, on_apply=fill, on_save=lambda _stored: builder.refresh()
    )
    form.param.watch(state.form_edited, ["revision"])
    return state
