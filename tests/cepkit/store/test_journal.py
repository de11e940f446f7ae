"""The ingest journal: appends, checkpoints and trimming in small transactions."""

from __future__ import annotations

from cepkit.clock import FakeClock
from cepkit.store import Journal, create_store


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
