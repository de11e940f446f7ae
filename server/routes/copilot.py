"""``POST /cep/copilot/draft``: a sentence (Korean or English) -> a ``cep_draft``.

The body is ``{"text": "...", "drafter": "rules"}`` (``drafter`` optional); the answer
is :class:`cepkit.copilot.Draft`. Nothing is stored: saving the drafted rule is an
ordinary ``POST /cep/rules``. Bad input is a 422 naming the field: ``text`` missing,
not a string, blank or longer than :data:`cepkit.copilot.MAX_TEXT_LENGTH` characters;
``drafter`` not a registered drafter; a lone surrogate (``"\\ud800"``, valid JSON but
no text) is a 422 too.

>>> answer = draft_rule(DraftRequest(text="디스크 90 이상이면 이메일"))
>>> answer.status, answer.rule["trigger_spec"]["threshold"]
('ready', 90.0)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from cepkit.copilot import DRAFTERS, MAX_TEXT_LENGTH, Draft, draft
from server.schemas import ValidationErrorOut

__all__ = ["DraftRequest", "router"]

router = APIRouter(prefix="/cep/copilot", tags=["copilot"])


class DraftRequest(BaseModel):
    """What to draft, and by which drafter."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [{"text": "CPU가 90% 넘고 메모리가 80% 넘으면 Slack으로 알림 보내줘"}]
        },
    )

    text: StrictStr = Field(min_length=1, max_length=MAX_TEXT_LENGTH)
    drafter: StrictStr = "rules"

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("drafter")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in DRAFTERS:
            raise ValueError(f"unknown drafter {value!r}; expected one of: {', '.join(DRAFTERS)}")
        return value


_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorOut, "description": "Bad input, by JSON path"}
}


@router.post(
    "/draft",
    summary="Draft a rule from a sentence (Korean or English)",
    response_model=Draft,
    responses=_INVALID,
)
def draft_rule(request: DraftRequest) -> Draft:
    """A ``cep_draft``: ``ready`` with a rule the engine accepts, or ``needs_input`` with
    notes and the fragments that were not understood. Nothing is stored."""
    return draft(request.text, drafter=request.drafter)
