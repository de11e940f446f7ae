"""``cepkit flow``: arguments checked before anything runs."""

from __future__ import annotations

import pytest

from cepkit.cli import main


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rules", "no/such/pack"], "no/such/pack: no such file or folder"),
        (["--rules", "data/rules/pack", "-w", "0"], "--workers must be at least 1"),
        (["--rules", "data/rules/pack", "-i", "0"], "-i/--process-id and -a/--addresses go"),
        (["--rules", "data/rules/pack", "--epoch-seconds", "0"], "--epoch-seconds must be"),
    ],
)
def test_bad_arguments_are_named(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["flow", "--redis", "redis://127.0.0.1:1/0", *extra]) == 2
    assert message in capsys.readouterr().out


def test_rules_come_from_a_pack_or_a_database() -> None:
    with pytest.raises(SystemExit):
        main(["flow", "--redis", "redis://127.0.0.1:1/0"])
