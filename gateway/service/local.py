"""A `PassportSource` and `PassportWriter` over one registry store in this process.

The embedded demo has one registry, so this writer stands in for every
registry a link may name: `link(country, ...)` records the link in the store's
own links table whatever the country. A federation sends the same call to the
registry node that serves `country` (`PUT /links/{code}`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.service.feedtail import TailFollower
from gateway.store import Store, UnknownRobot
from gateway.store.cursors import decode_position, encode_cursor
from schema.events import ChainReport, Event, EventType, decode_payload
from schema.passport import ConditionSnapshot, Passport
from schema.source import (
    Appended,
    Change,
    ConditionPoint,
    Page,
    RobotFilter,
    RobotRecord,
)
from schema.writes import check_event

FEED_CURSOR = "pos"


class LocalSource:
    """Serves the GraphQL layer from a store, every database call on a worker thread.

    The event loop serves every request of the process, so a query that waits
    on the database (a slow plan, a lock, a server far away) must not run on
    it: each call here goes to `asyncio.to_thread`, and the PostgreSQL store's
    connection pool lets those threads read side by side.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.decoded = store.decoded

    # -- FeedSignal: the store's one watcher wakes every waiter of the process ---

    def feed_mark(self) -> object:
        """The event the next move of the feed sets (`gateway.store.feedwatch.FeedBell`)."""
        return self.store.feed_bell.mark()

    async def feed_wait(self, mark: object, timeout: float) -> bool:
        """True once the feed moved after `mark`; on timeout, True only if the watcher could
        have missed a move (it is reconnecting), so that waiters then poll meanwhile."""
        assert isinstance(mark, asyncio.Event)
        return await self.store.feed_bell.wait(mark, timeout)

    def follow_changes(self, where: RobotFilter, after: str | None) -> SharedFollower:
        """A waiter's way through the feed that shares the replica's one read per move
        (`gateway.service.feedtail`); pages and cursors as `changes` gives them."""
        return SharedFollower(self.store, where, after)

    async def stop_following(self) -> None:
        """Stop the feed's watcher (the app's shutdown); the next waiter starts it again."""
        self.store.feed_bell.stop()

    async def _run(self, work: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(work, *args, **kwargs)

    async def robot(self, code: str, as_of: datetime | None = None) -> RobotRecord | None:
        return await self._run(self.store.record, code, as_of)

    async def robots(self, where: RobotFilter, first: int, after: str | None) -> Page[RobotRecord]:
        return await self._run(self.store.page, where, first, after)

    async def codes(self, where: RobotFilter, first: int, after: str | None) -> Page[str]:
        return await self._run(self.store.page_codes, where, first, after)

    async def count(self, where: RobotFilter) -> int:
        return await self._run(self.store.count, where)

    async def history(
        self, code: str, first: int, after: str | None, until: datetime | None = None
    ) -> Page[Event]:
        return await self._run(self.store.history, code, first, after, until)

    async def integrity(self, code: str, through: int | None = None) -> ChainReport | None:
        try:
            return await self._run(self.store.verify_chain, code, through)
        except UnknownRobot:
            return None

    # -- PassportWriter -------------------------------------------------------

    async def append(
        self,
        code: str,
        type: EventType,
        payload: dict[str, Any],
        at: datetime,
        *,
        idempotency_key: str,
    ) -> Event:
        """Append under the store's lock, re-checking the rules against the passport there."""
        body = decode_payload(type, payload)

        def check(passport: Passport) -> None:
            check_event(passport, type, body, datetime.now(UTC))

        return await self._run(
            self.store.append, code, type, payload, at, idempotency_key=idempotency_key, check=check
        )

    async def link(self, country: str, code: str, home: str, since: datetime) -> None:
        await self._run(self.store.put_link, code, home, since)

    async def unlink(self, country: str, code: str) -> None:
        await self._run(self.store.delete_link, code)

    async def earlier(self, idempotency_key: str) -> Event | None:
        """The event a key stored before, so a retry is answered before any rule runs."""
        return await self._run(self.store.event_by_key, idempotency_key)

    async def pending_offer(self, code: str) -> Event | None:
        """The newest TRANSFER_OFFERED not yet followed by a transfer, if any."""
        last = await self._run(
            self.store.last_of, code, (EventType.TRANSFER_OFFERED, EventType.OWNERSHIP_TRANSFERRED)
        )
        return last if last is not None and last.type is EventType.TRANSFER_OFFERED else None

    async def ingest_conditions(
        self,
        batches: Mapping[str, Sequence[ConditionSnapshot]],
        *,
        idempotency_key: str,
        positions: Mapping[str, Sequence[int]] | None = None,
    ) -> dict[str, Appended]:
        return await self._run(
            self.store.ingest_conditions,
            batches,
            idempotency_key=idempotency_key,
            positions=positions,
        )

    # -- TelemetrySource ------------------------------------------------------

    async def condition_history(
        self, code: str, since: datetime | None, until: datetime | None, last: int
    ) -> list[ConditionPoint] | None:
        record = await self._run(self.store.record, code)
        if record is None:
            return None
        raw = await self._run(self.store.condition_samples, code, since, until)
        days = await self._run(self.store.condition_days, code, since, until)
        return merge_history(record.passport, raw, days, since, until)[-last:] if last else []

    async def changes(self, where: RobotFilter, first: int, after: str | None) -> Page[Change]:
        """The registry's feed after a cursor; each cursor carries one registry-wide position."""
        start = feed_position(after)
        found = await self._run(self.store.changes, start, first + 1, where)
        shown = found[:first]
        cursors = [encode_cursor(FEED_CURSOR, str(c.position)) for c in shown]
        return Page(shown, cursors, len(found) > first)

    async def changes_head(self, where: RobotFilter) -> str | None:
        """The newest position of the whole registry: valid for any filter, as positions are."""
        head = await self._run(self.store.feed_head)
        return encode_cursor(FEED_CURSOR, str(head)) if head else None


class SharedFollower:
    """`TailFollower` in `changes`' pages; the cursor is decoded at the first read, so a
    cursor we did not issue fails there, as it does in `changes`."""

    def __init__(self, store: Store, where: RobotFilter, after: str | None) -> None:
        self._store, self._where, self._after = store, where, after
        self._follower: TailFollower | None = None

    async def next(self, first: int, woken: object | None) -> Page[Change]:
        if self._follower is None:
            start = feed_position(self._after)
            self._follower = TailFollower(self._store, self._where, start)
        shown, more = await self._follower.next(first, woken)
        cursors = [encode_cursor(FEED_CURSOR, str(c.position)) for c in shown]
        return Page(shown, cursors, more)


def merge_history(
    passport: Passport,
    raw: list[ConditionPoint],
    days: list[ConditionPoint],
    since: datetime | None,
    until: datetime | None,
) -> list[ConditionPoint]:
    """Recorded snapshots, raw samples and daily aggregates, oldest first.

    A batch's newest sample is also the passport's condition summary; it is
    shown once, as the sample. A rolled-up day is shown by its aggregate alone.
    """
    taken = {p.at for p in raw}
    rolled = {d.at.date() for d in days}
    snapshots = [
        _point(s)
        for s in passport.conditions
        if s.at not in taken
        and s.at.date() not in rolled
        and (since is None or s.at >= since)
        and (until is None or s.at <= until)
    ]
    return sorted([*snapshots, *raw, *days], key=lambda p: p.at)


def _point(s: ConditionSnapshot) -> ConditionPoint:
    return ConditionPoint(
        s.at, s.operating_hours, s.battery_health_pct, s.charge_cycles,
        s.movement_precision_mm, s.abnormal_stress_events, list(s.joint_wear),
        "RAW", 1, s.battery_health_pct, s.battery_health_pct, s.battery_health_pct,
        s.movement_precision_mm, s.movement_precision_mm,
    )  # fmt: skip


def feed_position(cursor: str | None) -> int:
    """The feed position a cursor of ours carries; 0 for the start."""
    if cursor is None:
        return 0
    return decode_position(FEED_CURSOR, cursor)
