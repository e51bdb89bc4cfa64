"""How an event joins a robot's log: chained onto the head, stored, folded into the snapshot.

A single write (`Store.append`) and a condition batch
(`TelemetryStore.ingest_conditions`) both append through `append_event`, inside
their own transaction, so the steps that keep the snapshot and the log in
agreement are written once: lock the robot's row, read its head and passport,
apply the event, chain it, insert it (re-keying the robot's events when its owner
changed), update the row and the robot's campaign rows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from gateway.store import campaign_rows
from gateway.store.errors import EventRejected, UnknownRobot
from gateway.store.sql import (
    INSERT_EVENT,
    REKEY_EVENTS,
    UPDATE_ROBOT,
    Db,
    event_row,
    owner_key,
    robot_row,
)
from schema.codec import format_datetime, from_plain
from schema.events import Event, EventType, apply_in_place, chain
from schema.passport import Passport

Compose = Callable[[Passport], tuple[dict[str, Any], datetime]]
"""Given the passport as it stands under the row lock: the event's payload and time.

It may refuse the write by raising; it must not change the passport."""


def append_event(
    db: Db,
    code: str,
    type: EventType,
    compose: Compose,
    *,
    registry: str,
    lock_row: str,
    key: str | None,
    recorded: str | None = None,
    lock_feed: Callable[[Db], None] | None = None,
    locked: tuple[int, str, Passport] | None = None,
) -> tuple[Event, Passport]:
    """Append one event of `type` to robot `code` in the open transaction `db`.

    The robot's row is read with `lock_row` (the backend's row lock), so two
    writers of one robot take turns instead of both chaining onto one head.
    `lock_feed`, when given, runs just before the insert (a single write takes
    the feed lock after its row lock; a batch took it before its first robot).
    `locked` is the robot's head and a fresh copy of its passport when the caller
    already read them under `lock_row` in this transaction (a campaign's batch):
    decoding a passport is most of an append's cost. Returns the event and the
    passport it made.
    """
    if locked is None:
        found = db.execute(
            "SELECT head_sequence, head_hash, snapshot FROM robots WHERE code = ?" + lock_row,
            (code,),
        ).fetchone()
        if found is None:
            raise UnknownRobot(f"no robot {code} in registry {registry}")
        sequence, prev, snapshot = found
        passport = from_plain(Passport, orjson.loads(snapshot))
    else:
        sequence, prev, passport = locked
    payload, at = compose(passport)
    before = owner_key(passport)
    try:
        passport = apply_in_place(passport, type, payload)
    except ValueError as exc:  # an EventError is a ValueError too
        raise EventRejected(str(exc)) from None
    event = chain(code, sequence + 1, at, type, payload, prev)
    recorded = recorded or format_datetime(datetime.now(UTC))
    if lock_feed is not None:
        lock_feed(db)
    after = owner_key(passport)
    if after != before:
        # The feed filtered by owner means the robot's owner now: its earlier events
        # move to the new owner's feed (and leave the old one's) with this commit.
        db.execute(REKEY_EVENTS, (*after, code))
    db.execute(INSERT_EVENT, (*event_row(event, recorded, key), *after))
    db.execute(UPDATE_ROBOT, robot_row(passport, event, recorded))
    campaign_rows.refresh(db, passport)
    if type in (EventType.END_OF_LIFE, EventType.STATUS_CHANGED):
        campaign_rows.reach_ended(db, passport)
    return event, passport
