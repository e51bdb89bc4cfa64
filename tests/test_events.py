"""The hash-chained event log and the fold."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from schema.codec import DecodeError, from_plain, to_plain
from schema.events import (
    GENESIS,
    EventError,
    EventType,
    apply,
    apply_in_place,
    chain,
    fold,
    payload_of,
    verify,
)
from schema.passport import MaintenanceKind, MaintenanceRecord, Passport

RECORD = MaintenanceRecord(
    datetime(2026, 1, 1, tzinfo=UTC), MaintenanceKind.INSPECTION, "body", None, "x", 1.0, None
)


def test_fleet_chains_verify_and_fold(fleet):
    for events in fleet:
        report = verify(events)
        assert report.verified, report
        assert report.head_hash == events[-1].hash
        assert fold(events).identity.code == events[0].code


@pytest.mark.parametrize("field", ["payload", "at", "type", "prev_hash", "sequence"])
def test_altering_any_part_of_an_event_is_detected(fleet, field):
    events = list(fleet[0])
    k = len(events) // 2
    victim = events[k]
    changed = {
        "payload": {**victim.payload, "tampered": True},
        "at": victim.at + timedelta(seconds=1),
        "type": EventType.STATUS_CHANGED
        if victim.type is not EventType.STATUS_CHANGED
        else EventType.CERTIFIED,
        "prev_hash": GENESIS,
        "sequence": victim.sequence + 1,
    }[field]
    events[k] = dataclasses.replace(victim, **{field: changed})
    report = verify(events)
    assert not report.verified
    assert report.first_bad == victim.sequence


def test_dropping_an_event_is_detected(fleet):
    events = list(fleet[1])
    del events[3]
    assert verify(events).first_bad == 4


def test_as_of_fold_ignores_later_events(fleet):
    events = max(fleet, key=len)
    middle = events[len(events) // 2].at
    past = fold(events, until=middle)
    now = fold(events)
    assert len(past.maintenance) <= len(now.maintenance)
    assert all(m.at <= middle for m in past.maintenance)
    assert fold(events, until=events[0].at - timedelta(days=1)) is None


def test_events_must_follow_registration(fleet):
    payload = payload_of(EventType.MAINTENANCE_RECORDED, RECORD)
    with pytest.raises(EventError, match="before REGISTERED"):
        apply(None, EventType.MAINTENANCE_RECORDED, payload)
    registered = fold(fleet[0][:1])
    with pytest.raises(EventError, match="already registered"):
        apply(registered, EventType.REGISTERED, fleet[0][0].payload)


def test_apply_does_not_modify_its_input(fleet):
    passport = fold(fleet[0][:1])
    before = to_plain(passport)
    after = apply(passport, EventType.MAINTENANCE_RECORDED, to_plain(RECORD))
    assert to_plain(passport) == before
    assert after.maintenance[-1] == RECORD


def test_apply_in_place_gives_what_apply_gives(fleet):
    passport = fold(fleet[0][:1])
    expected = apply(passport, EventType.MAINTENANCE_RECORDED, to_plain(RECORD))
    assert apply_in_place(passport, EventType.MAINTENANCE_RECORDED, to_plain(RECORD)) is passport
    assert passport == expected
    with pytest.raises(EventError):
        apply_in_place(passport, EventType.REGISTERED, to_plain(passport))


def test_payload_type_is_checked():
    with pytest.raises(EventError):
        payload_of(EventType.MAINTENANCE_RECORDED, "not a record")


def test_event_hash_covers_canonical_json_only(fleet):
    e = fleet[0][0]
    again = chain(e.code, e.sequence, e.at, e.type, dict(reversed(e.payload.items())), e.prev_hash)
    assert again.hash == e.hash


def test_codec_round_trips_and_names_the_path(fleet):
    passport = fold(fleet[2])
    plain = to_plain(passport)
    assert from_plain(Passport, plain) == passport
    plain["maintenance"] = [{"at": "yesterday"}]
    with pytest.raises(DecodeError) as err:
        from_plain(Passport, plain)
    assert err.value.path == "/maintenance/0/at"
    record = to_plain(RECORD)
    with pytest.raises(DecodeError, match="date-time with offset"):
        from_plain(MaintenanceRecord, {**record, "at": "2026-01-01T00:00:00"})


def test_codec_rejects_unknown_fields_and_bad_enums(fleet):
    plain = to_plain(fold(fleet[0]))
    with pytest.raises(DecodeError, match="unknown field 'colour'"):
        from_plain(Passport, {**plain, "colour": "red"})
    plain["identity"]["status"] = "BROKEN"
    with pytest.raises(DecodeError, match="not one of ACTIVE"):
        from_plain(Passport, plain)


def test_naive_datetimes_are_refused():
    from schema.codec import format_datetime

    with pytest.raises(ValueError, match="naive"):
        format_datetime(datetime(2026, 1, 1))
