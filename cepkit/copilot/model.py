"""The draft a Copilot returns, and the interface every drafter implements.

A :class:`Draft` is the guide's ``cep_draft``: ``status`` is ``ready`` only when ``rule``
is a complete rule the engine accepts and every part of the sentence was understood;
otherwise ``needs_input``, with ``notes`` saying what is missing and ``unparsed`` holding
the fragments that were not understood, exactly as written.

>>> draft = Draft(status="needs_input", rule={}, unparsed=["바나나"])
>>> draft.model_dump()["type"], draft.ready
('cep_draft', False)
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from cepkit.rules import Rule, parse_rule
from cepkit.rules.parse import is_unicode

__all__ = ["MAX_TEXT_LENGTH", "Draft", "Drafter", "check_text", "is_unicode"]

#: the longest sentence a drafter accepts (characters)
MAX_TEXT_LENGTH = 2000


class Draft(BaseModel):
    """A rule draft: ``{"type": "cep_draft", "status", "rule", "notes", "unparsed"}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["cep_draft"] = "cep_draft"
    status: Literal["ready", "needs_input"]
    rule: dict[str, Any] = Field(
        description="the rule document (canonical form when ready; what was understood "
        "so far otherwise)"
    )
    notes: list[str] = Field(default_factory=list, description="decisions and what is missing")
    unparsed: list[str] = Field(
        default_factory=list, description="fragments of the text that were not understood"
    )

    @property
    def ready(self) -> bool:
        """Whether the draft is a complete, valid rule."""
        return self.status == "ready"

    def to_rule(self) -> Rule:
        """The rule (raises :class:`~cepkit.errors.RuleValidationError` when incomplete)."""
        return parse_rule(self.rule)


@runtime_checkable
class Drafter(Protocol):
    """Turns a sentence into a :class:`Draft`; ``name`` is its registry key.

    A drafter never raises for text it does not understand: that text goes to
    ``unparsed``. It must be deterministic for a given configuration.
    """

    name: str

    def draft(self, text: str) -> Draft:
        """The draft for ``text`` (already checked by :func:`check_text`)."""
        ...


def check_text(text: object) -> str:
    """``text`` when it is a non-blank string of at most :data:`MAX_TEXT_LENGTH` characters.

    >>> check_text("  ")
    Traceback (most recent call last):
    ...
    ValueError: text: must not be empty
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("text: must not be empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(f"text: at most {MAX_TEXT_LENGTH} characters, got {len(text)}")
    if not is_unicode(text):
        raise ValueError("text: must be valid Unicode (it holds a lone surrogate)")
    return text
