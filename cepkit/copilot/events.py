"""Event phrases: the event type, its source and the severity it must carry.

"api-gateway에서 critical 에러" -> ``event_type="error"``, ``source="api-gateway"``,
severity condition ``critical``. A severity word right before an event word is a
condition on the event; elsewhere it is the rule's own severity (see
:mod:`cepkit.copilot.delivery`).

>>> from cepkit.copilot.scanner import Scanner
>>> scan = Scanner("api-gateway에서 critical 에러")
>>> read_event(scan), read_source(scan)
(EventFacts(event_type='error', source=None, severity='critical'), 'api-gateway')
>>> read_event(Scanner("payment_failed 이벤트"))
EventFacts(event_type='payment_failed', source=None, severity=None)
"""

from __future__ import annotations

from cepkit.copilot.facts import EventFacts
from cepkit.copilot.lexicon import EVENT_RE, SEP, SEVERITY_RE, event_type_of, is_filler, severity_of
from cepkit.copilot.scanner import Scanner

__all__ = ["read_event", "read_source"]

_GENERIC = r"(?P<generic>이벤트|events?)(?![A-Za-z])"
_SEV_EVENT = SEVERITY_RE + r"(?:인|한|적인)?" + SEP + r"(?:" + EVENT_RE + r"|" + _GENERIC + r")"
_NAMED = r"(?<![A-Za-z0-9_.-])(?P<name>[A-Za-z][A-Za-z0-9_.-]*)\s*" + _GENERIC
_SOURCES = (
    r"(?<![A-Za-z0-9_.-])(?P<src>[A-Za-z][A-Za-z0-9_.-]*)\s*에서",
    r"(?<![A-Za-z])(?:from|on|in)\s+(?:the\s+)?(?P<src>[A-Za-z][A-Za-z0-9_]*[-_.][A-Za-z0-9_.-]*)",
    r"(?<![A-Za-z])from\s+(?:the\s+)?(?P<src>[A-Za-z][A-Za-z0-9_.-]*)",
)


def read_event(scan: Scanner) -> EventFacts | None:
    """Claim the event phrase: a severity + event word, an event word, ``X 이벤트``."""
    match = scan.first(_SEV_EVENT)
    if match is not None:
        scan.claim(match.start(), match.end())
        event = match.group("event")
        return EventFacts(
            event_type=event_type_of(event) if event else None,
            severity=severity_of(match.group("sev")),
        )
    match = scan.first(EVENT_RE)
    if match is not None:
        scan.claim(match.start(), match.end())
        return EventFacts(event_type=event_type_of(match.group("event")))
    for match in scan.find(_NAMED):
        name = match.group("name")
        if not is_filler(name):
            scan.claim(match.start(), match.end())
            return EventFacts(event_type=name)
    return None


def read_source(scan: Scanner, *, claim: bool = True) -> str | None:
    """The source named by "X에서" / "from X" (claimed only when ``claim``)."""
    for pattern in _SOURCES:
        for match in scan.find(pattern):
            source = match.group("src").rstrip(".-")
            if is_filler(source):
                continue
            if claim:
                scan.claim(match.start(), match.end())
            return source
    return None
