"""``{{field}}`` message templates, strict about undefined names.

A placeholder is a dotted path into the context (``{{data.metrics.cpu}}``, list items by
index: ``{{items.0.name}}``) followed by optional filters:

- ``round`` / ``round(2)``: a number (or numeric string) rounded, 0 digits by default;
- ``upper`` / ``lower``: text case;
- ``default("n/a")``: the value when the name is undefined or null.

An undefined name is a :class:`~cepkit.errors.TemplateError`, never an empty string, so
a typo in ``{{summary}}`` shows up at the first firing instead of sending a blank alert.
Values render as text: strings as they are, numbers as Python prints them, ``true``,
``false`` and ``null`` for booleans and null, lists and objects as JSON.

>>> render("[{{severity|upper}}] cpu={{data.cpu|round(1)}}%", {
...     "severity": "critical", "data": {"cpu": 92.345}})
'[CRITICAL] cpu=92.3%'
>>> render("owner: {{owner|default('ops')}}", {})
'owner: ops'
>>> render("{{summary}}", {"severity": "high"})
Traceback (most recent call last):
...
cepkit.errors.TemplateError: summary: undefined name in template (the payload has no such field)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, Final

from cepkit.errors import TemplateError
from cepkit.operators import as_number
from cepkit.paths import MISSING, resolve

__all__ = ["FILTERS", "names", "render", "render_data", "to_text"]

_OPEN: Final = "{{"
_CLOSE: Final = "}}"
_PATH = re.compile(r"^[A-Za-z_][\w-]*(?:\.[\w-]+)*$")
_FILTER = re.compile(r"^([a-z_]+)\s*(?:\((.*)\))?$", re.DOTALL)

Filter = Callable[[Any, list[Any]], Any]


def _round(value: Any, args: list[Any]) -> Any:
    if value is MISSING:
        return value
    digits = args[0] if args else 0
    number = as_number(value)
    if number is None or not isinstance(digits, int) or isinstance(digits, bool):
        raise TemplateError("template", f"round: expected a number, got {value!r}")
    rounded = round(float(number), digits)
    return int(rounded) if digits <= 0 else rounded


def _case(method: str) -> Filter:
    def apply(value: Any, args: list[Any]) -> Any:
        return value if value is MISSING else getattr(to_text(value), method)()

    return apply


def _default(value: Any, args: list[Any]) -> Any:
    if len(args) != 1:
        raise TemplateError("template", "default needs exactly one argument, e.g. default('n/a')")
    return args[0] if value is MISSING or value is None else value


#: filter name -> function(value, args); a missing value arrives as ``MISSING``
FILTERS: dict[str, Filter] = {
    "round": _round,
    "upper": _case("upper"),
    "lower": _case("lower"),
    "default": _default,
}


def to_text(value: Any) -> str:
    """How a value appears in rendered text.

    >>> to_text(True), to_text(None), to_text(91.5), to_text({"a": [1, 2]})
    ('true', 'null', '91.5', '{"a": [1, 2]}')
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        raise TemplateError("template", f"bad filter argument {text!r}") from None


def _arguments(text: str | None) -> list[Any]:
    if text is None or not text.strip():
        return []
    parts: list[str] = []
    current, quote = "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ",":
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return [_literal(part) for part in parts]


def _parse(template: str) -> list[str | tuple[str, list[tuple[str, list[Any]]]]]:
    """Literal text and ``(path, [(filter, args), ...])`` placeholders, in order."""
    pieces: list[str | tuple[str, list[tuple[str, list[Any]]]]] = []
    position = 0
    while (start := template.find(_OPEN, position)) != -1:
        end = template.find(_CLOSE, start + 2)
        if end == -1:
            raise TemplateError("template", f"unclosed '{{{{' at position {start}")
        if start > position:
            pieces.append(template[position:start])
        path, *filters = (part.strip() for part in template[start + 2 : end].split("|"))
        if not _PATH.match(path):
            raise TemplateError("template", f"bad placeholder {{{{{path}}}}}: expected a name")
        chain: list[tuple[str, list[Any]]] = []
        for text in filters:
            match = _FILTER.match(text)
            if match is None or match.group(1) not in FILTERS:
                raise TemplateError(
                    "template", f"unknown filter {text!r}; expected one of: {', '.join(FILTERS)}"
                )
            chain.append((match.group(1), _arguments(match.group(2))))
        pieces.append((path, chain))
        position = end + 2
    if position < len(template):
        pieces.append(template[position:])
    return pieces


def _value(path: str, chain: list[tuple[str, list[Any]]], context: Mapping[str, Any]) -> Any:
    value = resolve(context, path)
    for name, args in chain:
        value = FILTERS[name](value, args)
    if value is MISSING:
        raise TemplateError(path, "undefined name in template (the payload has no such field)")
    return value


def render(template: str, context: Mapping[str, Any]) -> str:
    """``template`` with every ``{{path|filters}}`` replaced from ``context``.

    Raises :class:`~cepkit.errors.TemplateError` for an undefined name, an unknown
    filter or a malformed placeholder.

    >>> render("host={{host}}, cpu={{cpu_usage}}%", {"host": "web-01", "cpu_usage": 91.5})
    'host=web-01, cpu=91.5%'
    """
    out: list[str] = []
    for piece in _parse(template):
        out.append(piece if isinstance(piece, str) else to_text(_value(*piece, context)))
    return "".join(out)


def render_data(data: Any, context: Mapping[str, Any]) -> Any:
    """Render every string inside ``data`` (objects and lists, keys left alone).

    A string that is exactly one placeholder keeps its value's type, so JSON bodies
    keep numbers as numbers.

    >>> render_data({"cpu": "{{cpu}}", "text": "cpu={{cpu}}", "tags": ["{{host}}"]},
    ...             {"cpu": 91.5, "host": "web-01"})
    {'cpu': 91.5, 'text': 'cpu=91.5', 'tags': ['web-01']}
    """
    if isinstance(data, str):
        pieces = _parse(data)
        if len(pieces) == 1 and not isinstance(pieces[0], str):
            return _value(*pieces[0], context)
        return render(data, context)
    if isinstance(data, Mapping):
        return {key: render_data(value, context) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [render_data(item, context) for item in data]
    return data


def names(template: str) -> list[str]:
    """The paths a template uses, in order of first use (checks the syntax too).

    >>> names("{{severity}} - {{summary}} ({{severity|upper}})")
    ['severity', 'summary']
    """
    seen: dict[str, None] = {}
    for piece in _parse(template):
        if not isinstance(piece, str):
            seen.setdefault(piece[0], None)
    return list(seen)
