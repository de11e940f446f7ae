"""The exceptions cepkit raises, as one small tree.

::

    CepkitError
    ├── RuleError                     a rule document is not a valid rule
    │   └── RuleValidationError       ... with one Problem (JSON path + message) per defect
    ├── EvaluationError               a condition could not be evaluated (missing field, types)
    │   └── TemplateError             a ``{{...}}`` template names an undefined field, bad syntax
    ├── StoreError                    persistence failed
    │   ├── NotFound                  nothing under that id
    │   │   ├── RuleNotFound
    │   │   └── EventNotFound
    │   └── RuleConflict              e.g. a second rule with the same rule_name
    ├── ChannelError                  a delivery failed (channels issue)
    │   ├── ChannelTimeout
    │   └── CircuitOpen
    └── ClientError                   the HTTP API refused a call or could not be reached

Third-party errors (pydantic, SQLAlchemy, httpx) are mapped to these at the boundary,
with ``raise ... from exc`` so the cause stays visible.

>>> err = RuleValidationError([Problem(path="window_config.size", message="bad size '7q'")])
>>> str(err)
"invalid rule: window_config.size: bad size '7q'"
>>> isinstance(err, CepkitError)
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "CepkitError",
    "ChannelError",
    "ChannelTimeout",
    "CircuitOpen",
    "ClientError",
    "EvaluationError",
    "EventNotFound",
    "NotFound",
    "Problem",
    "RuleConflict",
    "RuleError",
    "RuleNotFound",
    "RuleValidationError",
    "StoreError",
    "TemplateError",
]


class CepkitError(Exception):
    """Base of every exception cepkit raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One defect in a rule document.

    ``path`` is the JSON path in the document as the user wrote it, e.g.
    ``composite_condition.conditions[2].op`` (empty for the document itself);
    ``loc`` is the same path as a tuple, the shape FastAPI uses for ``loc``.
    """

    path: str
    message: str
    type: str = "value_error"
    loc: tuple[str | int, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form, the shape of a FastAPI 422 ``detail`` item plus ``path``."""
        return {"loc": list(self.loc), "path": self.path, "msg": self.message, "type": self.type}


class RuleError(CepkitError):
    """A rule document cannot be used as a rule."""


class RuleValidationError(RuleError, ValueError):
    """A rule document failed validation; ``problems`` names every defect by JSON path."""

    def __init__(self, problems: Iterable[Problem], *, rule_name: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.rule_name = rule_name
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"invalid rule {self.rule_name!r}" if self.rule_name else "invalid rule"
        body = "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in self.problems)
        return f"{head}: {body}"


class EvaluationError(CepkitError):
    """A condition could not be evaluated on a payload (a missing field, incomparable types)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


class TemplateError(EvaluationError):
    """A ``{{...}}`` message template could not be rendered on a payload.

    ``path`` is the undefined name (or ``template`` for a syntax error); never retried:
    the same payload gives the same error until the rule's template is fixed.
    """


class StoreError(CepkitError):
    """Persistence failed."""


class NotFound(StoreError, KeyError):
    """Nothing stored under that id (a rule, an event, a delivery...)."""

    kind = "item"

    def __init__(self, item_id: str) -> None:
        self.item_id = item_id
        super().__init__(f"{self.kind} {item_id!r} not found")

    def __str__(self) -> str:  # KeyError would quote the message
        return f"{self.kind} {self.item_id!r} not found"


class RuleNotFound(NotFound):
    """No rule with that id."""

    kind = "rule"

    @property
    def rule_id(self) -> str:
        return self.item_id


class EventNotFound(NotFound):
    """No event (alert) with that id."""

    kind = "event"


class RuleConflict(StoreError):
    """The write conflicts with a stored rule (e.g. the same ``rule_name``)."""


class ChannelError(CepkitError):
    """A notification channel failed to deliver."""


class ChannelTimeout(ChannelError):
    """A channel did not answer in time."""


class CircuitOpen(ChannelError):
    """The channel's circuit breaker is open; the delivery was not attempted."""


class ClientError(CepkitError):
    """The server answered a :mod:`cepkit.client` call with an error, or was unreachable.

    ``status_code`` is the HTTP status (None when no answer came), ``detail`` the
    server's ``detail`` as sent, and ``problems`` one :class:`Problem` per item of a
    422 answer, each naming its JSON path.

    >>> err = ClientError("POST", "/cep/rules", 422,
    ...     [{"loc": ["window_config", "size"], "path": "window_config.size", "msg": "bad size"}])
    >>> str(err)
    'POST /cep/rules: HTTP 422: window_config.size: bad size'
    >>> err.problems[0].path
    'window_config.size'
    """

    def __init__(self, method: str, path: str, status_code: int | None, detail: object) -> None:
        self.method = method
        self.path = path
        self.status_code = status_code
        self.detail = detail
        self.problems: tuple[Problem, ...] = _problems(detail)
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"{self.method} {self.path}: "
        head += f"HTTP {self.status_code}" if self.status_code is not None else "no answer"
        if self.problems:
            body = "; ".join(
                f"{p.path}: {p.message}" if p.path else p.message for p in self.problems
            )
        else:
            body = str(self.detail) if self.detail not in (None, "") else ""
        return f"{head}: {body}" if body else head


def _problems(detail: object) -> tuple[Problem, ...]:
    if not isinstance(detail, list):
        return ()
    out = []
    for item in detail:
        if not isinstance(item, dict) or "msg" not in item:
            continue
        loc = tuple(part for part in item.get("loc", ()) if isinstance(part, str | int))
        out.append(
            Problem(
                path=str(item.get("path", "")),
                message=str(item["msg"]),
                type=str(item.get("type", "value_error")),
                loc=loc,
            )
        )
    return tuple(out)
