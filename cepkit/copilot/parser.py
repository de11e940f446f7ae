"""Read a sentence into :class:`~cepkit.copilot.facts.Facts`, phrase kind by phrase kind.

The order matters, because a claimed phrase is never read twice: URLs and quoted
messages first (their digits are not thresholds), then schedules ("매 5분" is not a
window), anomalies ("z-score 3" is not a metric), windows, event counts, comparisons,
event words, labels, and last the anomaly's subject. What no step claimed, minus filler
words, is returned in ``unparsed``, exactly as written.

>>> facts = parse("CPU가 90% 넘고 메모리가 80% 넘으면 Slack으로 알림 보내줘")
>>> facts.kind, [c.describe() for c in facts.comparisons], facts.links, facts.channels
('metric', ['cpu_usage > 90', 'memory_percent > 80'], ['AND'], [(25, 'Slack')])
>>> parse("바나나 사과 Slack").unparsed
['바나나 사과']
"""

from __future__ import annotations

import re

from cepkit.copilot.anomaly import read_anomaly
from cepkit.copilot.delivery import read_delivery, read_labels
from cepkit.copilot.events import read_event, read_source
from cepkit.copilot.facts import AnomalyFacts, EventFacts, Facts
from cepkit.copilot.metrics import (
    read_aggregation_words,
    read_comparisons,
    read_count,
    read_links,
    read_window,
)
from cepkit.copilot.scanner import Scanner
from cepkit.copilot.schedules import read_schedule
from cepkit.copilot.vocabulary import DEFAULT_WORDS, MetricWords

__all__ = ["parse"]


def _event(scan: Scanner, facts: Facts) -> None:
    """The event pattern: from the count phrase, an event word, or a source alone."""
    event = None
    if facts.count is not None:
        event = EventFacts(event_type=facts.count.event_type, severity=facts.count.severity)
    else:
        event = read_event(scan)
    alone = not facts.comparisons and facts.anomaly is None and facts.schedule is None
    source = read_source(scan, claim=event is not None or alone)
    if source is not None and (event is not None or alone):
        event = EventFacts(
            event_type=event.event_type if event else None,
            source=source,
            severity=event.severity if event else None,
        )
    elif source is not None:
        facts.notes.append(
            f"'{source}'(출처)는 이벤트 규칙에만 쓸 수 있습니다 (a source needs an event rule)"
        )
    facts.event = event


def _named_source(scan: Scanner, match: re.Match[str]) -> bool:
    """Whether a name is followed by 에서 ("api_gateway에서": a source, not a value)."""
    return scan.text[match.end() :].lstrip().startswith("에서")


def _subject(scan: Scanner, facts: Facts, words: MetricWords) -> None:
    """The anomaly's subject: the one metric named without a comparison."""
    if facts.anomaly is None:
        return
    candidates = [m for m in scan.find(words.pattern) if not _named_source(scan, m)]
    known = [m for m in candidates if words.known(m.group("metric"))]
    chosen = known or candidates
    if not chosen:
        facts.notes.append("이상 탐지할 값을 알려주세요: 예) 응답시간, CPU (which value to watch?)")
        return
    match = chosen[0]
    scan.claim(match.start(), match.end())
    a = facts.anomaly
    facts.anomaly = AnomalyFacts(
        a.method,
        a.threshold,
        a.multiplier,
        a.alpha,
        a.window,
        words.field_of(match.group("metric")),
    )


def _unused_window(facts: Facts) -> None:
    window = facts.window
    if window is None:
        return
    windowed_metric = facts.kind == "metric"
    counted = facts.kind == "event" and facts.count is not None
    if not (windowed_metric or counted):
        facts.unparsed.append(window.text)
        facts.notes.append(
            f"'{window.text}': 기간은 지표 조건이나 이벤트 건수에만 씁니다 "
            "(a window needs a metric condition or an event count)"
        )
        facts.window = None


def parse(text: str, words: MetricWords = DEFAULT_WORDS) -> Facts:
    """The facts of ``text`` (never raises for odd text: it ends up in ``unparsed``);
    ``words`` is the metric vocabulary."""
    scan = Scanner(text)
    facts = Facts()
    read_delivery(scan, facts)
    schedule = read_schedule(scan)
    facts.notes.extend(schedule.notes)
    facts.schedule = schedule if schedule.cron is not None else None
    facts.anomaly = read_anomaly(scan)
    facts.window = read_window(scan)
    facts.count = read_count(scan, facts.notes)
    facts.window = read_aggregation_words(scan, facts.window, facts.notes)
    facts.comparisons = read_comparisons(scan, facts.notes, words)
    facts.links = read_links(scan, facts.comparisons, facts.notes)
    _event(scan, facts)
    read_labels(scan, facts)
    _subject(scan, facts, words)
    _unused_window(facts)
    facts.unparsed = [*facts.unparsed, *scan.leftovers()]
    return facts
