"""From JSON documents to rules, with every defect named by its JSON path.

Paths are given in the document *as the user wrote it*: an error inside a
``multi_action`` block is reported at ``actions.actions[1].endpoint``, one in a single
aggregation object at ``aggregation.field``, one in the builder's ``action_spec`` there.

>>> parse_rule({"rule_name": "x", "trigger_type": "event", "trigger_spec": {},
...             "composite_condition": {"conditions": [
...                 {"field": "a", "op": ">", "value": 1},
...                 {"field": "b", "op": "gt", "value": 2}]}})
Traceback (most recent call last):
...
cepkit.errors.RuleValidationError: invalid rule 'x': composite_condition.conditions[1].op:
unknown operator 'gt'; expected one of: >, <, >=, <=, ==, !=, in, not_in, contains, ...
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from cepkit.errors import Problem, RuleError, RuleValidationError
from cepkit.rules.model import Rule

__all__ = ["format_path", "is_unicode", "load_rule_files", "parse_rule", "problems_from"]

# Tags of the discriminated unions: pydantic puts them in error locations; users never wrote them.
_UNION_TAGS = {
    "metric",
    "event",
    "schedule",
    "anomaly",
    "tumbling",
    "sliding",
    "session",
    "webhook",
    "notify",
    "trigger",
    "store",
    "lookup",
    "aggregate",
    "ml_model",
    "leaf",
    "group",
}
_UNION_FIELDS = {"trigger_spec", "window_config"}
_EXPECTED = {
    "trigger_spec": "expected an object with the fields of the trigger type",
    "actions": "expected webhook, notify, trigger or store",
    "window_config": "expected tumbling, sliding or session",
    "enrichment": "expected lookup, aggregate or ml_model",
}


def format_path(loc: Sequence[str | int]) -> str:
    """``("a", 2, "op")`` -> ``a[2].op``.

    >>> format_path(("composite_condition", "conditions", 2, "op"))
    'composite_condition.conditions[2].op'
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _strip_tags(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    kept: list[str | int] = []
    for part in loc:
        previous = kept[-1] if kept else None
        if (
            isinstance(part, str)
            and part in _UNION_TAGS
            and (isinstance(previous, int) or previous in _UNION_FIELDS)
        ):
            continue
        kept.append(part)
    return tuple(kept)


def _to_document_loc(doc: Mapping[str, Any], loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Map a location in the canonical model back to the user's document."""
    if not loc:
        return loc
    head, rest = loc[0], loc[1:]
    if head == "actions":
        key = (
            "actions"
            if "actions" in doc
            else ("action_spec" if "action_spec" in doc else "actions")
        )
        given = doc.get(key)
        if isinstance(given, Mapping):
            if str(given.get("type", "")).lower() == "multi_action":
                return (key, "actions", *rest)
            return (key, *rest[1:]) if rest and rest[0] == 0 else (key, *rest)
        return (key, *rest)
    if head in ("aggregation", "enrichment", "action_config") and isinstance(
        doc.get(head), Mapping
    ):
        return (head, *rest[1:]) if rest and rest[0] == 0 else loc
    if head == "composite_condition":
        given = doc.get(head)
        if isinstance(given, list) and rest[:1] == ("conditions",):
            return (head, *rest[1:])
        if (
            isinstance(given, Mapping)
            and "conditions" not in given
            and rest[:2] == ("conditions", 0)
        ):
            return (head, *rest[2:])
    if head == "trigger_spec" and rest[:1] == ("kind",):
        return (head,)
    return loc


def _message(error: ErrorDetails, loc: tuple[str | int, ...]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return f"unknown field {loc[-1]!r}" if loc else "unknown field"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        head = next((p for p in reversed(loc) if isinstance(p, str)), "")
        what = _EXPECTED.get(str(head), "")
        tag = ctx.get("tag")
        got = f"unknown type {tag!r}" if tag else "missing or invalid 'type'"
        return f"{got}; {what}" if what else got
    return str(error["msg"])


def problems_from(exc: ValidationError, doc: Mapping[str, Any]) -> list[Problem]:
    """Pydantic's errors as :class:`Problem` s with the user's JSON paths (deduplicated)."""
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    bad_trigger_type = any(e["loc"][:1] == ("trigger_type",) for e in exc.errors())
    for error in exc.errors():
        loc = _to_document_loc(doc, _strip_tags(tuple(error["loc"])))
        if bad_trigger_type and loc[:1] == ("trigger_spec",) and error["type"].startswith("union"):
            continue  # the spec cannot be checked until trigger_type is valid
        path = format_path(loc)
        message = _message(error, loc)
        if (path, message) in seen:
            continue
        seen.add((path, message))
        problems.append(Problem(path=path, message=message, type=error["type"], loc=loc))
    return problems


def is_unicode(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no lone surrogates such as ``\\ud800``).

    >>> is_unicode("CPU 90%"), is_unicode("\\ud800")
    (True, False)
    """
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unencodable_text(
    value: Any, loc: tuple[str | int, ...] = ()
) -> Iterator[tuple[str | int, ...]]:
    r"""The paths of the strings (keys included) in ``value`` that are not valid Unicode:
    JSON's ``"\ud800"`` decodes to a lone surrogate, which no database can store.

    >>> [format_path(loc) for loc in unencodable_text({"a": ["ok", "\ud800"], "\udfff": 1})]
    ['a[1]', '\udfff']
    """
    if isinstance(value, str):
        if not is_unicode(value):
            yield loc
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and not is_unicode(key):
                yield (*loc, key)
            else:
                yield from unencodable_text(item, (*loc, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from unencodable_text(item, (*loc, index))


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def may_hold_surrogates(json_text: str | bytes) -> bool:
    r"""Whether JSON text escapes a UTF-16 surrogate (``\ud800``...): only then can its
    decoded strings fail :func:`unencodable_text` (a cheap test before the walk).

    >>> may_hold_surrogates(rb'{"a": "\ud83d\ude00"}'), may_hold_surrogates('{"a": 1}')
    (True, False)
    """
    text = json_text.decode("latin-1") if isinstance(json_text, bytes) else json_text
    return "\\" in text and _SURROGATE_ESCAPE.search(text) is not None  # most have no escape


def parse_rule(document: Mapping[str, Any] | Rule) -> Rule:
    """A :class:`Rule` from its JSON document, or :class:`RuleValidationError` naming paths.

    >>> rule = parse_rule({"rule_name": "health_check_5min", "trigger_type": "schedule",
    ...                    "trigger_spec": {"scheduleExpression": "*/5 * * * *"}})
    >>> rule.trigger_spec.schedule_expression
    '*/5 * * * *'
    """
    if isinstance(document, Rule):
        return document
    if not isinstance(document, Mapping):
        raise RuleValidationError(
            [
                Problem(
                    path="", message=f"a rule must be a JSON object, got {type(document).__name__}"
                )
            ]
        )
    broken = list(unencodable_text(document))
    if broken:
        raise RuleValidationError(
            [
                Problem(
                    path=format_path(loc),
                    message="text must be valid Unicode (a lone surrogate cannot be stored)",
                    loc=loc,
                )
                for loc in broken
            ]
        )
    try:
        return Rule.model_validate(document)
    except ValidationError as exc:
        name = document.get("rule_name")
        raise RuleValidationError(
            problems_from(exc, document), rule_name=name if isinstance(name, str) else None
        ) from None


def load_rule_files(path: str | Path) -> list[tuple[Path, dict[str, Any]]]:
    """The JSON documents in one file or a folder of ``*.json`` (sorted by name).

    A file may hold one rule object or a list of them. Unreadable JSON is a
    :class:`RuleError` naming the file and line.
    """
    root = Path(path)
    if root.is_dir():
        files = sorted(root.glob("*.json"))
    elif root.exists():
        files = [root]
    else:
        raise RuleError(f"{root}: no such file or folder")
    out: list[tuple[Path, dict[str, Any]]] = []
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise RuleError(f"{file}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
        except OSError as exc:
            raise RuleError(f"{file}: cannot read: {exc}") from exc
        items = data if isinstance(data, list) else [data]
        out.extend((file, item) for item in items)
    return out
