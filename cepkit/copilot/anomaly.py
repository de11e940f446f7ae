"""Anomaly phrases: "이상치", "anomaly", "z-score 3 넘으면", "3 시그마", "IQR 2배", "EMA".

A method name alone also asks for an anomaly rule. Parameters not written keep the
detector's defaults (the rule model's), and a note says so.

>>> from cepkit.copilot.scanner import Scanner
>>> read_anomaly(Scanner("응답시간 z-score가 3 넘으면"))
AnomalyFacts(method='zscore', threshold=3.0, multiplier=None, alpha=None, window=None, subject=None)
>>> read_anomaly(Scanner("IQR 2배 이상치")).multiplier
2.0
>>> read_anomaly(Scanner("CPU 90% 이상 감지되면")) is None
True
"""

from __future__ import annotations

import re

from cepkit.copilot.facts import AnomalyFacts
from cepkit.copilot.scanner import Scanner

__all__ = ["read_anomaly"]

_KEYWORD = (
    r"이상\s*치|이상\s*(?:탐지|감지|징후|값)|비정상|"
    r"(?<![A-Za-z])(?:anomal(?:y|ies|ous)|outliers?)(?![A-Za-z])"
)
_AFTER = (
    r"(?:가|이|값이|값)?\s*(?:(?:>=|>|above|over|exceeds?|of|=)\s*)?"
    r"(?:(?P<num>\d+(?:\.\d+)?)(?:\s*(?:을|를))?(?:\s*(?:넘|초과|이상)[가-힣]*)?)?"
)
_METHODS = (
    ("zscore", r"(?:z\s*-?\s*score|zscore|z\s*점수|표준\s*점수)" + _AFTER, "threshold"),
    (
        "zscore",
        r"(?P<num>\d+(?:\.\d+)?)\s*(?:시그마|sigma|σ)(?![A-Za-z])"
        r"(?:\s*(?:를|을)?\s*(?:넘|초과|이상)[가-힣]*)?",
        "threshold",
    ),
    (
        "iqr",
        r"(?<![A-Za-z])(?:IQR|사분위(?:\s*범위)?)(?![A-Za-z])"
        r"(?:\s*(?:with\s+)?(?:k\s*=\s*)?(?P<num>\d+(?:\.\d+)?)\s*(?:배|x|times)?)?",
        "multiplier",
    ),
    (
        "ema",
        r"(?<![A-Za-z])(?:EMA|지수\s*이동\s*평균)(?![A-Za-z])"
        r"(?:\s*(?:alpha|α)\s*=?\s*(?P<num>0?\.\d+|1(?:\.0+)?))?",
        "alpha",
    ),
    ("mad", r"(?<![A-Za-z])MAD(?![A-Za-z])" + _AFTER, "threshold"),
)
_BASELINE = (
    r"(?:최근\s*)?(?P<num>\d+)\s*(?:개|건)\s*(?:샘플|데이터|값)?\s*(?:기준|대비)|"
    r"(?:(?:over|in|for)\s+)?(?:the\s+)?(?:last|past)\s+(?P<num2>\d+)\s+(?:samples|points|values|readings)"
)


def _keyword(scan: Scanner) -> re.Match[str] | None:
    for match in scan.find(_KEYWORD):
        before = scan.text[: match.start()].rstrip()
        if match.group().startswith("이상") and before[-1:] in tuple("0123456789%초s"):
            continue  # "90% 이상 감지": a comparison, not an anomaly
        return match
    return None


def read_anomaly(scan: Scanner) -> AnomalyFacts | None:
    """Claim the anomaly phrases; None when the sentence asks for no anomaly rule."""
    keyword = _keyword(scan)
    method: str | None = None
    params: dict[str, float] = {}
    for name, pattern, param in _METHODS:
        match = scan.first(pattern)
        if match is None or (method is not None and method != name):
            continue
        method = name
        if match.group("num"):
            params[param] = float(match.group("num"))
        scan.claim(match.start(), match.end())
    if keyword is None and method is None:
        return None
    if keyword is not None:
        scan.claim(keyword.start(), keyword.end())
    window: int | None = None
    baseline = scan.first(_BASELINE)
    if baseline is not None:
        window = int(baseline.group("num") or baseline.group("num2"))
        scan.claim(baseline.start(), baseline.end())
    return AnomalyFacts(
        method=method,
        threshold=params.get("threshold"),
        multiplier=params.get("multiplier"),
        alpha=params.get("alpha"),
        window=window,
    )
