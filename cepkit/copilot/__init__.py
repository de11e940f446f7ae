"""Copilot: a sentence in Korean or English -> a ``cep_draft`` rule draft, offline.

Contract: :func:`draft` returns a :class:`Draft` ``{"type": "cep_draft", "status",
"rule", "notes", "unparsed"}``. When ``status`` is ``ready``, ``rule`` is a rule document
that :func:`cepkit.plan.check_rule` accepts (the rule model and the engine's checks), and
every part of the text was understood. Anything not understood is listed in
``unparsed`` exactly as written and never guessed; the draft is then ``needs_input``,
and ``notes`` say what is missing. Defaults the text did not state (a time zone, an
aggregation, an anomaly method) are named in ``notes``.

Drafters are found through :data:`DRAFTERS` (name -> factory): a model-backed drafter
implementing :class:`Drafter` is one new module plus one line there, or can be passed
to :func:`draft` directly.

>>> result = draft("CPU가 90% 넘고 메모리가 80% 넘으면 Slack으로 알림 보내줘")
>>> result.type, result.status, result.rule["trigger_type"]
('cep_draft', 'ready', 'metric')
>>> draft("every day at 9 KST call https://ops.example.com/report").rule["trigger_spec"]
{'schedule_expression': '0 9 * * *', 'timezone': 'Asia/Seoul'}
>>> nonsense = draft("바나나가 노랗다")
>>> nonsense.status, nonsense.unparsed
('needs_input', ['바나나가 노랗다'])
"""

from __future__ import annotations

from collections.abc import Callable

from cepkit.copilot.drafter import RuleDrafter
from cepkit.copilot.model import MAX_TEXT_LENGTH, Draft, Drafter, check_text
from cepkit.copilot.vocabulary import DEFAULT_METRICS, Metric

__all__ = [
    "DEFAULT_METRICS",
    "DRAFTERS",
    "MAX_TEXT_LENGTH",
    "Draft",
    "Drafter",
    "Metric",
    "RuleDrafter",
    "check_text",
    "create_drafter",
    "draft",
]

#: drafter name -> factory
DRAFTERS: dict[str, Callable[[], Drafter]] = {
    "rules": RuleDrafter,
}


def create_drafter(name: str) -> Drafter:
    """A new drafter by name; ValueError naming the known ones otherwise.

    >>> create_drafter("rules").name
    'rules'
    >>> create_drafter("gpt")
    Traceback (most recent call last):
    ...
    ValueError: drafter: unknown drafter 'gpt'; expected one of: rules
    """
    try:
        factory = DRAFTERS[name]
    except KeyError:
        raise ValueError(
            f"drafter: unknown drafter {name!r}; expected one of: {', '.join(DRAFTERS)}"
        ) from None
    made = factory()
    if not isinstance(made, Drafter):
        raise TypeError(f"drafter: {name!r} does not implement the Drafter interface")
    return made


def draft(text: str, *, drafter: str | Drafter = "rules") -> Draft:
    """The draft for ``text`` by the named (or given) drafter.

    Raises TypeError / ValueError naming ``text`` for a non-string, blank or too long
    text, and ValueError naming ``drafter`` for an unknown drafter.
    """
    check_text(text)
    chosen = create_drafter(drafter) if isinstance(drafter, str) else drafter
    return chosen.draft(text)
