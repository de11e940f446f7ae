"""Metric phrases: comparisons with units, AND/OR between them, windows, event counts.

>>> from cepkit.copilot.scanner import Scanner
>>> scan = Scanner("CPU가 90% 넘고 메모리가 80% 넘으면")
>>> [c.describe() for c in read_comparisons(scan, [])]
['cpu_usage > 90', 'memory_percent > 80']
>>> read_window(Scanner("5분 평균"))
WindowFacts(duration='5m', aggregation='avg', text='5분 평균')
>>> read_count(Scanner("1분 내 에러 5건 이상"), [])
CountFacts(op='>=', value=5, event_type='error', severity=None)
"""

from __future__ import annotations

import functools
import itertools
import re

from cepkit.copilot.facts import Comparison, CountFacts, Logic, WindowFacts
from cepkit.copilot.lexicon import (
    AGGREGATIONS,
    DURATION_EN,
    DURATION_KO,
    EVENT_RE,
    NUMBER,
    OP_EN_RE,
    OP_KO_RE,
    SEP,
    SEVERITY_RE,
    alternation,
    duration_of,
    event_type_of,
    ops_en,
    ops_ko,
    severity_of,
)
from cepkit.copilot.scanner import Scanner
from cepkit.copilot.vocabulary import DEFAULT_WORDS, MetricWords

__all__ = ["read_aggregation_words", "read_comparisons", "read_count", "read_links", "read_window"]

_UNIT = (
    r"\s*(?P<unit>%|퍼센트|프로|percent|ms|밀리초|milliseconds?|초|seconds?|secs?|s(?![A-Za-z]))?"
)


@functools.lru_cache(maxsize=16)
def _comparisons(metric: str) -> tuple[tuple[str, bool], ...]:
    """The comparison patterns around a metric pattern: (pattern, Korean word order)."""
    korean = (
        metric
        + r"(?:[\s\x00]*(?:값이|값은|값|가|이|은|는|의))?"
        + SEP
        + NUMBER
        + _UNIT
        + r"(?:\s*(?:를|을|가|이))?"
        + SEP
        + r"(?P<op>"
        + OP_KO_RE
        + r")(?P<tail>[가-힣]*)"
    )
    english = (
        metric
        + r"(?:\s+(?:usage|utili[sz]ation|level|value))?"
        + r"(?:\s+(?:is|goes|gets|stays|rises|climbs|jumps|drops|falls|remains))?"
        + SEP
        + r"(?P<op>"
        + OP_EN_RE
        + r")"
        + SEP
        + NUMBER
        + _UNIT
        + r"(?:\s*(?P<more>or\s+(?:more|above|higher|greater)))?"
    )
    or_more = metric + SEP + NUMBER + _UNIT + r"\s*(?P<more>or\s+(?:more|above|higher))"
    return ((korean, True), (english, False), (or_more, False))


_AGG_KO = r"(?P<agg>평균값|평균|최대값|최댓값|최대|최소값|최솟값|최소|합계)"
_AGG_EN = r"(?P<agg>average|avg|mean|maximum|max|peak|minimum|min|sum|total)(?![A-Za-z])"
_WINDOWS = (
    r"(?P<n>\d+)\s*(?P<unit>초|분|시간|일)\s*(?:이상|넘게|동안|간)?\s*(?:지속|연속|계속)",
    DURATION_KO + r"\s*(?:간|동안|사이)?(?:의)?\s*" + _AGG_KO,
    DURATION_KO + r"\s*(?:간|동안|내에|내|이내에|이내|안에|사이)(?![가-힣])",
    _AGG_EN + r"\s+(?:over|of|across|in|for)\s+(?:the\s+(?:last|past)\s+)?" + DURATION_EN,
    DURATION_EN + r"[\s-]*" + _AGG_EN,
    r"(?:for|over|during|in|within|across)\s+"
    r"(?:(?:more\s+than|at\s+least|over|the\s+(?:last|past))\s+)?" + DURATION_EN,
    r"(?P<unit>초|분|시간)\s*당",
    r"(?<![A-Za-z])(?:per|an?|each)\s+(?P<unit>second|minute|hour|day)(?![A-Za-z])",
)
_COUNT_OPS = {"이상": ">=", "초과": ">", "넘게": ">", "넘": ">", "미만": "<", "이하": "<="}
_SEV = SEVERITY_RE + r"(?:인|한|적인)?\s*"
_COUNTS = (
    r"(?:"
    + _SEV
    + r")?"
    + EVENT_RE
    + r"(?:가|이)?"
    + SEP
    + r"(?P<num>\d+)\s*(?:건|번|회|개)(?:\s*(?P<op>이상|초과|넘게|넘|미만|이하)[가-힣]*)?",
    r"(?P<num>\d+)\s*(?:건|번|회|개)\s*(?:(?P<op>이상|초과|넘는|넘게|미만|이하)\s*)?(?:의\s*)?(?:"
    + _SEV
    + r")?"
    + EVENT_RE,
    r"(?:(?P<enop>"
    + OP_EN_RE
    + r")\s+)?(?P<num>\d+)\s+(?P<more>or\s+more\s+)?(?:"
    + _SEV
    + r")?"
    + EVENT_RE
    + r"(?:\s+(?P<more2>or\s+more))?",
)
_LINKS: tuple[tuple[str, Logic], ...] = (
    (r"또는|혹은|이거나|거나|(?<![A-Za-z])or(?![A-Za-z])|\|\|", "OR"),
    (r"그리고|및|이고|하고|(?<![A-Za-z])and(?![A-Za-z])|&&|,", "AND"),
)


