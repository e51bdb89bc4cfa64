"""The registry store: robots, their hash-chained event logs and current snapshots.

SQLite by default, in WAL mode. Every write folds the new events into the
snapshot and appends them in one transaction, so the snapshot never disagrees
with the log. The SQL is kept to what PostgreSQL also speaks, so that backend
can follow as a different connection rather than a rewrite.
"""

from __future__ import annotations

import base64
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from schema.codec import format_datetime, from_plain, parse_datetime, to_plain
from schema.events import (
    ChainReport,
    Event,
    EventError,
    EventType,
    apply,
    canonical_json,
    chain,
    fold,
    verify,
)
from schema.passport import Passport
from schema.source import CursorError, Head, Page, RobotFilter, RobotRecord

SCHEMA_VERSION = 1
EVENT_COLUMNS = "code, sequence, at, type, payload, prev_hash, hash"

DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS robots (
    code TEXT PRIMARY KEY,
    registry TEXT NOT NULL,
    manufacturer TEXT NOT NULL,
    category TEXT NOT NULL,
    status TEXT NOT NULL,
    owner TEXT,
    head_sequence INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    snapshot TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS robots_manufacturer ON robots (manufacturer, code);
CREATE INDEX IF NOT EXISTS robots_category ON robots (category, code);
CREATE INDEX IF NOT EXISTS robots_status ON robots (status, code);
CREATE INDEX IF NOT EXISTS robots_owner ON robots (owner, code);
CREATE TABLE IF NOT EXISTS events (
    code TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    at TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    PRIMARY KEY (code, sequence)
);
"""


class StoreError(Exception):
    """Base of every error the store raises on purpose."""

    code = "STORE_ERROR"


class RobotExists(StoreError):
    code = "ROBOT_EXISTS"


class UnknownRobot(StoreError):
    code = "NOT_FOUND"


class EventRejected(StoreError):
    """The event does not apply to the passport as it stands; nothing was written."""

    code = "EVENT_REJECTED"


class IdempotencyConflict(StoreError):
    """The idempotency key was used before with a different request."""

    code = "IDEMPOTENCY_CONFLICT"


def encode_cursor(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> str:
    """The key inside a cursor of `kind`; anything else is a `CursorError`."""
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        text = ""
    found, _, key = text.partition(":")
    if found != kind or not key or (kind == "seq" and not key.isdigit()):
        raise CursorError(f"cursor {cursor!r} is not one this API issued")
    return key


def _dumps(value: Any) -> str:
    return canonical_json(value).decode()


class DecodedPassports:
    """Passports already decoded, by head hash: a hash names one content, forever.

    Decoding a snapshot into dataclasses is most of a read's cost; a robot read
    twice at the same version is decoded once. The passports are shared between
    readers, so they are read-only by convention (writes decode their own copy).
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[str, Passport] = OrderedDict()

    def get(self, head_hash: str, snapshot: str | bytes) -> Passport:
        passport = self._items.get(head_hash)
        if passport is None:
            passport = from_plain(Passport, orjson.loads(snapshot))
            self._items[head_hash] = passport
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        return passport


class RegistryStore:
    """One registry's robots on one database file."""

    def __init__(self, path: str | Path, *, registry: str = "cn-heis") -> None:
        self.path = str(path)
        self.registry = registry
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._lock = threading.RLock()
        self._decoded = DecodedPassports()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(DDL)
        self._db.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- writes -------------------------------------------------------------

    def import_histories(self, histories: Iterable[list[Event]]) -> int:
        """Store whole, already chained histories (seeding, migration) in one transaction."""
        count = 0
        with self._transaction() as db:
            for events in histories:
                self._insert_history(db, events)
                count += 1
        return count

    def _insert_history(self, db: sqlite3.Connection, events: list[Event]) -> None:
        report = verify(events)
        if not events or not report.verified:
            raise EventRejected(f"history does not verify at sequence {report.first_bad}")
        code = events[0].code
        if db.execute("SELECT 1 FROM robots WHERE code = ?", (code,)).fetchone():
            raise RobotExists(f"robot {code} is already registered")
        try:
            passport = fold(events)
        except (EventError, ValueError) as exc:
            raise EventRejected(str(exc)) from None
        assert passport is not None
        recorded = format_datetime(datetime.now(UTC))
        db.executemany(
            "INSERT INTO events (code, sequence, at, type, payload, prev_hash, hash, recorded_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    e.code,
                    e.sequence,
                    format_datetime(e.at),
                    e.type.value,
                    _dumps(e.payload),
                    e.prev_hash,
                    e.hash,
                    recorded,
                )
                for e in events
            ],
        )
        self._write_snapshot(db, passport, Head(events[-1].sequence, events[-1].hash), insert=True)

    def append(
        self,
        code: str,
        type: EventType,
        payload: dict[str, Any],
        at: datetime,
        *,
        idempotency_key: str | None = None,
    ) -> Event:
        """Append one event; a retried key returns the first result and writes nothing."""
        with self._transaction() as db:
            if idempotency_key is not None:
                earlier = self._by_key(db, idempotency_key)
                if earlier is not None:
                    if (earlier.code, earlier.type, earlier.payload, earlier.at) != (
                        code,
                        type,
                        payload,
                        at,
                    ):
                        raise IdempotencyConflict(
                            f"idempotency key {idempotency_key!r} was used for another request"
                        )
                    return earlier
            row = db.execute(
                "SELECT head_sequence, head_hash, snapshot FROM robots WHERE code = ?", (code,)
            ).fetchone()
            if row is None:
                raise UnknownRobot(f"no robot {code} in registry {self.registry}")
            sequence, prev, snapshot = row
            try:
                passport = apply(from_plain(Passport, orjson.loads(snapshot)), type, payload)
            except (EventError, ValueError) as exc:
                raise EventRejected(str(exc)) from None
            event = chain(code, sequence + 1, at, type, payload, prev)
            db.execute(
                "INSERT INTO events (code, sequence, at, type, payload, prev_hash, hash,"
                " recorded_at, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    code,
                    event.sequence,
                    format_datetime(at),
                    type.value,
                    _dumps(payload),
                    prev,
                    event.hash,
                    format_datetime(datetime.now(UTC)),
                    idempotency_key,
                ),
            )
            self._write_snapshot(db, passport, Head(event.sequence, event.hash), insert=False)
            return event

    def _write_snapshot(
        self, db: sqlite3.Connection, passport: Passport, head: Head, *, insert: bool
    ) -> None:
        owner = passport.current_owner.owner if passport.current_owner else None
        values = (
            passport.manufacturer.name,
            passport.model.category,
            passport.identity.status.value,
            owner,
            head.sequence,
            head.hash,
            format_datetime(datetime.now(UTC)),
            _dumps(to_plain(passport)),
            passport.code,
        )
        if insert:
            db.execute(
                "INSERT INTO robots (manufacturer, category, status, owner, head_sequence,"
                " head_hash, updated_at, snapshot, code, registry)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, passport.identity.home_registry),
            )
        else:
            db.execute(
                "UPDATE robots SET manufacturer = ?, category = ?, status = ?, owner = ?,"
                " head_sequence = ?, head_hash = ?, updated_at = ?, snapshot = ? WHERE code = ?",
                values,
            )

    def _by_key(self, db: sqlite3.Connection, key: str) -> Event | None:
        row = db.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE idempotency_key = ?",
            (key,),
        ).fetchone()
        return _event(row) if row else None

    # -- reads --------------------------------------------------------------

    def passport(self, code: str) -> Passport | None:
        with self._lock:
            row = self._db.execute("SELECT snapshot FROM robots WHERE code = ?", (code,)).fetchone()
        return from_plain(Passport, orjson.loads(row[0])) if row else None

    def record(self, code: str, as_of: datetime | None = None) -> RobotRecord | None:
        """The passport with its version, now or as it stood at `as_of`."""
        if as_of is None:
            with self._lock:
                row = self._db.execute(
                    "SELECT snapshot, head_sequence, head_hash FROM robots WHERE code = ?", (code,)
                ).fetchone()
            if row is None:
                return None
            return RobotRecord(self._decoded.get(row[2], row[0]), Head(row[1], row[2]))
        events = [e for e in self.events(code) if e.at <= as_of]
        passport = fold(events)
        if passport is None:
            return None
        return RobotRecord(passport, Head(events[-1].sequence, events[-1].hash), as_of)

    def head(self, code: str) -> Head | None:
        with self._lock:
            row = self._db.execute(
                "SELECT head_sequence, head_hash FROM robots WHERE code = ?", (code,)
            ).fetchone()
        return Head(*row) if row else None

    def events(self, code: str, *, after: int = 0, limit: int | None = None) -> list[Event]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {EVENT_COLUMNS} FROM events"
                " WHERE code = ? AND sequence > ? ORDER BY sequence LIMIT ?",
                (code, after, -1 if limit is None else limit),
            ).fetchall()
        return [_event(r) for r in rows]

    def page(self, where: RobotFilter, first: int, after: str | None = None) -> Page[RobotRecord]:
        """Robots ordered by code; the cursor is the last code seen, so pages never overlap."""
        clauses, params = _filter_sql(where)
        if after is not None:
            clauses.append("code > ?")
            params.append(decode_cursor("code", after))
        sql = "SELECT code, snapshot, head_sequence, head_hash FROM robots"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY code LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*params, first + 1)).fetchall()
        items = [RobotRecord(self._decoded.get(r[3], r[1]), Head(r[2], r[3])) for r in rows[:first]]
        return Page(items, [encode_cursor("code", r[0]) for r in rows[:first]], len(rows) > first)

    def history(self, code: str, first: int, after: str | None = None) -> Page[Event]:
        """A page of the log; the cursor carries the last sequence number seen."""
        start = int(decode_cursor("seq", after)) if after else 0
        events = self.events(code, after=start, limit=first + 1)
        shown = events[:first]
        return Page(
            shown, [encode_cursor("seq", str(e.sequence)) for e in shown], len(events) > first
        )

    def codes(self, limit: int | None = None) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT code FROM robots ORDER BY code LIMIT ?", (-1 if limit is None else limit,)
            ).fetchall()
        return [r[0] for r in rows]

    def count(self, where: RobotFilter | None = None) -> int:
        clauses, params = _filter_sql(where or RobotFilter())
        sql = "SELECT COUNT(*) FROM robots" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        with self._lock:
            return self._db.execute(sql, params).fetchone()[0]

    def verify_chain(self, code: str) -> ChainReport:
        """Re-hash the stored log; report the first bad sequence, truncation included."""
        head = self.head(code)
        if head is None:
            raise UnknownRobot(f"no robot {code} in registry {self.registry}")
        with self._lock:
            rows = self._db.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE code = ? ORDER BY sequence", (code,)
            ).fetchall()
        events = []
        for row in rows:
            try:
                events.append(_event(row))
            except ValueError:
                report = verify(events)
                if report.verified:
                    return ChainReport(len(events), report.head_hash, row[1], "row does not decode")
                return report
        report = verify(events)
        if report.verified and (report.length, report.head_hash) != (head.sequence, head.hash):
            bad = min(report.length, head.sequence) + 1
            return ChainReport(report.length, report.head_hash, bad, "log and head disagree")
        return report


def _event(row: tuple[Any, ...]) -> Event:
    code, sequence, at, type, payload, prev, hash_ = row
    return Event(
        code, sequence, parse_datetime(at), EventType(type), orjson.loads(payload), prev, hash_
    )


def _filter_sql(where: RobotFilter) -> tuple[list[str], list[Any]]:
    clauses, params = [], []
    for column in ("manufacturer", "category", "status", "owner", "registry"):
        value = getattr(where, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    return clauses, params
