"""`store_batch` with one robot more than once in a batch, on both backends.

`run_import` never sends a batch like that (it stores the batch first), but a
batch that does must still store the robot once: a repeat with the same history
is kept, one with another history is a clash, compared with the copy the batch
itself added (read from its rows only when a repeat needs it).
"""

from __future__ import annotations

from dataclasses import replace

from gateway.store import Store
from gateway.store.bulk import Incoming
from schema.events import fold, rechain
from tests.support.stores import empty_store, outside

__all__ = ["empty_store"]


def incoming(events) -> Incoming:
    passport = fold(events)
    assert passport is not None
    return Incoming.of(1, events, passport)


def test_a_repeat_in_one_batch_is_kept_or_clashes_with_the_copy_before_it(
    empty_store: Store, fleet
) -> None:
    history = fleet[8]
    again = rechain(history)  # the same content, other salts and hashes: kept
    other = rechain([*history[:-1], replace(history[-1], at=history[-1].at.replace(year=2031))])
    batch = [incoming(history), incoming(fleet[9]), incoming(again), incoming(other)]
    done = empty_store.store_batch(batch)
    assert (done.added, done.kept, done.clashes) == ([0, 1], [2], [3])
    code = history[0].code
    rows = outside(empty_store, "SELECT hash FROM events WHERE code = ? ORDER BY sequence", (code,))
    assert [row[0] for row in rows] == [e.hash for e in history]
