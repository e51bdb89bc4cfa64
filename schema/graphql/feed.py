"""The change feed in GraphQL: `fleetFeed`, `fleetChanges` and `passportChanged`.

A change is an event of the registry's log, masked exactly as `Robot.history`
masks it (`HistoryEvent`): its time, type and payload appear only when every
field its type touches is visible to the caller, under the robot's current
mask. The feed follows one owner's robots (by party identifier), the caller's own unless
the gateway's policies allow another (`PassportContext.fleet_owner`).

The subscription reads `PassportSource.changes` from the feed's head: writers
may be other processes or replicas, and reading from a gap-free position sees
them all. A source that can signal moves of its feed (`FeedSignal`: a local
store's one watcher, PostgreSQL's LISTEN/NOTIFY) wakes it; any other source
is polled. A source that shares its reads (`SharedFeed`: a local store's
tail, one read per move for every waiter of the replica) answers each woken
waiter from that read, exactly as its own `changes` would.
`fleetChanges(waitSeconds:)` is the same wait for a follower that pages: at
the feed's end it answers as soon as a change arrives, within the wait,
instead of the follower polling.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from graphql import GraphQLError

from ..source import (
    Change,
    FeedHead,
    FeedSignal,
    Page,
    PassportSource,
    RobotCodes,
    RobotFilter,
    RobotRecord,
    SharedFeed,
)
from .context import PolledFeed
from .pages import PageInfo, bad_input, check_first, edges, page_info, read_page
from .robot import HistoryEvent, Robot, RobotCodeScalar, robot_node

FEED_PAGE = 500
"""The largest page of `fleetChanges`; also the page the subscription polls with."""
MAX_CODES = 100
CODES_PAGE = 5000
"""The largest page of `fleetCodes`: codes are cheap to list and a mirror lists them all."""
POLL_SECONDS = 0.25
IDLE_SECONDS = 5.0
MAX_WAIT_SECONDS = 10.0
"""The longest `fleetChanges` long poll: under the endpoint's default operation timeout
(15 s), so that a waiting follower gets its empty page, not a 504."""
"""How long a subscription woken by its source's feed signal waits before it re-checks
the caller's token (an expired or revoked token ends it within this)."""


@strawberry.type(
    description=(
        "One change of a robot: an event of its log, masked as Robot.history masks it."
        " Code, sequence, scheme, hashes and commitment are always shown; the salt only with"
        " the payload."
    )
)
class FleetChange(HistoryEvent):
    _record: strawberry.Private[RobotRecord | None]

    @strawberry.field(description="The robot the event belongs to.")
    def code(self) -> RobotCodeScalar:
        return RobotCodeScalar(self._event.code)

    @strawberry.field(
        description=(
            "The robot as it stands now (not as of this event), as the caller may see it;"
            " null if it can no longer be read."
        )
    )
    def robot(self) -> Robot | None:
        if self._record is None:
            return None
        return robot_node(self._record, self._mask)  # type: ignore[return-value]  # a root for Robot's resolvers


@strawberry.type(description="A change with its cursor.")
class FleetChangeEdge:
    cursor: str = strawberry.field(description="Opaque position of this change; resume after it.")
    node: FleetChange = strawberry.field(description="The change.")


@strawberry.type(description="A page of changes, oldest first (Relay pagination).")
class FleetChangeConnection:
    edges: list[FleetChangeEdge] = strawberry.field(description="The changes of this page.")
    page_info: PageInfo = strawberry.field(
        description="Where the page ends; with no next page, poll again after endCursor."
    )


@strawberry.type(description="Where a fleet's change feed stands now.")
class FleetFeed:
    owner_id: str | None = strawberry.field(
        description=(
            "Whose robots the feed follows, by party identifier: the owner asked for, else"
            " the caller's own; null on a gateway without policies, for every robot."
        )
    )
    head_cursor: str | None = strawberry.field(
        description=(
            "Pass as `after` to fleetChanges to get only changes made from now on: take it"
            " before a full copy of the fleet. Null when there has been no change yet."
        )
    )


@strawberry.type(description="A page of robot codes, in code order.")
class CodePage:
    codes: list[RobotCodeScalar] = strawberry.field(description="The codes of this page.")
    page_info: PageInfo = strawberry.field(description="Where the page ends.")


def feed_filter(info: strawberry.Info, owner_id: str | None) -> RobotFilter:
    return RobotFilter(owner_id=info.context.fleet_owner(owner_id))


async def feed_head(source: PassportSource, where: RobotFilter) -> str | None:
    """The feed's current end; a source that cannot say is paged to its end."""
    if isinstance(source, FeedHead):
        return await source.changes_head(where)
    after = None
    while True:
        page = await source.changes(where, FEED_PAGE, after)
        after = page.end_cursor or after
        if not page.has_next_page:
            return after


async def fleet_feed(info: strawberry.Info, owner_id: str | None) -> FleetFeed:
    where = feed_filter(info, owner_id)
    return FleetFeed(
        owner_id=where.owner_id, head_cursor=await feed_head(info.context.source, where)
    )


