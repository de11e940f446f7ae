"""{{field}} templates: dotted paths, filters, strict undefined names."""

from __future__ import annotations

from typing import Any

import pytest

from cepkit.errors import EvaluationError, TemplateError
from cepkit.templates import names, render, render_data

CONTEXT: dict[str, Any] = {
    "severity": "critical",
    "summary": "Connection pool exhausted",
    "data": {"metrics": {"cpu": 92.456, "disk": "97.04"}},
    "items": [{"name": "a"}, {"name": "b"}],
    "nothing": None,
    "flag": True,
    "tags": ["x", "y"],
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "[CRITICAL] {{severity}} - {{summary}}",
            "[CRITICAL] critical - Connection pool exhausted",
        ),
        ("{{ severity | upper }}", "CRITICAL"),
        ("{{summary|lower}}", "connection pool exhausted"),
        ("{{data.metrics.cpu|round}}", "92"),
        ("{{data.metrics.cpu|round(2)}}", "92.46"),
        ("{{data.metrics.disk|round(1)}}", "97.0"),
        ("{{items.1.name}}", "b"),
        ("{{owner|default('ops')}}", "ops"),
        ('{{owner|default("on call")|upper}}', "ON CALL"),
        ("{{nothing|default(0)}}", "0"),
        ("{{nothing}}", "null"),
        ("{{flag}} {{tags}}", 'true ["x", "y"]'),
        ("no placeholders", "no placeholders"),
        ("{{owner|upper|default('-')}}", "-"),
    ],
)
def test_render(template: str, expected: str) -> None:
    assert render(template, CONTEXT) == expected


@pytest.mark.parametrize(
    ("template", "path", "message"),
    [
        ("{{summray}}", "summray", "undefined name"),
        ("{{data.metrics.mem}}", "data.metrics.mem", "undefined name"),
        ("{{items.5.name}}", "items.5.name", "undefined name"),
        ("{{summary|upper", "template", "unclosed '{{' at position 0"),
        ("{{ }}", "template", "bad placeholder"),
        ("{{a b}}", "template", "bad placeholder"),
        ("{{summary|shout}}", "template", "unknown filter 'shout'"),
        ("{{summary|round}}", "template", "round: expected a number"),
        ("{{summary|default}}", "template", "default needs exactly one argument"),
        ("{{x|default(nope)}}", "template", "bad filter argument 'nope'"),
    ],
)
def test_errors(template: str, path: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render(template, CONTEXT)
    assert caught.value.path == path and message in caught.value.message
    assert isinstance(caught.value, EvaluationError)


def test_undefined_never_renders_empty() -> None:
    with pytest.raises(TemplateError, match="summary: undefined name"):
        render("alert: {{summary}}", {})


def test_render_data_keeps_types_of_single_placeholders() -> None:
    body = {"cpu": "{{data.metrics.cpu}}", "text": "cpu {{data.metrics.cpu|round}}", "n": 3}
    assert render_data(body, CONTEXT) == {"cpu": 92.456, "text": "cpu 92", "n": 3}
    assert render_data(["{{tags}}", "{{flag}}"], CONTEXT) == [["x", "y"], True]
    with pytest.raises(TemplateError):
        render_data({"nested": ["{{missing}}"]}, CONTEXT)


def test_names() -> None:
    assert names("{{a.b|upper}} {{c}} {{a.b}}") == ["a.b", "c"]
    assert names("plain") == []
