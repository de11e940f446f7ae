"""The phrasebook, sentence by sentence, and the share of it the Copilot drafts exactly."""

from __future__ import annotations

import re

import pytest

from cepkit.copilot import draft
from cepkit.plan import check_rule
from tests.cepkit.copilot.conftest import SHARE_KEY
from tests.cepkit.copilot.phrasebook import CASES, Case, canonical, report

HANGUL = re.compile(r"[가-힣]")


def test_the_phrasebook_has_at_least_40_sentences_in_each_language() -> None:
    korean = [case for case in CASES if HANGUL.search(case.text)]
    english = [case for case in CASES if not HANGUL.search(case.text)]
    assert len(CASES) >= 40
    assert len(korean) >= 20 and len(english) >= 15
    assert len({case.text for case in CASES}) == len(CASES)
    assert sum(case.status == "needs_input" for case in CASES) >= 8


@pytest.mark.parametrize("case", CASES, ids=[case.text[:48] for case in CASES])
def test_each_sentence_gives_its_exact_draft(case: Case) -> None:
    result = draft(case.text)
    assert result.type == "cep_draft"
    assert (result.status, result.unparsed) == (case.status, list(case.unparsed)), result.notes
    if case.note is not None:
        assert any(case.note in note for note in result.notes), result.notes
    if case.rule is not None:
        assert result.rule == canonical(case.rule, result)
    if result.status == "ready":
        # ready means the rule model and the engine accept it, as drafted
        assert check_rule(result.rule).to_document() == result.rule
        assert result.rule["description"] == case.text.strip()


def test_share_parsed_exactly_is_reported_and_complete(request: pytest.FixtureRequest) -> None:
    hits, total, misses = report()
    request.config.stash[SHARE_KEY] = (hits, total)
    assert (hits, misses) == (len(CASES), []), f"{hits}/{total} sentences drafted exactly"
