"""Moving a store's chains from hash scheme 1 (unsalted) to scheme 2 (salted commitments).

A scheme-1 hash covers an event's content itself, so anyone who sees the hash
can test guesses of a hidden payload. `recommit` re-chains one robot's whole
history under scheme 2 (same sequences, times, types and payloads; fresh
salts; every hash new), moves its head and appends a CHAIN_RECOMMITTED event,
all in one transaction: a robot is either done or untouched, so a killed
migration resumes by running it again and a done robot is skipped.

The rewritten rows keep their feed positions: the feed does not replay them.
The CHAIN_RECOMMITTED event takes the next position, so a follower of the feed
sees one change per migrated robot, and anything keyed by the head hash (HTTP
ETags, the federation's caches) sees a new version.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from gateway.store.sql import EVENT_COLUMNS, INSERT_EVENT, event_row, row_event
from schema.codec import format_datetime
from schema.events import (
    LEGACY_SCHEME,
    SCHEME,
    ChainRecommitted,
    EventType,
    chain,
    payload_of,
    rechain,
)

UPDATE_LINK = (
    "UPDATE events SET prev_hash = ?, hash = ?, scheme = ?, salt = ?, commitment = ?"
    " WHERE code = ? AND sequence = ?"
)
UPDATE_HEAD = "UPDATE robots SET head_sequence = ?, head_hash = ?, updated_at = ? WHERE code = ?"


def recommit_key(code: str) -> str:
    """The idempotency key of a robot's CHAIN_RECOMMITTED: unique, so it is never stored twice."""
    return f"recommit:{LEGACY_SCHEME}:{SCHEME}:{code}"


class RecommitStore:
    """Scheme migration methods of `Store` (a mixin: the store brings the connection)."""

    lock_row: str
    _write: Callable[..., Any]
    _reading: Callable[..., Any]
    _lock_feed: Callable[..., Any]

    def legacy_codes(self, limit: int | None = None) -> list[str]:
        """Robots holding at least one scheme-1 event, in code order."""
        sql = "SELECT DISTINCT code FROM events WHERE scheme = ? ORDER BY code"
        params: list[Any] = [LEGACY_SCHEME]
        if limit is not None:
            sql, params = sql + " LIMIT ?", [*params, limit]
        with self._reading() as db:
            return [r[0] for r in db.execute(sql, params).fetchall()]

    def legacy_count(self) -> int:
        """How many robots still hold scheme-1 events."""
        with self._reading() as db:
            sql = "SELECT COUNT(DISTINCT code) FROM events WHERE scheme = ?"
            return db.execute(sql, (LEGACY_SCHEME,)).fetchone()[0]

    def recommit(self, code: str, now: datetime | None = None) -> int:
        """Re-commit one robot's history under the current scheme; the events rewritten.

        0 when the robot holds no scheme-1 event any more (done before, or by
        a concurrent run): nothing is written. The robot's row is locked first,
        so an append cannot slip in between reading the log and moving the head.
        """
        at = now or datetime.now(UTC)

        def work(db: Any) -> int:
            found = db.execute(
                "SELECT head_sequence, owner, owner_id FROM robots WHERE code = ?" + self.lock_row,
                (code,),
            ).fetchone()
            if found is None:
                return 0
            rows = db.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE code = ? ORDER BY sequence", (code,)
            ).fetchall()
            events = [row_event(r) for r in rows]
            if not any(e.scheme == LEGACY_SCHEME for e in events):
                return 0
            again = rechain(events, SCHEME)
            db.executemany(
                UPDATE_LINK,
                [
                    (e.prev_hash, e.hash, e.scheme, e.salt, e.commitment, e.code, e.sequence)
                    for e in again
                ],
            )
            body = ChainRecommitted(LEGACY_SCHEME, SCHEME, len(again))
            payload = payload_of(EventType.CHAIN_RECOMMITTED, body)
            head = again[-1]
            marker = chain(
                code, head.sequence + 1, at, EventType.CHAIN_RECOMMITTED, payload, head.hash
            )
            recorded = format_datetime(datetime.now(UTC))
            self._lock_feed(db)
            # The marker joins the feed of the robot's current owner, as its other events are.
            owner = (found[1], found[2])
            db.execute(INSERT_EVENT, (*event_row(marker, recorded, recommit_key(code)), *owner))
            db.execute(UPDATE_HEAD, (marker.sequence, marker.hash, recorded, code))
            return len(again)

        return self._write(work)
