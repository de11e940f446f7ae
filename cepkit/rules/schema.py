"""The JSON Schema of a rule document, exported from the models.

The Form Builder and the API's OpenAPI use it. It describes the canonical form;
the guide's alternative spellings are accepted on input as well.

>>> schema = rule_json_schema()
>>> schema["title"], "trigger_spec" in schema["properties"]
('Rule', True)
"""

from __future__ import annotations

from typing import Any

from cepkit.rules.model import Rule

__all__ = ["rule_json_schema"]


def rule_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a rule, by field name."""
    return Rule.model_json_schema(by_alias=False, mode="validation")
