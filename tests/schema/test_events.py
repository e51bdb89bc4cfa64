"""The hash-chained event log and the fold."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schema.codec import DecodeError, format_datetime, from_plain, to_plain
from schema.events import (
    GENESIS,
    LEGACY_SCHEME,
    SCHEME,
    ChainRecommitted,
    EventError,
    EventType,
    apply,
    apply_in_place,
    canonical_json,
    chain,
    commitment_of,
    fold,
    is_salt,
    payload_of,
    rechain,
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


@pytest.mark.parametrize("scheme", [SCHEME, LEGACY_SCHEME])
@pytest.mark.parametrize("field", ["payload", "at", "type", "prev_hash", "sequence"])
def test_altering_any_part_of_an_event_is_detected(fleet, field, scheme):
    events = rechain(fleet[0], scheme)
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
    reordered = dict(reversed(e.payload.items()))
    again = chain(e.code, e.sequence, e.at, e.type, reordered, e.prev_hash, salt=e.salt)
    assert again.hash == e.hash
    old = rechain(fleet[0][:1], LEGACY_SCHEME)[0]
    legacy = chain(e.code, 1, e.at, e.type, reordered, GENESIS, scheme=LEGACY_SCHEME)
    assert legacy.hash == old.hash


def test_scheme_2_salts_are_fresh_and_hide_the_content(fleet):
    """Two chainings of one history share no hash: nothing is derived from the content alone."""
    events = fleet[0]
    assert all(e.scheme == SCHEME and len(e.salt) == 32 for e in events)
    again = rechain(events)
    assert verify(again).verified
    assert {e.salt for e in events}.isdisjoint(e.salt for e in again)
    assert {e.hash for e in events}.isdisjoint(e.hash for e in again)
    assert {e.commitment for e in events}.isdisjoint(e.commitment for e in again)


@pytest.mark.parametrize("field", ["salt", "commitment", "hash"])
def test_altering_salt_or_commitment_is_detected(fleet, field):
    events = list(fleet[0])
    k = len(events) // 2
    victim = events[k]
    other = rechain(events)[k]
    events[k] = dataclasses.replace(victim, **{field: getattr(other, field)})
    report = verify(events)
    assert (report.verified, report.first_bad) == (False, victim.sequence)


def test_links_verify_without_salts_but_content_is_not_checked(fleet):
    """Who lacks the salt checks every link from the commitments, and nothing of the content."""
    bare = [dataclasses.replace(e, salt=None) for e in fleet[0]]
    assert verify(bare).verified
    k = len(bare) // 2
    bare[k] = dataclasses.replace(bare[k], payload={"guess": 1})
    assert verify(bare).verified
    missing = [dataclasses.replace(e, commitment=None) for e in fleet[0]]
    assert verify(missing).first_bad == 1


def test_a_chain_may_move_from_scheme_1_to_scheme_2(fleet):
    legacy = rechain(fleet[1], LEGACY_SCHEME)
    assert all((e.scheme, e.salt, e.commitment) == (1, None, None) for e in legacy)
    head = legacy[-1]
    body = payload_of(EventType.CHAIN_RECOMMITTED, ChainRecommitted(1, 2, len(legacy)))
    marker = chain(
        head.code, head.sequence + 1, head.at, EventType.CHAIN_RECOMMITTED, body, head.hash
    )
    mixed = [*legacy, marker]
    assert verify(mixed).verified
    assert fold(mixed) == fold(legacy)
    mixed[2] = dataclasses.replace(mixed[2], payload={**mixed[2].payload, "x": 1})
    assert verify(mixed).first_bad == 3


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


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(
    payload=st.dictionaries(st.text(), JSON, max_size=6),
    at=st.datetimes(timezones=st.just(UTC)),
    type_=st.sampled_from(EventType),
    salt=st.binary(min_size=16, max_size=16).map(bytes.hex),
)
def test_a_commitment_over_the_payloads_text_is_the_one_over_the_whole_body(
    payload, at, type_, salt
):
    """`commitment_of` splices the payload's canonical JSON (made once by an import) into
    the body; the bytes hashed are those of encoding the body whole."""
    body = {"at": format_datetime(at), "type": type_.value, "payload": payload}
    whole = hashlib.sha256(bytes.fromhex(salt) + canonical_json(body)).hexdigest()
    assert commitment_of(salt, at, type_, payload) == whole
    assert commitment_of(salt, at, type_, payload, text=canonical_json(payload)) == whole


def test_a_salt_is_32_lowercase_hex_digits():
    assert is_salt("0123456789abcdef" * 2)
    for bad in ("0123456789ABCDEF" * 2, "0" * 31, "0" * 33, "0" * 31 + "g", "0" * 32 + "\n", 7):
        assert not is_salt(bad)
