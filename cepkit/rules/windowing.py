"""Window configurations: ``tumbling(size)``, ``sliding(size, slide)``, ``session(timeout)``.

Windows are event-time and half-open ``[start, end)``; tumbling windows start at
multiples of ``size`` since the epoch, sliding ones at multiples of ``slide``.

>>> SlidingWindow(type="sliding", size="5m", slide="1m").slide_seconds
60.0
>>> SlidingWindow(type="sliding", size="1m", slide="5m")
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for SlidingWindow
  Value error, slide (5m) must not be larger than size (1m) ...
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from cepkit.durations import parse_duration
from cepkit.rules._base import Spec, check_duration

__all__ = ["WINDOWS", "SessionWindow", "SlidingWindow", "TumblingWindow", "WindowConfig"]


class _Window(Spec):
    timestamp_field: str = "timestamp"
    allowed_lateness: str | None = None

    @field_validator("allowed_lateness", mode="before")
    @classmethod
    def _lateness(cls, value: Any) -> Any:
        if value in (None, 0, "0", "0s"):
            return None
        return check_duration(value)

    @field_validator("type", mode="before", check_fields=False)
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    def describe(self) -> str:
        """The builder's confirmation sentence."""
        raise NotImplementedError


class TumblingWindow(_Window):
    """Fixed size, no overlap."""

    type: Literal["tumbling"] = "tumbling"
    size: str

    _size = field_validator("size", mode="before")(check_duration)

    @property
    def size_seconds(self) -> float:
        return parse_duration(self.size)

    def describe(self) -> str:
        """The builder's confirmation sentence.

        >>> TumblingWindow(size="5m").describe()
        '5m 크기의 윈도우로 데이터를 분할합니다'
        """
        return f"{self.size} 크기의 윈도우로 데이터를 분할합니다"


class SlidingWindow(_Window):
    """Fixed size, a new window every ``slide``."""

    type: Literal["sliding"] = "sliding"
    size: str
    slide: str

    _durations = field_validator("size", "slide", mode="before")(check_duration)

    @property
    def size_seconds(self) -> float:
        return parse_duration(self.size)

    @property
    def slide_seconds(self) -> float:
        return parse_duration(self.slide)

    @model_validator(mode="after")
    def _slide_fits(self) -> SlidingWindow:
        if self.slide_seconds > self.size_seconds:
            raise ValueError(
                f"slide ({self.slide}) must not be larger than size ({self.size}) "
                "(use a tumbling window for non-overlapping windows)"
            )
        return self

    def describe(self) -> str:
        return f"{self.size} 크기의 윈도우를 {self.slide} 간격으로 이동합니다"


class SessionWindow(_Window):
    """Activity-based: closes after ``timeout`` without events."""

    type: Literal["session"] = "session"
    timeout: str

    _timeout = field_validator("timeout", mode="before")(check_duration)

    @property
    def timeout_seconds(self) -> float:
        return parse_duration(self.timeout)

    def describe(self) -> str:
        return f"{self.timeout} 동안 이벤트가 없으면 세션을 종료합니다"


#: window type -> config model
WINDOWS: dict[str, type[_Window]] = {
    "tumbling": TumblingWindow,
    "sliding": SlidingWindow,
    "session": SessionWindow,
}


def _window_tag(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind.strip().lower() if isinstance(kind, str) else None


WindowConfig = Annotated[
    Annotated[TumblingWindow, Tag("tumbling")]
    | Annotated[SlidingWindow, Tag("sliding")]
    | Annotated[SessionWindow, Tag("session")],
    Discriminator(_window_tag),
    Field(description="tumbling(size) | sliding(size, slide) | session(timeout)"),
]
