"""The ingest journal: appends, checkpoints, trimming in small transactions, and its file
beside a SQLite store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from cepkit.clock import FakeClock
from cepkit.store import Journal, create_store
from cepkit.store.sql import INGEST_PAGE_SIZE


def test_trim_deletes_up_to_the_checkpoint_in_chunks_and_keeps_the_rest() -> None:
    store = create_store("sqlite:///:memory:", clock=FakeClock())
    journal = Journal(store.engine)
    seqs = [journal.append_batch([{"i": i}], received_at=float(i)) for i in range(10)]
    journal.checkpoint(seqs[6], {"n": 7}, trim=False)
    assert len(journal.recover().entries) == 3  # recovery starts after the checkpoint anyway
    assert journal.trim(seqs[6], rows=3) == 7  # three transactions of 3, 3 and 1 rows
    assert journal.trim(seqs[6], rows=3) == 0
    recovery = journal.recover()
    assert recovery.seq == seqs[6] and recovery.state == {"n": 7}
    assert [list(e.events) for e in recovery.entries] == [[{"i": 7}], [{"i": 8}], [{"i": 9}]]
    journal.checkpoint(seqs[-1], {"n": 10})  # trims by default
    assert journal.recover().entries == [] and journal.trim(seqs[-1]) == 0
    store.close()


def test_a_batch_keeps_the_text_it_was_given() -> None:
    store = create_store("sqlite:///:memory:", clock=FakeClock())
    journal = Journal(store.engine)
    journal.append_batch([{"a": 1.0}], received_at=1.0, text='[{"a": 1.0}]')
    journal.append_batch([{"b": 2}], received_at=2.0)
    assert [list(e.events) for e in journal.recover().entries] == [[{"a": 1.0}], [{"b": 2}]]
    store.close()


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master")}


def _page_size(path: Path) -> int:
    with sqlite3.connect(path) as db:
        size: int = db.execute("PRAGMA page_size").fetchone()[0]
        return size


def test_a_sqlite_file_keeps_its_journal_in_a_file_beside_it(tmp_path: Path) -> None:
    store = create_store(tmp_path / "cepkit.db", clock=FakeClock())
    journal = Journal(store.engine)
    seq = journal.append_batch([{"cpu": 91}], received_at=1.0)
    journal.checkpoint(seq, {"rules": {}}, trim=False)
    store.close()
    ingest = tmp_path / "cepkit.db-ingest"
    assert store.ingest_path == ingest
    assert {"ingest_journal", "runner_checkpoints"} <= _tables(ingest)
    assert not {"ingest_journal", "runner_checkpoints"} & _tables(tmp_path / "cepkit.db")
    assert (_page_size(ingest), _page_size(tmp_path / "cepkit.db")) == (INGEST_PAGE_SIZE, 4096)
    again = create_store(tmp_path / "cepkit.db", clock=FakeClock())
    assert Journal(again.engine).recover().seq == seq
    again.close()


def test_a_journal_kept_in_the_database_moves_beside_it_with_its_seq(tmp_path: Path) -> None:
    """An earlier cepkit kept the journal in the SQLite file itself: the next start moves
    the checkpoint and the entries after it, and seq goes on from where it was."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE ingest_journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "kind VARCHAR(8) NOT NULL, at FLOAT NOT NULL, tenant VARCHAR(64) NOT NULL, "
            "body TEXT NOT NULL);"
            "CREATE TABLE runner_checkpoints (name VARCHAR(64) PRIMARY KEY, "
            "seq INTEGER NOT NULL, state TEXT NOT NULL);"
        )
        for i in range(1, 7):
            db.execute(
                "INSERT INTO ingest_journal (kind, at, tenant, body) VALUES (?, ?, ?, ?)",
                ("batch", float(i), "default", json.dumps([{"i": i}])),
            )
        db.execute("DELETE FROM ingest_journal WHERE seq <= 3 OR seq = 6")  # trimmed; 6 gone
        db.execute("INSERT INTO runner_checkpoints VALUES ('live', 3, '{\"rules\": {}}')")
    store = create_store(path, clock=FakeClock())
    journal = Journal(store.engine)
    recovery = journal.recover()
    assert recovery.seq == 3 and recovery.state == {"rules": {}}
    assert [(e.seq, list(e.events)) for e in recovery.entries] == [(4, [{"i": 4}]), (5, [{"i": 5}])]
    assert journal.append_tick(7.0) == 7  # after the 6 the old file had handed out
    store.close()
    assert not {"ingest_journal", "runner_checkpoints"} & _tables(path)
    again = create_store(path, clock=FakeClock())  # nothing left to move: the same journal
    assert Journal(again.engine).recover().seq == 3
    again.close()


def test_the_journal_of_a_database_that_is_gone_is_not_replayed(tmp_path: Path) -> None:
    path = tmp_path / "cepkit.db"
    store = create_store(path, clock=FakeClock())
    Journal(store.engine).append_batch([{"cpu": 91}], received_at=1.0)
    store.close()
    for leftover in tmp_path.glob("cepkit.db*"):
        if not leftover.name.startswith("cepkit.db-ingest"):
            leftover.unlink()  # the database is deleted; its ingest file stays behind
    fresh = create_store(path, clock=FakeClock())
    recovery = Journal(fresh.engine).recover()
    assert (recovery.seq, list(recovery.entries)) == (0, [])
    fresh.close()
