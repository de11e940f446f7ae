"""Schedule phrases -> a 5-field cron expression and a time zone.

Understood: intervals ("매 5분", "10분마다", "every 2 hours", "매시간", "hourly"), days
("매일", "평일", "주말", "월요일마다", "every monday", "매월 1일"), times of day ("오전 9시",
"오후 3시 30분", "9시 반", "at 9", "9:30 pm", "21:00", "정오", "midnight") and time zones
("KST", "한국 시간", "UTC", "JST", IANA names such as ``Asia/Seoul``). A phrase that cannot
become part of one cron expression is left unclaimed (so it is reported unparsed) with a
note saying why.

>>> from cepkit.copilot.scanner import Scanner
>>> read_schedule(Scanner("평일 오전 9시"))
ScheduleFacts(cron='0 9 * * 1-5', timezone=None, notes=())
>>> read_schedule(Scanner("every day at 9 KST"))
ScheduleFacts(cron='0 9 * * *', timezone='Asia/Seoul', notes=())
>>> read_schedule(Scanner("매 5분")).cron
'*/5 * * * *'
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cepkit.copilot.scanner import Scanner

__all__ = ["ScheduleFacts", "read_schedule"]

_EVERY = (
    r"매\s*(?P<n>\d+)\s*(?P<unit>분|시간|초)(?:\s*마다)?",
    r"(?P<n>\d+)\s*(?P<unit>분|시간|초)\s*마다",
    r"every\s+(?P<n>\d+)\s*(?P<unit>seconds?|secs?|minutes?|mins?|hours?|hrs?|[smh])(?![A-Za-z])",
    r"(?P<minute>매\s*분(?:마다)?|every\s+minute)",
    r"(?P<hour>매\s*시간(?:마다)?|매\s*정시|every\s+hour|hourly)",
)
_WEEKDAYS_KO = {"일": 0, "월": 1, "화": 2, "수": 3, "목": 4, "금": 5, "토": 6}
_WEEKDAYS_EN = {
    "sunday": 0,
    "monday": 1,
    "tuesday": 2,
    "wednesday": 3,
    "thursday": 4,
    "friday": 5,
    "saturday": 6,
}
_DAYS = (
    (r"매일|날마다|every\s*day|daily|each\s+day", "*", "*"),
    (r"평일(?:마다)?|(?:on\s+|every\s+)?weekdays?", "*", "1-5"),
    (r"주말(?:마다)?|(?:on\s+|every\s+)?weekends?", "*", "0,6"),
)
_WEEKDAY = (
    r"(?:매주\s*)?(?P<ko>[일월화수목금토])요일(?:\s*마다)?|(?:every\s+|on\s+)?"
    r"(?P<en>sunday|monday|tuesday|wednesday|thursday|friday|saturday)s?(?![A-Za-z])"
)
_MONTHLY = (
    r"매월\s*(?P<dom>\d{1,2})\s*일|매달\s*(?P<dom2>\d{1,2})\s*일|"
    r"every\s+month\s+on\s+the\s+(?P<dom3>\d{1,2})(?:st|nd|rd|th)?"
)
_TIMES = (
    r"(?P<ampm>오전|오후|아침|저녁|밤|새벽)?\s*(?P<h>\d{1,2})\s*시(?!간|그마)"
    r"(?:\s*(?P<m>\d{1,2})\s*분|\s*(?P<half>반))?(?:\s*정각)?",
    r"(?P<noon>정오|noon)|(?P<midnight>자정|midnight)",
    r"at\s+(?P<h>\d{1,2})(?::(?P<m>\d{2}))?(?![\d.%:])\s*(?P<ampm>[ap]\.?m\.?(?![A-Za-z]))?",
    r"(?<![\d:.])(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)(?![A-Za-z])",
    r"(?<![\d:./])(?P<h>\d{1,2}):(?P<m>\d{2})(?![\d:])",
)
_ZONES = (
    (r"(?<![A-Za-z])KST(?![A-Za-z])|한국\s*(?:시간|시각|기준)|서울\s*시간", "Asia/Seoul"),
    (r"(?<![A-Za-z])(?:UTC|GMT)(?![A-Za-z])", "UTC"),
    (r"(?<![A-Za-z])JST(?![A-Za-z])|일본\s*시간", "Asia/Tokyo"),
)
_IANA = r"(?<![A-Za-z/])(?P<tz>[A-Z][a-z]+/[A-Z][A-Za-z_]+)"


@dataclass(frozen=True)
class ScheduleFacts:
    """What the schedule phrases said: a cron expression (None when none), the zone."""

    cron: str | None
    timezone: str | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Found:
    start: int
    end: int
    value: tuple[str, str]


def _every(scan: Scanner, notes: list[str]) -> _Found | None:
    for pattern in _EVERY:
        match = scan.first(pattern)
        if match is None:
            continue
        groups = match.groupdict()
        if groups.get("minute"):
            return _Found(match.start(), match.end(), ("*", "*"))
        if groups.get("hour"):
            return _Found(match.start(), match.end(), ("0", "*"))
        n, unit = int(groups["n"]), groups["unit"].lower()
        if unit.startswith(("초", "s")):
            notes.append(
                "cron은 분 단위입니다: 초 간격은 쓸 수 없습니다 (cron has minute resolution)"
            )
            return None
        if unit.startswith(("분", "m")) and 1 <= n <= 59:
            return _Found(match.start(), match.end(), ("*" if n == 1 else f"*/{n}", "*"))
        if unit.startswith(("시", "h")) and 1 <= n <= 23:
            return _Found(match.start(), match.end(), ("0", "*" if n == 1 else f"*/{n}"))
        notes.append(
            f"간격 {match.group()!r}은 cron으로 표현할 수 없습니다 (interval out of range)"
        )
        return None
    return None


def _days(scan: Scanner) -> _Found | None:
    for pattern, dom, dow in _DAYS:
        match = scan.first(pattern)
        if match is not None:
            return _Found(match.start(), match.end(), (dom, dow))
    match = scan.first(_WEEKDAY)
    if match is not None:
        ko, en = match.group("ko"), match.group("en")
        day = _WEEKDAYS_KO[ko] if ko else _WEEKDAYS_EN[en.lower()]
        return _Found(match.start(), match.end(), ("*", str(day)))
    match = scan.first(_MONTHLY)
    if match is not None:
        day = int(match.group("dom") or match.group("dom2") or match.group("dom3"))
        if 1 <= day <= 31:
            return _Found(match.start(), match.end(), (str(day), "*"))
    return None


def _hour(hour: int, ampm: str | None) -> int | None:
    mark = (ampm or "").lower().replace(".", "")
    if mark in ("오후", "저녁", "밤", "pm"):
        hour = hour + 12 if hour < 12 else hour
    elif mark in ("오전", "am", "새벽", "아침") and hour == 12:
        hour = 0
    return hour if 0 <= hour <= 23 else None


def _time(scan: Scanner) -> _Found | None:
    for pattern in _TIMES:
        for match in scan.find(pattern):
            groups = match.groupdict()
            if groups.get("noon"):
                return _Found(match.start(), match.end(), ("0", "12"))
            if groups.get("midnight"):
                return _Found(match.start(), match.end(), ("0", "0"))
            hour = _hour(int(groups["h"]), groups.get("ampm"))
            minute = 30 if groups.get("half") else int(groups.get("m") or 0)
            if hour is not None and 0 <= minute <= 59:
                return _Found(match.start(), match.end(), (str(minute), str(hour)))
    return None


def _zone(scan: Scanner) -> _Found | None:
    for pattern, zone in _ZONES:
        match = scan.first(pattern)
        if match is not None:
            return _Found(match.start(), match.end(), (zone, ""))
    match = scan.first(_IANA)
    if match is not None:
        try:
            ZoneInfo(match.group("tz"))
        except (ZoneInfoNotFoundError, ValueError):
            return None
        return _Found(match.start(), match.end(), (match.group("tz"), ""))
    return None


def read_schedule(scan: Scanner) -> ScheduleFacts:
    """Claim the schedule phrases of ``scan`` that make one cron expression."""
    notes: list[str] = []
    every, days, time, zone = _every(scan, notes), _days(scan), _time(scan), _zone(scan)
    used: list[_Found] = []
    cron: str | None = None
    if every is not None:
        minute, hour = every.value
        dom, dow = days.value if days is not None else ("*", "*")
        cron = f"{minute} {hour} {dom} * {dow}"
        used += [f for f in (every, days) if f is not None]
        if time is not None:
            notes.append("간격과 시각을 함께 쓸 수 없습니다 (an interval and a time of day)")
    elif time is not None:
        minute, hour = time.value
        dom, dow = days.value if days is not None else ("*", "*")
        cron = f"{minute} {hour} {dom} * {dow}"
        used += [f for f in (time, days) if f is not None]
        if days is None:
            notes.append("요일 지정이 없어 매일 실행합니다 (no day given: every day)")
    elif days is not None:
        notes.append("실행 시각이 없습니다: 예) 오전 9시 (a day needs a time of day)")
    timezone = None
    if zone is not None and cron is not None:
        timezone = zone.value[0]
        used.append(zone)
    for found in used:
        scan.claim(found.start, found.end)
    return ScheduleFacts(cron=cron, timezone=timezone, notes=tuple(notes))
