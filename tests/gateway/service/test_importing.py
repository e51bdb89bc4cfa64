"""Reading import lines: each rule a document can break, named, with nothing stored yet."""

from __future__ import annotations

import orjson
import pytest

from gateway.service.importing import parse_line
from gateway.store.bulk import Incoming, Rejected
from schema.events import verify
from tests.support.imports import chained_line, passport_line


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
