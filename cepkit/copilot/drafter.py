"""The rule-based drafter: Korean and English, offline, deterministic.

It reads the sentence with :func:`cepkit.copilot.parser.parse` and builds the rule with
:func:`cepkit.copilot.builder.build_draft`. No model, no network: the same text always
gives the same draft.

>>> draft = RuleDrafter().draft("CPU가 90% 넘고 메모리가 80% 넘으면 Slack으로 알림 보내줘")
>>> draft.status, draft.rule["composite_condition"]["conditions"]
('ready', [{'field': 'cpu_usage', 'op': '>', 'value': 90},
 {'field': 'memory_percent', 'op': '>', 'value': 80}])
>>> draft.rule["actions"][0]["channels"]
['Slack']
"""

from __future__ import annotations

from collections.abc import Iterable

from cepkit.copilot.builder import build_draft
from cepkit.copilot.model import Draft
from cepkit.copilot.parser import parse
from cepkit.copilot.vocabulary import DEFAULT_WORDS, Metric, MetricWords

__all__ = ["RuleDrafter"]


class RuleDrafter:
    """Pattern-based drafting from :mod:`cepkit.copilot.lexicon`'s words; ``metrics`` (the
    vocabulary of :mod:`cepkit.copilot.vocabulary` by default) names the metric fields.

    >>> own = RuleDrafter(metrics=[Metric("cpu", "percent", ("cpu",)),
    ...                            Metric("memory", "percent", ("memory", "메모리"))])
    >>> own.draft("CPU가 90% 넘고 메모리가 80% 넘으면 Slack").rule["composite_condition"]
    {'logic': 'AND', 'conditions': [{'field': 'cpu', 'op': '>', 'value': 90},
     {'field': 'memory', 'op': '>', 'value': 80}]}
    """

    name = "rules"

    def __init__(self, metrics: Iterable[Metric] | None = None) -> None:
        self.words = DEFAULT_WORDS if metrics is None else MetricWords(metrics)

    def draft(self, text: str) -> Draft:
        """The draft for ``text``; what is not understood is listed in ``unparsed``."""
        return build_draft(parse(text, self.words), text)
