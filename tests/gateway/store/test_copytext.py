"""Events as `COPY` text lines (`gateway.store.copytext`): what any value becomes, and back.

The lines are what PostgreSQL's `COPY` reads and what SQLite's bulk path splits
back into rows, so a value a line mangled would be stored wrong on both: tabs,
newlines, backslashes and the text `\\N` (NULL's spelling) in a payload or an
owner's name must come back as they went in, from the database itself.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.store import Store, copytext
from gateway.store.bulk import Incoming
from gateway.store.sql import EVENT_COLUMNS, event_row, robot_row
from schema.events import EventType, fold, rechain, verify
from tests.support.stores import empty_store, outside

__all__ = ["empty_store"]

ODD = 'tab\there, back\\slash, \\N, "quoted"\nnew line\r\x01 end'


@pytest.mark.parametrize("value", [None, "", "plain", "\\N", ODD, "中文\\t"])
def test_a_value_reads_back_as_it_was(value):
    line = f"{copytext.field(value)}\t{copytext.field('x')}".encode()
    assert copytext.row_of(line, ("note", "other")) == (value, "x")


def test_a_line_is_one_line_of_the_columns_whatever_the_values():
    field = copytext.field(ODD)
    assert "\t" not in field and "\n" not in field and "\r" not in field


def odd_history(fleet) -> list:
    """A robot whose maintenance notes hold every character COPY text escapes."""
    history = fleet[3]
    at = next(i for i, e in enumerate(history) if e.type is EventType.MAINTENANCE_RECORDED)
    odd = replace(history[at], payload={**history[at].payload, "notes": ODD})
    return rechain([*history[:at], odd, *history[at + 1 :]])


def test_odd_values_are_stored_as_given_on_both_backends(empty_store: Store, fleet) -> None:
    history = odd_history(fleet)
    passport = fold(history)
    assert passport is not None
    incoming = Incoming.of(1, history, passport)
    assert incoming.event_rows == tuple(event_row(e, "", None)[:10] for e in history)
    assert empty_store.store_batch([incoming]).added == [0]
    rows = outside(
        empty_store,
        f"SELECT {EVENT_COLUMNS}, idempotency_key FROM events WHERE code = ? ORDER BY sequence",
        (history[0].code,),
    )
    assert [tuple(r) for r in rows] == [(*event_row(e, "", None)[:10], None) for e in history]
    stored = empty_store.events(history[0].code)
    assert verify(stored).verified
    assert any(e.payload.get("notes") == ODD for e in stored)


def test_a_robot_line_reads_back_as_the_robot_row(fleet) -> None:
    """The robot's line is `sql.robot_row` without the time the store stamps, value for
    value: a column out of order would store an owner as a status."""
    history = odd_history(fleet)
    passport = fold(history)
    assert passport is not None
    incoming = Incoming.of(1, history, passport)
    assert incoming.robot_row == robot_row(passport, history[-1], None)
