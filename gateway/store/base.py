"""The registry store: robots, their hash-chained event logs and current snapshots.

Every write folds the new events into the snapshot and appends them in one
transaction, so the snapshot never disagrees with the log. `Store` holds all of
it in SQL that SQLite and PostgreSQL both speak; a backend brings the
connection: `gateway.store.sqlite.SqliteStore` (the default, WAL mode) and
`gateway.store.postgres.PostgresStore`. Import them from `gateway.store`.

Over 500 lines because it is the one place both backends' SQL for robots, logs and
snapshots lives; the other concerns are mixins (telemetry, bulk, campaigns, log leaves,
verification in bulk).
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

from gateway.store import migrations
from gateway.store.bulk import BulkStore, Incoming
from gateway.store.campaigns import CampaignStore
from gateway.store.chaining import append_event
from gateway.store.cursors import decode_code, decode_position, encode_cursor
from gateway.store.decoded import DecodedPassports
from gateway.store.errors import (
    EventRejected,
    IdempotencyConflict,
    RobotExists,
    StoreError,
    UnknownRobot,
)
from gateway.store.feedwatch import POLL_SECONDS, FeedBell, FeedWatcher, PollingWatcher
from gateway.store.logleaves import LogLeavesStore
from gateway.store.recommit import RecommitStore
from gateway.store.sql import (
    EVENT_COLUMNS,
    FEED_OWNER,
    Db,
    filter_sql,
    row_event,
    with_limit,
)
from gateway.store.telemetry import TelemetryStore
from gateway.store.verifying import VerifyStore, check_log
from gateway.store.webhooks import WebhookStore
from schema.codec import format_datetime, from_plain, parse_datetime
from schema.events import ChainReport, Event, EventError, EventType, fold, verify
from schema.passport import Passport
from schema.source import Change, Head, Link, Page, RobotFilter, RobotRecord

__all__ = [
    "Db",
    "DecodedPassports",
    "EventRejected",
    "IdempotencyConflict",
    "RobotExists",
    "Store",
    "StoreError",
    "UnknownRobot",
]

FIRST_TABLES = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)", re.IGNORECASE)
T = TypeVar("T")


class Store(
    TelemetryStore,
    VerifyStore,
    RecommitStore,
    LogLeavesStore,
    BulkStore,
    CampaignStore,
    WebhookStore,
    ABC,
):
    """One registry's robots on a SQL database; subclasses bring the connection.

    Everything here is plain SQL both SQLite and PostgreSQL speak. A backend
    supplies the three ways in (`_reading`, `_snapshot`, `_transaction`), the
    clause that locks the robot row an append changes, and which database
    errors mean "a concurrent writer won, run the transaction again".
    """

    dialect = ""
    lock_row = ""
    retry_errors: tuple[type[Exception], ...] = ()

    def __init__(self, registry: str, location: str) -> None:
        self.registry = registry
        self.location = location
        self._lock = threading.RLock()
        self.decoded = DecodedPassports()
        self.feed_bell = FeedBell(
            lambda changed: self.watch_feed(changed, POLL_SECONDS), POLL_SECONDS
        )
        """What every waiter on the feed in this process shares: one watcher per store."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def _reading(self) -> AbstractContextManager[Db]:
        """One statement at a time, each seeing the latest commit."""

    @abstractmethod
    def _snapshot(self) -> AbstractContextManager[Db]:
        """Several statements that see one consistent state, without blocking writers."""

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Db]:
        """A write transaction: all of it commits or none of it does."""

    @abstractmethod
    def _lock_migrations(self, db: Db) -> None:
        """Keep two processes starting at once from applying the same migration."""

    @abstractmethod
    def _lock_feed(self, db: Db) -> None:
        """Make this transaction's appends take feed positions after every earlier one."""

    def _write(self, work: Callable[[Db], T]) -> T:
        """Run `work` in a transaction, again if a concurrent writer made it fail."""
        attempts = 3
        while True:
            try:
                with self._transaction() as db:
                    return work(db)
            except self.retry_errors:
                attempts -= 1
                if attempts == 0:
                    raise

    def _migrate(self) -> None:
        """Apply pending migrations, one transaction each; refuse a newer database."""
        known = migrations.available(self.dialect)
        for migration in known:
            with self._transaction() as db:
                self._lock_migrations(db)
                db.execute(migrations.TABLE)
                (applied,) = db.execute(migrations.CURRENT).fetchone()
                migrations.check_supported(applied or 0, known)
                if not applied:
                    self._refuse_foreign(db)
                if (applied or 0) >= migration.version:
                    continue
                for statement in migrations.statements(migration.sql):
                    db.execute(statement)
                db.execute(
                    migrations.RECORD,
                    (migration.version, migration.name, format_datetime(datetime.now(UTC))),
                )

    def _foreign_tables(self, db: Db) -> list[str]:
        """Tables of another program in a database robopass has not migrated yet; a backend
        that cannot tell (a shared PostgreSQL database) answers none."""
        return []

    def _refuse_foreign(self, db: Db) -> None:
        """Refuse a file another program made (a `robopass sync` mirror, say) instead of
        failing halfway through the first migration with a driver error."""
        first = migrations.available(self.dialect)[:1]
        # Files of the first release predate store_migrations: their tables are ours.
        ours = set(FIRST_TABLES.findall(first[0].sql)) if first else set()
        foreign = [t for t in self._foreign_tables(db) if t not in ours]
        if foreign:
            raise migrations.MigrationError(
                f"{self.location} is not a robopass registry database: it holds tables"
                f" ({', '.join(sorted(foreign)[:5])}) and no robopass schema version (a"
                " `robopass sync` mirror is such a file); choose another --db"
            )

    def schema_version(self) -> int:
        with self._reading() as db:
            return db.execute(migrations.CURRENT).fetchone()[0] or 0

    # -- writes -------------------------------------------------------------

    def import_histories(self, histories: Iterable[list[Event]]) -> int:
        """Store whole, already chained histories (tests, migration) in one transaction.

        All or nothing: a history that does not verify, or a robot already
        stored, refuses the whole call. `registry import` and `seed` go through
        `store_batch`, which keeps what is already stored instead.
        """
        batch = [list(h) for h in histories]
        for events in batch:
            report = verify(events)
            if not events or not report.verified:
                raise EventRejected(f"history does not verify at sequence {report.first_bad}")
        seen: set[str] = set()
        for events in batch:
            if events[0].code in seen:
                raise RobotExists(f"robot {events[0].code} is already registered")
            seen.add(events[0].code)
        now = format_datetime(datetime.now(UTC))
        incoming = [Incoming.of(n, events, _fold(events)) for n, events in enumerate(batch, 1)]
        codes = [events[0].code for events in batch]

        def work(db: Db) -> int:
            for start in range(0, len(codes), 500):
                chunk = codes[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                found = db.execute(f"SELECT code FROM robots WHERE code IN ({marks})", chunk)
                row = found.fetchone()
                if row is not None:
                    raise RobotExists(f"robot {row[0]} is already registered")
            self._insert_histories(db, incoming, now)
            return len(batch)

        return self._write(work)

    def append(
        self,
        code: str,
        type: EventType,
        payload: dict[str, Any],
        at: datetime,
        *,
        idempotency_key: str | None = None,
        check: Callable[[Passport], None] | None = None,
    ) -> Event:
        """Append one event; a retried key returns the first result and writes nothing.

        The robot row is locked before its head is read, so two writers of one
        robot take turns instead of both chaining onto the same head. Two
        writers of one key race to its unique index; the loser runs again
        and finds the winner's event. `check` sees the passport as it stands
        under that lock and may refuse the write by raising.
        """

        def work(db: Db) -> Event:
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

            def compose(current: Passport) -> tuple[dict[str, Any], datetime]:
                if check is not None:
                    check(current)
                return payload, at

            event, _ = append_event(
                db,
                code,
                type,
                compose,
                registry=self.registry,
                lock_row=self.lock_row,
                key=idempotency_key,
                lock_feed=self._lock_feed,
            )
            return event

        return self._write(work)

    def event_by_key(self, key: str) -> Event | None:
        """The event an idempotency key wrote, if any: tells a replay from a first write."""
        with self._reading() as db:
            return self._by_key(db, key)

    def last_of(self, code: str, types: Sequence[EventType]) -> Event | None:
        """The robot's newest event of one of `types`."""
        marks = ", ".join("?" * len(types))
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM events WHERE code = ? AND type IN ({marks})"
            " ORDER BY sequence DESC"
        )
        with self._reading() as db:
            row = db.execute(*with_limit(sql, [code, *(t.value for t in types)], 1)).fetchone()
        return row_event(row) if row else None

    def _by_key(self, db: Db, key: str) -> Event | None:
        row = db.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE idempotency_key = ?",
            (key,),
        ).fetchone()
        return row_event(row) if row else None

    # -- reads --------------------------------------------------------------

    def passport(self, code: str) -> Passport | None:
        with self._reading() as db:
            row = db.execute("SELECT snapshot FROM robots WHERE code = ?", (code,)).fetchone()
        return from_plain(Passport, orjson.loads(row[0])) if row else None

    def record(self, code: str, as_of: datetime | None = None) -> RobotRecord | None:
        """The passport with its version, now or as it stood at `as_of`."""
        if as_of is None:
            with self._reading() as db:
                row = db.execute(
                    "SELECT snapshot, head_sequence, head_hash FROM robots WHERE code = ?", (code,)
                ).fetchone()
            if row is None:
                return None
            return RobotRecord(self.decoded.get(row[2], row[0], code), Head(row[1], row[2]))
        now = self.record(code)
        events = self.events(code, until=as_of)
        passport = fold(events)
        if passport is None or now is None:
            return None
        head = Head(events[-1].sequence, events[-1].hash)
        return RobotRecord(passport, head, as_of, current=now.passport)

    def records(self, codes: Sequence[str]) -> dict[str, RobotRecord]:
        """The current records of those of `codes` that are stored, in one query per 500."""
        found: dict[str, RobotRecord] = {}
        unique = list(dict.fromkeys(codes))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            sql = "SELECT code, snapshot, head_sequence, head_hash FROM robots WHERE code IN "
            with self._reading() as db:
                rows = db.execute(f"{sql}({marks})", chunk).fetchall()
            for code, snapshot, sequence, hash_ in rows:
                found[code] = RobotRecord(
                    self.decoded.get(hash_, snapshot, code), Head(sequence, hash_)
                )
        return found

    def head(self, code: str) -> Head | None:
        with self._reading() as db:
            row = db.execute(
                "SELECT head_sequence, head_hash FROM robots WHERE code = ?", (code,)
            ).fetchone()
        return Head(*row) if row else None

    def events(
        self,
        code: str,
        *,
        after: int = 0,
        limit: int | None = None,
        until: datetime | None = None,
    ) -> list[Event]:
        """Events after sequence `after`, in sequence order; with `until`, only those at or
        before it (times are stored as text of varying precision, so compared here)."""
        if until is not None:
            return self._events_until(code, after, limit, until)
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM events WHERE code = ? AND sequence > ? ORDER BY sequence"
        )
        with self._reading() as db:
            rows = db.execute(*with_limit(sql, (code, after), limit)).fetchall()
        return [row_event(r) for r in rows]

    def _events_until(
        self, code: str, after: int, limit: int | None, until: datetime
    ) -> list[Event]:
        chunk = max(limit or 0, 256)
        found: list[Event] = []
        while limit is None or len(found) < limit:
            batch = self.events(code, after=after, limit=chunk)
            found.extend(e for e in batch if e.at <= until)
            if len(batch) < chunk:
                break
            after = batch[-1].sequence
        return found if limit is None else found[:limit]

    def page(self, where: RobotFilter, first: int, after: str | None = None) -> Page[RobotRecord]:
        """Robots ordered by code; the cursor is the last code seen, so pages never overlap."""
        rows = self._keyset("code, snapshot, head_sequence, head_hash", where, first, after)
        items = [
            RobotRecord(self.decoded.get(r[3], r[1], r[0]), Head(r[2], r[3])) for r in rows[:first]
        ]
        return Page(items, [encode_cursor("code", r[0]) for r in rows[:first]], len(rows) > first)

    def page_codes(self, where: RobotFilter, first: int, after: str | None = None) -> Page[str]:
        """The codes of `page`, with its cursors, without reading a snapshot."""
        rows = self._keyset("code", where, first, after)
        codes = [r[0] for r in rows[:first]]
        return Page(codes, [encode_cursor("code", c) for c in codes], len(rows) > first)

    def _keyset(
        self, columns: str, where: RobotFilter, first: int, after: str | None
    ) -> list[tuple[Any, ...]]:
        """Up to `first + 1` robot rows in code order after a `code:` cursor, filtered."""
        clauses, params = filter_sql(where)
        if after is not None:
            clauses.append("code > ?")
            params.append(decode_code("code", after))
        sql = f"SELECT {columns} FROM robots"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        with self._reading() as db:
            return db.execute(*with_limit(sql + " ORDER BY code", params, first + 1)).fetchall()

    def history(
        self, code: str, first: int, after: str | None = None, until: datetime | None = None
    ) -> Page[Event]:
        """A page of the log; the cursor carries the last sequence number seen.

        With `until` (a past view) only events at or before it, so the page and
        `has_next_page` never tell of anything later."""
        start = decode_position("seq", after) if after else 0
        events = self.events(code, after=start, limit=first + 1, until=until)
        shown = events[:first]
        return Page(
            shown, [encode_cursor("seq", str(e.sequence)) for e in shown], len(events) > first
        )

    def changes(
        self, after: int = 0, limit: int = 100, where: RobotFilter | None = None
    ) -> list[Change]:
        """Events of the whole registry after a feed position, oldest first.

        A position commits only after every smaller one, so a reader resuming
        after the last position it saw never skips an event. `where` filters
        on the robot's current columns (its owner now, not at the event). The
        owner filters read the copy of the robot's owner every event carries
        (`sql.FEED_OWNER`): one owner's page is a range of the (owner_id,
        position) index, however large the feed; other filters join the robot.
        """
        where = where or RobotFilter()
        carried = [(c, getattr(where, c)) for c in FEED_OWNER if getattr(where, c) is not None]
        clauses, params = filter_sql(replace(where, owner=None, owner_id=None))
        columns = ", ".join(f"e.{c.strip()}" for c in EVENT_COLUMNS.split(","))
        sql = f"SELECT e.position, {columns} FROM events e"
        if clauses:
            sql += " JOIN robots r ON r.code = e.code"
        conditions = [
            *(f"e.{column} = ?" for column, _ in carried),
            "e.position > ?",
            *(f"r.{c}" for c in clauses),
        ]
        values = [*(value for _, value in carried), after, *params]
        sql += " WHERE " + " AND ".join(conditions) + " ORDER BY e.position"
        with self._reading() as db:
            rows = db.execute(*with_limit(sql, values, limit)).fetchall()
        return [Change(r[0], row_event(r[1:])) for r in rows]

    def watch_feed(self, on_change: Callable[[], None], interval: float) -> FeedWatcher:
        """Start this store's one watcher of the feed (`gateway.store.feedwatch`): here a
        thread reading the head every `interval` seconds; PostgreSQL listens instead."""
        return PollingWatcher(self.feed_head, on_change, interval)

    def feed_head(self) -> int:
        """The newest feed position committed; 0 for a registry without events."""
        with self._reading() as db:
            return db.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()[0]

    def feed_rows(self, after: int, limit: int) -> list[tuple[Change, str | None, str | None]]:
        """The unfiltered feed after a position, each change with the copy of its robot's
        current `owner` and `owner_id` the event row carries (`sql.FEED_OWNER`): the very
        columns an owner filter of `changes` compares, so that one read serves every
        owner's follower (`gateway.service.feedtail`)."""
        columns = ", ".join(f"e.{c.strip()}" for c in EVENT_COLUMNS.split(","))
        sql = (
            f"SELECT e.position, {columns}, e.owner, e.owner_id FROM events e"
            " WHERE e.position > ? ORDER BY e.position"
        )
        with self._reading() as db:
            rows = db.execute(*with_limit(sql, [after], limit)).fetchall()
        return [(Change(r[0], row_event(r[1:-2])), r[-2], r[-1]) for r in rows]

    def put_link(self, code: str, home: str, since: datetime) -> None:
        """Note that robot `code` of registry `home` is now here; putting it again updates it."""
        with self._transaction() as db:
            db.execute("DELETE FROM links WHERE code = ?", (code,))
            db.execute(
                "INSERT INTO links (code, home, since) VALUES (?, ?, ?)",
                (code, home, format_datetime(since)),
            )

    def delete_link(self, code: str) -> bool:
        """Forget a link; False when there was none."""
        with self._transaction() as db:
            return db.execute("DELETE FROM links WHERE code = ?", (code,)).rowcount > 0

    def links(self, after: str | None = None, limit: int | None = None) -> list[Link]:
        """Links ordered by code, after a code."""
        sql = "SELECT code, home, since FROM links WHERE code > ? ORDER BY code"
        with self._reading() as db:
            rows = db.execute(*with_limit(sql, (after or "",), limit)).fetchall()
        return [Link(code, home, parse_datetime(since)) for code, home, since in rows]

    def codes(self, limit: int | None = None) -> list[str]:
        with self._reading() as db:
            rows = db.execute(*with_limit("SELECT code FROM robots ORDER BY code", (), limit))
            return [r[0] for r in rows.fetchall()]

    def count(self, where: RobotFilter | None = None) -> int:
        clauses, params = filter_sql(where or RobotFilter())
        sql = "SELECT COUNT(*) FROM robots" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        with self._reading() as db:
            return db.execute(sql, params).fetchone()[0]

    def verify_chain(self, code: str, through: int | None = None) -> ChainReport:
        """Re-hash the stored log; report the first bad sequence, truncation included.

        Head and log are read in one snapshot, so a concurrent append is never
        mistaken for a log that disagrees with its head. `through` verifies the
        log up to that sequence only (the version a past view shows), so the
        report says nothing of the events after it.
        """
        bound = through if through is not None else 2**62
        with self._snapshot() as db:
            found = db.execute(
                "SELECT head_sequence, head_hash FROM robots WHERE code = ?", (code,)
            ).fetchone()
            rows = db.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE code = ? AND sequence <= ?"
                " ORDER BY sequence",
                (code, bound),
            ).fetchall()
        if found is None:
            raise UnknownRobot(f"no robot {code} in registry {self.registry}")
        return check_log(Head(*found), rows, through)[0]


def _fold(events: list[Event]) -> Passport:
    try:
        passport = fold(events)
    except (EventError, ValueError) as exc:
        raise EventRejected(str(exc)) from None
    assert passport is not None
    return passport
