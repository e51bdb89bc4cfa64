"""The SQL and the row encoding both store backends share.

Statements use `?` placeholders (the PostgreSQL store translates them). Times,
payloads and snapshots are stored as the text the hash covers, so a row reads
back as exactly the event that was hashed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import orjson

from schema.codec import format_datetime, parse_datetime, to_plain
from schema.events import Event, EventType, canonical_json
from schema.passport import Passport
from schema.source import RobotFilter


class Db(Protocol):
    """The slice of a DB-API connection the store uses, with `?` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any: ...


EVENT_COLUMNS = "code, sequence, at, type, payload, prev_hash, hash, scheme, salt, commitment"


def dumps(value: Any) -> str:
    return canonical_json(value).decode()


INSERT_EVENT = (
    "INSERT INTO events (code, sequence, at, type, payload, prev_hash, hash, scheme, salt,"
    " commitment, recorded_at, idempotency_key, owner, owner_id, position) VALUES (?, ?, ?, ?,"
    " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
    " (SELECT COALESCE(MAX(position), 0) + 1 FROM events))"
)
"""Takes `event_row` followed by `owner_key` of the passport the event leads to."""

REKEY_EVENTS = "UPDATE events SET owner = ?, owner_id = ? WHERE code = ?"
"""Give all of a robot's events its new current owner (`owner_key`), in the transaction
that changed it: the feed filtered by owner selects on these columns (`FEED_OWNER`)."""

FEED_OWNER = ("owner", "owner_id")
"""The filter columns every event row carries as its robot's current value, so one
owner's feed is a range of an (owner, position) or (owner_id, position) index
(migration 0009) instead of a walk of the whole feed joined to robots."""

OwnerKey = tuple[str | None, str | None]


def owner_key(passport: Passport) -> OwnerKey:
    """The robot's current owner and owner id, as robots and events store them."""
    current = passport.current_owner
    return (current.owner, current.owner_id) if current else (None, None)


def event_row(
    event: Event, recorded: str, key: str | None, payload: str | None = None
) -> tuple[Any, ...]:
    """An event as the columns of INSERT_EVENT: the text stored is the text hashed.

    `payload` is that text when the caller already has it (`dumps(event.payload)`).
    """
    return (
        event.code,
        event.sequence,
        format_datetime(event.at),
        event.type.value,
        dumps(event.payload) if payload is None else payload,
        event.prev_hash,
        event.hash,
        event.scheme,
        event.salt,
        event.commitment,
        recorded,
        key,
    )


ROBOT_ROW = (
    "manufacturer",
    "category",
    "status",
    "owner",
    "owner_id",
    "head_sequence",
    "head_hash",
    "updated_at",
    "snapshot",
    "registry",
    "code",
)
"""The columns of `robot_row`, in its order."""
INSERT_ROBOT = (
    f"INSERT INTO robots ({', '.join(ROBOT_ROW)}) VALUES ({', '.join('?' * len(ROBOT_ROW))})"
)
UPDATE_ROBOT = (
    "UPDATE robots SET manufacturer = ?, category = ?, status = ?, owner = ?, owner_id = ?,"
    " head_sequence = ?, head_hash = ?, updated_at = ?, snapshot = ?, registry = ? WHERE code = ?"
)


def robot_row(passport: Passport, head: Event, now: str | None) -> tuple[Any, ...]:
    """A passport and the head of its log as the columns of INSERT_ROBOT and UPDATE_ROBOT."""
    owner, owner_id = owner_key(passport)
    return (
        passport.manufacturer.name,
        passport.model.category,
        passport.identity.status.value,
        owner,
        owner_id,
        head.sequence,
        head.hash,
        now,
        dumps(to_plain(passport)),
        passport.identity.home_registry,
        passport.code,
    )


def with_limit(sql: str, params: Sequence[Any], limit: int | None) -> tuple[str, list[Any]]:
    """Add a LIMIT when there is one: the dialects spell "no limit" differently."""
    if limit is None:
        return sql, list(params)
    return sql + " LIMIT ?", [*params, limit]


def row_event(row: tuple[Any, ...]) -> Event:
    """A row of EVENT_COLUMNS as an Event; a row that does not parse raises ValueError."""
    code, sequence, at, type, payload, prev, hash_, scheme, salt, commitment = row
    return Event(
        code,
        sequence,
        parse_datetime(at),
        EventType(type),
        orjson.loads(payload),
        prev,
        hash_,
        int(scheme),
        salt,
        commitment,
    )


def filter_sql(where: RobotFilter) -> tuple[list[str], list[Any]]:
    """WHERE clauses and their parameters for the filters that are set."""
    clauses, params = [], []
    for column in ("manufacturer", "category", "status", "owner", "owner_id", "registry"):
        value = getattr(where, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if where.campaign is not None or where.campaign_states or where.campaign_countries:
        # The campaign's rows by its primary key (campaign_id, code): the robots it
        # reached, in the state and owner country asked for (without a campaign: under
        # any campaign, which a registry node's API allows and the gateway never asks).
        conditions = ["campaign_id = ?"] if where.campaign is not None else []
        values: list[Any] = [where.campaign] if where.campaign is not None else []
        for column, given in (
            ("state", where.campaign_states),
            ("country", where.campaign_countries),
        ):
            if given:
                conditions.append(f"{column} IN ({', '.join('?' * len(given))})")
                values.extend(given)
        inner = " AND ".join(conditions)
        clauses.append(f"code IN (SELECT code FROM campaign_robots WHERE {inner})")
        params.extend(values)
    return clauses, params
