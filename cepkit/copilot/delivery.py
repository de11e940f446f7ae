"""Where alerts go and how they are labelled: webhook URLs, channels, fallback, message,
severity, priority, the rule name and group-by fields.

>>> from cepkit.copilot.facts import Facts
>>> from cepkit.copilot.scanner import Scanner
>>> facts = Facts()
>>> scan = Scanner("Slack으로 보내고 실패하면 문자로, P1 critical 알림")
>>> read_delivery(scan, facts)
>>> read_labels(scan, facts)
>>> facts.channels, facts.fallback, facts.priority, facts.severity
([(0, 'Slack')], 'SMS', 'P1', 'critical')
"""

from __future__ import annotations

from cepkit.copilot.facts import Facts, WebhookFacts
from cepkit.copilot.lexicon import CHANNEL_RE, SEVERITY_RE, channel_of, severity_of
from cepkit.copilot.scanner import Scanner

__all__ = ["read_delivery", "read_labels"]

_URL = r"https?://[^\s\"'<>()\[\]{}\x00]+"
_METHOD = r"(?<![A-Za-z])(?P<method>GET|POST|PUT|DELETE)(?![A-Za-z])"
_QUOTE = r"[\"“'‘](?P<msg>[^\"”'’\x00]+)[\"”'’]"
_MESSAGES = (
    r"(?:메시지|메세지|문구|내용|message|saying|text)\s*(?:는|은|를|을|:|=)?\s*" + _QUOTE,
    _QUOTE + r"\s*(?:라고|이라고|라는|란)",
)
_NAME = (
    r"(?:규칙\s*이름|규칙명|(?<![A-Za-z])(?:rule\s+name|named|called)(?![A-Za-z]))"
    r"\s*(?:은|는|을|를|:|=|is)?\s*"
    r"[\"'`]?(?P<name>[A-Za-z0-9_][A-Za-z0-9_.-]*)[\"'`]?(?:\s*(?:으로|로))?"
)
_FALLBACKS = (
    r"(?:실패하면|실패\s*시|실패할\s*경우|안\s*되면|안되면)\s*" + CHANNEL_RE,
    r"(?<![A-Za-z])(?:fall\s*back|fallback)\s*(?:to|on)?\s*" + CHANNEL_RE,
    CHANNEL_RE + r"\s*(?:as\s+(?:a\s+)?fallback|(?:을|를)?\s*(?:폴백|대체)(?:으로|로)?)",
)
_SEVERITIES = (
    r"(?:심각도|severity)\s*(?:는|은|를|을|가|이|:|=|is|of)?\s*" + SEVERITY_RE,
    SEVERITY_RE + r"\s*(?:등급|수준|레벨|level|severity|alerts?|알림|경보)",
    r"(?<![A-Za-z])(?:as|with)\s+(?:a\s+)?" + SEVERITY_RE,
    SEVERITY_RE + r"\s*(?:으로|로)(?![가-힣])",
)
_PRIORITY = r"(?<![A-Za-z0-9])P(?P<p>[1-5])(?![0-9A-Za-z])"
_GROUP_KO = {"호스트": "host", "서비스": "service", "리전": "region", "지역": "region"}
_GROUPS = (
    r"(?P<g>호스트|서비스|리전|지역|[A-Za-z_][A-Za-z0-9_]*)\s*별(?:로)?",
    r"(?<![A-Za-z])(?:per|by|for\s+each|each)\s+(?P<g>[A-Za-z_][A-Za-z0-9_]*)",
)
_NOT_GROUPS = {"minute", "minutes", "hour", "hours", "second", "seconds", "day", "days"}


def read_delivery(scan: Scanner, facts: Facts) -> None:
    """Claim the rule name, the message, URLs, HTTP method, channels and fallback."""
    match = scan.first(_NAME)
    if match is not None:
        facts.rule_name = match.group("name")
        scan.claim(match.start(), match.end())
    for pattern in _MESSAGES:
        match = scan.first(pattern)
        if match is not None and facts.message is None:
            facts.message = match.group("msg").strip()
            scan.claim(match.start(), match.end())
    for match in scan.take(_URL):
        url = match.group().rstrip(".,;:!?")
        facts.webhooks.append(WebhookFacts(url=url, start=match.start()))
        scan.claim(match.start(), match.end())
    if facts.webhooks:
        methods = list(scan.find(_METHOD))
        if len({m.group("method").upper() for m in methods}) == 1:
            facts.method = methods[0].group("method").upper()
            for match in methods:
                scan.claim(match.start(), match.end())
    for pattern in _FALLBACKS:
        match = scan.first(pattern)
        if match is not None:
            facts.fallback = channel_of(match.group("channel"))
            scan.claim(match.start(), match.end())
            break
    for match in scan.take(CHANNEL_RE):
        name = channel_of(match.group("channel"))
        if name not in [known for _, known in facts.channels]:
            facts.channels.append((match.start(), name))


def read_labels(scan: Scanner, facts: Facts) -> None:
    """Claim the rule's severity, priority and group-by fields."""
    for pattern in _SEVERITIES:
        match = scan.first(pattern)
        if match is not None:
            facts.severity = severity_of(match.group("sev"))
            scan.claim(match.start(), match.end())
            break
    priorities = list(scan.find(_PRIORITY))
    if len({m.group("p") for m in priorities}) == 1:
        facts.priority = f"P{priorities[0].group('p')}"
        for match in priorities:
            scan.claim(match.start(), match.end())
    for pattern in _GROUPS:
        for match in list(scan.find(pattern)):
            word = match.group("g")
            if word.lower() in _NOT_GROUPS:
                continue
            field = _GROUP_KO.get(word, word)
            if field not in facts.group_by:
                facts.group_by.append(field)
            scan.claim(match.start(), match.end())
