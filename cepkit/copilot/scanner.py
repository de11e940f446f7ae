"""A sentence being read: phrases are claimed as they are understood; the rest is unparsed.

Claimed characters become ``\\x00`` in the working copy, so later patterns never match
them again and two phrases never share a character. What is left, minus filler words
(particles, "알림 보내줘", "please"), is returned as the exact fragments of the original.

>>> scan = Scanner("CPU가 90% 넘으면 바나나 보내줘")
>>> [m.group() for m in scan.take(r"CPU가 90% 넘으면")]
['CPU가 90% 넘으면']
>>> scan.leftovers()
['바나나']
>>> Scanner("mail ops@example.com. 그리고 10:30: 바나나, 사과").leftovers()
['mail ops@example.com', '10:30', '바나나', '사과']
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from cepkit.copilot.lexicon import is_filler

__all__ = ["Scanner"]

#: a word: no blanks, claimed characters, brackets, quotes or list punctuation; dots and
#: colons inside it stay (``ops@example.com``, ``10:30``), at its ends they are trimmed
_TOKEN = re.compile(r"[^\s\x00,!?;()\[\]{}<>~…·\"'“”‘’`]+")
_TRIM = ".:。"


class Scanner:
    """The original text and a working copy in which claimed phrases are blanked."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._work = text.replace("\x00", " ")  # NUL marks claimed text; the user's is a blank

    def find(self, pattern: str) -> Iterator[re.Match[str]]:
        """Matches of ``pattern`` (case-insensitive) in what is not claimed yet."""
        return re.finditer(pattern, self._work, re.IGNORECASE)

    def first(self, pattern: str) -> re.Match[str] | None:
        """The first match of ``pattern`` in what is not claimed yet."""
        return re.search(pattern, self._work, re.IGNORECASE)

    def claim(self, start: int, end: int) -> None:
        """Mark ``text[start:end]`` as understood."""
        if end > start:
            self._work = self._work[:start] + "\x00" * (end - start) + self._work[end:]

    def take(self, pattern: str) -> list[re.Match[str]]:
        """Every match of ``pattern``, each claimed (matches are found before claiming)."""
        matches = [m for m in self.find(pattern) if m.end() > m.start()]
        for match in matches:
            self.claim(match.start(), match.end())
        return matches

    def original(self, start: int, end: int) -> str:
        """The original text of a span."""
        return self.text[start:end]

    def leftovers(self) -> list[str]:
        """The unclaimed, non-filler fragments, exactly as written, in order.

        Neighbouring words separated only by blanks form one fragment.
        """
        spans: list[list[int]] = []
        for token in _TOKEN.finditer(self._work):
            word = token.group()
            start = token.start() + len(word) - len(word.lstrip(_TRIM))
            end = token.end() - (len(word) - len(word.rstrip(_TRIM)))
            if end <= start or is_filler(self._work[start:end]):
                continue
            if spans and not self._work[spans[-1][1] : start].strip(" \t"):
                spans[-1][1] = end
            else:
                spans.append([start, end])
        return [self.text[start:end] for start, end in spans]