async def fleet_changes(
    info: strawberry.Info,
    owner_id: str | None,
    first: int,
    after: str | None,
    wait_seconds: float = 0.0,
) -> FleetChangeConnection:
    check_first(first, FEED_PAGE)
    if not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
        raise bad_input(
            f"waitSeconds must be between 0 and {MAX_WAIT_SECONDS:g}, got {wait_seconds:g}"
        )
    where = feed_filter(info, owner_id)
    page = await _page_or_wait(info.context, where, first, after, wait_seconds)
    records = await _records(info.context, page.items)
    return FleetChangeConnection(
        edges=edges(page, FleetChangeEdge, lambda c: _change(info.context, c, records)),
        page_info=page_info(page),
    )


async def _page_or_wait(
    context: Any, where: RobotFilter, first: int, after: str | None, wait: float
) -> Page[Change]:
    """The changes after `after`; an empty page is held up to `wait` seconds until the feed
    moves (woken by the source's signal, else polled), then read again."""
    source = context.source
    signal = source if isinstance(source, FeedSignal) and wait > 0 else None
    until = time.monotonic() + wait
    feed, woken = _Feed(source, where, after), None
    while True:
        mark = signal.feed_mark() if signal is not None else None
        page = await read_page(feed.next(first, woken))
        left = until - time.monotonic()
        if page.items or first == 0 or left <= 0:
            return page
        if signal is None:
            interval = (
                context.feed_poll_seconds if isinstance(context, PolledFeed) else POLL_SECONDS
            )
            await asyncio.sleep(min(interval, left))
        elif not await signal.feed_wait(mark, left):
            return page  # the source is sure nothing moved within the wait
        woken = mark
        await _still_authenticated(context)


async def _still_authenticated(context: Any) -> None:
    """A waiter's token may expire or be revoked while it waits: nothing more for it then."""
    if not await context.still_authenticated():
        raise GraphQLError(
            "The access token has expired or was revoked",
            extensions={"code": "UNAUTHENTICATED"},
        )


async def fleet_codes(
    info: strawberry.Info, owner_id: str | None, first: int, after: str | None
) -> CodePage:
    check_first(first, CODES_PAGE)
    where = feed_filter(info, owner_id)
    page = await read_page(_codes(info.context.source, where, first, after))
    return CodePage(codes=[RobotCodeScalar(c) for c in page.items], page_info=page_info(page))


async def _codes(source: PassportSource, where: RobotFilter, first: int, after: str | None):
    """Codes from a source that lists them, else from pages of robots (same cursors)."""
    if isinstance(source, RobotCodes):
        return await source.codes(where, first, after)
    page = await source.robots(where, first, after)
    return Page([r.passport.code for r in page.items], page.cursors, page.has_next_page)


async def passport_changed(
    info: strawberry.Info, owner_id: str | None, codes: list[RobotCodeScalar] | None
) -> AsyncGenerator[FleetChange, None]:
    """Changes from the moment of subscribing, polled until the client goes away."""
    if codes is not None and len(codes) > MAX_CODES:
        raise bad_input(f"codes takes at most {MAX_CODES} robot codes, got {len(codes)}")
    context = info.context
    wanted = frozenset(codes) if codes else None
    where = feed_filter(info, owner_id)
    source = context.source
    signal = source if isinstance(source, FeedSignal) else None
    mark = signal.feed_mark() if signal is not None else None
    feed = _Feed(source, where, await feed_head(source, where))
    interval = context.feed_poll_seconds if isinstance(context, PolledFeed) else POLL_SECONDS
    moved, woken = True, None
    while True:
        await _still_authenticated(context)
        if moved:
            if signal is not None:
                mark = signal.feed_mark()
            page = await feed.next(FEED_PAGE, woken)
            items = [c for c in page.items if wanted is None or c.event.code in wanted]
            records = await _records(context, items)
            for change in items:
                yield _change(context, change, records)
            if page.has_next_page:
                continue
        if signal is None:
            await asyncio.sleep(interval)
        else:  # woken by the replica's one watcher; the token is re-checked meanwhile
            moved = await signal.feed_wait(mark, IDLE_SECONDS)
            woken = mark


class _Feed:
    """A waiter's reads of the feed from `after`: through the replica's shared read of each
    move when the source offers one (`SharedFeed`), else `changes` on its own."""

    def __init__(self, source: PassportSource, where: RobotFilter, after: str | None) -> None:
        self._source, self._where, self._after = source, where, after
        self._shared = (
            source.follow_changes(where, after) if isinstance(source, SharedFeed) else None
        )

    async def next(self, first: int, woken: object | None) -> Page[Change]:
        if self._shared is not None:
            return await self._shared.next(first, woken)
        page = await self._source.changes(self._where, first, self._after)
        self._after = page.end_cursor or self._after
        return page


async def _records(context: Any, changes: list[Change]) -> dict[str, RobotRecord | None]:
    """Each robot's current record, read once per page however many changes it has."""
    records: dict[str, RobotRecord | None] = {}
    for change in changes:
        code = change.event.code
        if code not in records:
            records[code] = await context.source.robot(code)
    return records


def _change(context: Any, change: Change, records: dict[str, RobotRecord | None]) -> FleetChange:
    event = change.event
    record = records.get(event.code)
    mask = context.view(record) if record is not None else frozenset()
    return FleetChange(
        sequence=event.sequence,
        hash=event.hash,
        prev_hash=event.prev_hash,
        scheme=event.scheme,
        commitment=event.commitment,
        _event=event,
        _mask=mask,
        _record=record,
    )
