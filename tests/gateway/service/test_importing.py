"""Reading import lines: each rule a document can break, named, with nothing stored yet."""

from __future__ import annotations

import orjson
import pytest

from gateway.service.importing import documents, parse_line
from gateway.store.bulk import Incoming, Rejected
from gateway.store.sql import ROBOT_ROW
from schema.codec import to_plain
from schema.events import fold, verify
from tests.support.imports import chained_line, mixed_lines, passport_line, write_lines


def parsed(doc) -> Incoming | Rejected:
    text = doc if isinstance(doc, bytes) else orjson.dumps(doc)
    return parse_line("in.ndjson", 7, text)


def rule(doc) -> str:
    result = parsed(doc)
    assert isinstance(result, Rejected), result
    assert result.line == 7 and result.source == "in.ndjson"
    return result.rule


@pytest.mark.parametrize("fmt", ["canonical", "cn-miit"])
def test_a_passport_and_its_events_are_chained_as_single_appends(fleet, fmt):
    history = fleet[4]
    result = parsed(passport_line(history, fmt))
    assert isinstance(result, Incoming)
    assert [e.sequence for e in result.events] == [e.sequence for e in history]
    assert [(e.at, e.type) for e in result.events] == [(e.at, e.type) for e in history]
    assert verify(result.events).verified
    assert {e.salt for e in result.events}.isdisjoint({e.salt for e in history})  # fresh salts
    assert result.passport.code == history[0].code


def test_a_chained_log_keeps_its_hashes(fleet):
    result = parsed(chained_line(fleet[5]))
    assert isinstance(result, Incoming)
    assert [e.hash for e in result.events] == [e.hash for e in fleet[5]]


def test_each_broken_rule_is_named(fleet):
    history = fleet[6]
    assert rule(b"{") == "json"
    assert rule(b'"a string"') == "shape"
    assert rule({"nothing": 1}) == "shape"
    assert rule({"code": history[0].code, "events": "x"}) == "shape"
    assert rule({**passport_line(history, "canonical"), "format": "aas"}) == "format"

    invalid = passport_line(history, "cn-miit")
    invalid["passport"] = {"not": "a cn-miit passport"}
    assert rule(invalid) == "passport"

    short = chained_line(history)
    short["code"] = short["code"][:20]
    assert rule(short) == "code.length"

    unknown = passport_line(history, "canonical")
    unknown["events"][0]["type"] = "TELEPORTED"
    assert rule(unknown) == "event"

    registered_twice = passport_line(history, "canonical")
    registered_twice["events"][0]["type"] = "REGISTERED"
    assert rule(registered_twice) == "event"

    cannot_apply = passport_line(history, "canonical")
    cannot_apply["events"].insert(
        0,
        {
            **cannot_apply["events"][0],
            "type": "DEPLOYMENT_ENDED",
            "payload": {"at": "2025-01-01T00:00:00Z", "operating_hours": 1.0},
        },
    )
    result = parsed(cannot_apply)
    assert isinstance(result, Rejected) and result.rule == "event"
    assert "sequence 2" in result.message and "no open deployment" in result.message

    foreign = chained_line(history)
    foreign["events"][1]["code"] = fleet[7][0].code
    assert rule(foreign) == "event"

    dropped = chained_line(history)
    del dropped["events"][2]
    result = parsed(dropped)
    assert isinstance(result, Rejected) and result.rule == "chain"
    assert "sequence 3" in result.message


def test_workers_check_lines_as_this_process_does_in_input_order(fleet, tmp_path):
    """More lines than the workers' window of tasks, two inputs, blank and bad lines between."""
    lines = mixed_lines(fleet) * 3
    lines[5], lines[70], lines[150] = b"{", b"", b'{"code": "CN"}'
    first = write_lines(tmp_path / "a.ndjson", lines)
    second = write_lines(tmp_path / "b.ndjson", mixed_lines(fleet[:4]))

    def read(workers: int) -> list:
        with first.open("rb") as a, second.open("rb") as b:
            return list(documents([(str(first), a), (str(second), b)], workers=workers))

    alone, pooled = read(1), read(2)
    assert len(alone) == len(lines) - 1 + 4
    where = lambda items: [(name, item.line) for name, item in items]  # noqa: E731
    assert where(pooled) == where(alone)
    for (_, mine), (_, theirs) in zip(alone, pooled, strict=True):
        assert type(mine) is type(theirs)
        if isinstance(mine, Rejected) or mine.line % 3 == 1:  # refused, or a chained log
            assert mine == theirs
        else:  # chained afresh: new salts and hashes, the same content and fold
            assert mine.content() == theirs.content()
            head_hash = ROBOT_ROW.index("head_hash")
            assert mine.robot_row[:head_hash] == theirs.robot_row[:head_hash]
            assert mine.robot_row[head_hash + 1 :] == theirs.robot_row[head_hash + 1 :]
    rejected = [(item.line, item.rule) for _, item in pooled if isinstance(item, Rejected)]
    assert rejected == [(6, "json"), (151, "code.length")]


def test_rows_read_back_as_the_log_and_its_fold(fleet):
    result = parsed(chained_line(fleet[8]))
    assert isinstance(result, Incoming)
    assert result.events == fleet[8]
    assert to_plain(result.passport) == to_plain(fold(fleet[8]))
    assert result.robot_row[7] is None  # the time it is stored is the store's to say