def _unit_ok(
    words: MetricWords, field: str, unit: str | None, value: float, notes: list[str]
) -> float | None:
    """The value in the metric's unit, or None (and a note) when the unit does not fit."""
    metric = words.metrics.get(field)
    kind = (unit or "").lower()
    if metric is None or not kind:
        return value
    percent = kind in ("%", "퍼센트", "프로", "percent")
    millis = kind in ("ms", "밀리초") or kind.startswith("millisecond")
    if metric.unit == "percent" and percent:
        return value
    if metric.unit == "ms" and millis:
        return value
    if metric.unit == "ms" and not percent:
        notes.append(f"{field}: {value:g}{unit}를 {value * 1000:g}ms로 바꿨습니다 (seconds to ms)")
        return value * 1000
    notes.append(f"{field}에 단위 {unit!r}를 쓸 수 없습니다 (unit does not fit the metric)")
    return None


def _joins(tail: str) -> Logic | None:
    if "거나" in tail:
        return "OR"
    if tail.endswith("고"):
        return "AND"
    return None


def read_comparisons(
    scan: Scanner, notes: list[str], words: MetricWords = DEFAULT_WORDS
) -> list[Comparison]:
    """Claim every ``metric op number[unit]`` phrase, Korean or English, in text order."""
    found: list[Comparison] = []
    for pattern, korean in _comparisons(words.pattern):
        for match in list(scan.find(pattern)):
            groups = match.groupdict()
            field = words.field_of(groups["metric"])
            if korean:
                op = ops_ko(groups["op"])
            else:
                op = ops_en(groups["op"]) if groups.get("op") else ">="
                if groups.get("more") and op in (">", "=="):
                    op = ">="
            number = float(groups["num"].replace(",", ""))
            value = _unit_ok(words, field, groups.get("unit"), number, notes)
            if value is None:
                continue
            joins = _joins(groups.get("tail") or "") if korean else None
            found.append(Comparison(field, op, value, match.start(), match.end(), joins))
            scan.claim(match.start(), match.end())
    return sorted(found, key=lambda c: c.start)


def read_links(scan: Scanner, comparisons: list[Comparison], notes: list[str]) -> list[Logic]:
    """The logic between each pair of neighbouring comparisons (claims "and"/"또는"...)."""
    links: list[Logic] = []
    for left, right in itertools.pairwise(comparisons):
        gap = scan.text[left.end : right.start]
        logic: Logic | None = None
        for pattern, meaning in _LINKS:
            for match in re.finditer(pattern, gap, re.IGNORECASE):
                logic = logic or meaning
                scan.claim(left.end + match.start(), left.end + match.end())
        if logic is None:
            logic = left.joins
        if logic is None:
            notes.append(
                f"'{left.describe()}'와 '{right.describe()}' 사이에 연결어가 없어 AND로 묶었습니다 "
                "(no and/or between conditions: AND)"
            )
            logic = "AND"
        links.append(logic)
    return links


def read_window(scan: Scanner) -> WindowFacts | None:
    """Claim the first window phrase ("5분 평균", "for 5 minutes", "1분 내")."""
    for pattern in _WINDOWS:
        match = scan.first(pattern)
        if match is None:
            continue
        groups = match.groupdict()
        agg = groups.get("agg")
        scan.claim(match.start(), match.end())
        return WindowFacts(
            duration=duration_of(groups.get("n") or "1", groups["unit"]),
            aggregation=AGGREGATIONS[agg.lower()] if agg else None,
            text=scan.original(match.start(), match.end()),
        )
    return None


def read_aggregation_words(
    scan: Scanner, window: WindowFacts | None, notes: list[str]
) -> WindowFacts | None:
    """An aggregation word apart from the window phrase ("CPU 평균이 5분 동안...")."""
    pattern = r"(?<![A-Za-z])" + alternation(AGGREGATIONS) + r"(?![A-Za-z])"
    for match in list(scan.find(pattern)):
        name = AGGREGATIONS[match.group().lower()]
        if window is None:
            notes.append(f"'{match.group()}'에는 기간이 필요합니다: 예) 5분 평균 (needs a window)")
        elif window.aggregation in (None, name):
            window = WindowFacts(window.duration, name, window.text)
            scan.claim(match.start(), match.end())
        else:
            notes.append(f"집계가 둘입니다: {window.aggregation}, {name} (two aggregations)")
    return window


def read_count(scan: Scanner, notes: list[str]) -> CountFacts | None:
    """Claim an event count ("에러 5건 이상", "more than 5 errors")."""
    for pattern in _COUNTS:
        match = scan.first(pattern)
        if match is None:
            continue
        groups = match.groupdict()
        if groups.get("enop"):
            op = ops_en(groups["enop"])
            op = ">=" if groups.get("more") or groups.get("more2") else op
        elif groups.get("op"):
            op = _COUNT_OPS[groups["op"].rstrip("는")]
        else:
            op = ">="
            notes.append(
                f"'{match.group()}'를 '{groups['num']}건 이상'(>=)으로 읽었습니다 (at least)"
            )
        scan.claim(match.start(), match.end())
        severity = groups.get("sev")
        return CountFacts(
            op=op,
            value=int(groups["num"]),
            event_type=event_type_of(groups["event"]),
            severity=severity_of(severity) if severity else None,
        )
    return None
