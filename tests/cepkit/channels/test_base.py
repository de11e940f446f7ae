"""HTTP status classification shared by the HTTP senders."""

from __future__ import annotations

import pytest

from cepkit.channels.base import outcome_for_status, url_secrets


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(200, None), (204, None), (400, False), (401, False), (403, False), (404, False),
     (408, True), (409, False), (410, False), (425, True), (429, True), (500, True),
     (502, True), (503, True), (504, True), (599, True)],
)  # fmt: skip
def test_what_is_retried(status: int, retryable: bool | None) -> None:
    outcome = outcome_for_status(status)
    if retryable is None:
        assert outcome.ok and outcome.error is None
    else:
        assert not outcome.ok and outcome.retryable is retryable
        assert outcome.error is not None and outcome.error.startswith(f"HTTP {status}: ")


def test_url_secrets() -> None:
    assert url_secrets("https://example.com/a") == []
    assert url_secrets("https://u:p4ss@example.com/a?sig=xyz&v=1") == ["p4ss", "xyz", "1"]
