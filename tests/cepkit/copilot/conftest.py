"""Reports the Copilot phrasebook's exact-parse share in the pytest summary."""

from __future__ import annotations

import pytest
from _pytest.terminal import TerminalReporter

SHARE_KEY = pytest.StashKey[tuple[int, int]]()


def pytest_terminal_summary(terminalreporter: TerminalReporter, config: pytest.Config) -> None:
    share = config.stash.get(SHARE_KEY, None)
    if share is not None:
        hits, total = share
        terminalreporter.write_line(
            f"copilot phrasebook: {hits}/{total} sentences drafted exactly "
            f"({100 * hits / total:.1f}%)"
        )
