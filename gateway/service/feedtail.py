"""One read of the change feed per wake per replica, however many wait on it.

The store's one watcher (`gateway.store.feedwatch.FeedBell`) wakes every
waiter of the replica at once: `passportChanged` subscriptions, `fleetChanges`
long polls, a registry node's `GET /changes?waitMs=`. If each then read the feed
with its own query, one write would cost a query per open subscription. Instead
the replica keeps a `FeedTail` per store: the first waiter a move wakes reads the
new changes once, unfiltered, each with its robot's owner columns as they stand
(`Store.feed_rows`); every waiter woken by the same move takes that read and
filters it in memory (`TailFollower`).

The in-memory filter answers what the store's own filtered read would have at
the moment of the shared read. The store filters `changes` by owner on the copy
of the robot's current owner columns each event row carries (`FEED_OWNER`), with
SQL equality (`=`, deterministic collations on both backends); `feed_rows` reads
those same columns and `matches` compares them with `==` (a NULL matches no owner
filter, as in SQL). Any other filter (status, manufacturer, a campaign, ...) is
not shared: those followers read on their own as before.

What a follower's own read would return depends on the columns *now*, not
when the event was written: a robot transferred to owner B brings its events
since B's follower last received one. So a follower keeps two positions: `after`
(the last change it was given: where its own read would start) and `checked`
(everything in `(after, checked]` was found not to match when last looked at).
A robot's owner columns change only in a transaction that appends an event to
it, whose position is then after `checked`; so at the next read only robots
with an event in `(checked, end]` can have started to match, and their columns
(from their newest row in the tail, read to the feed's head) are current. If
none of them matches, nothing is due and `checked` moves to the end, with no
query. If one does, the answer is every event of the matching robots after
`after`, from memory when the tail still holds `(after, end]`, else by the
follower's own read. A follower whose `checked` is older than the tail's start
(a new or slow one) reads on its own until it is caught up.

Robot columns changed behind the store's back (SQL by hand, without an event)
are seen by a shared follower only at the robot's next event.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass

from gateway.store import Store
from gateway.store.feedwatch import Mark
from gateway.store.sql import FEED_OWNER
from schema.source import Change, RobotFilter

TAIL_PAGE = 500
"""Rows per query of the shared read; it reads pages until the feed's head."""
TAIL_WINDOW = 10_000
"""The newest changes the tail keeps: a follower whose `after` is older and whose filter
matches a new change reads on its own."""
_SHAREABLE = frozenset(FEED_OWNER)


@dataclass(frozen=True, slots=True)
class _Row:
    change: Change
    owner: str | None
    owner_id: str | None


def shareable(where: RobotFilter) -> bool:
    """Whether a filter only compares the owner columns, which `feed_rows` carries."""
    return all(
        getattr(where, name) in (None, ()) for name in where.__slots__ if name not in _SHAREABLE
    )


def matches(where: RobotFilter, owner: str | None, owner_id: str | None) -> bool:
    """The store's `owner = ? AND owner_id = ?` for the filters that are set, on one row."""
    return (where.owner is None or owner == where.owner) and (
        where.owner_id is None or owner_id == where.owner_id
    )


class FeedTail:
    """The newest changes of one store, read once per wake for all of this replica's followers.

    A read runs on a worker thread, one at a time, from the tail's end to the feed's
    head; waiters on one event loop share one read in flight. The state is swapped in
    under a short lock that no query holds, so a follower's in-memory answer never
    waits on the database, and test clients on loops of their own stay consistent.
    """

    def __init__(self, store: Store, window: int = TAIL_WINDOW) -> None:
        self._store = store
        self._window = window
        self._lock = threading.Lock()
        self._reading = threading.Lock()
        self._positions: list[int] = []
        self._rows: list[_Row] = []
        self._by_code: dict[str, deque[_Row]] = {}
        self.start: int | None = None
        """The tail holds every change in (start, end]; None until the first read."""
        self.end: int | None = None
        self._done_from = float("-inf")
        """When the newest completed read began (monotonic)."""
        self._inflight: tuple[asyncio.AbstractEventLoop, float, asyncio.Future[None]] | None = None
        self.reads = 0
        """Queries the tail made (for tests and benchmarks)."""

    async def fresh(self, since: float) -> None:
        """Return once a read begun at or after `since` has completed."""
        if self._done_from >= since:
            return
        loop = asyncio.get_running_loop()
        inflight = self._inflight
        if inflight is None or inflight[0] is not loop or inflight[1] < since:
            began = time.monotonic()
            future = asyncio.ensure_future(asyncio.to_thread(self._read, began))
            self._inflight = inflight = (loop, began, future)
        await asyncio.shield(inflight[2])

    def _read(self, began: float) -> None:
        """Read from the end to the feed's head, then publish it all at once: a follower
        never sees a tail that stops short of the head it was read to (see the module's
        docstring: the owner columns of its rows are current only then)."""
        with self._reading:  # one read at a time, each from where the last ended
            start = end = self.end
            if end is None:
                self.reads += 1
                start = end = self._store.feed_head()
            new: deque[_Row] = deque(maxlen=self._window)
            while True:
                self.reads += 1
                rows = self._store.feed_rows(end, TAIL_PAGE)
                for change, owner, owner_id in rows:
                    if len(new) == self._window:  # a burst longer than the window
                        start = new[0].change.position
                    new.append(_Row(change, owner, owner_id))
                    end = change.position
                if len(rows) < TAIL_PAGE:
                    break
            with self._lock:  # no query under this lock: the event loop takes it too
                if self.end is None or start != self.end:
                    self._positions, self._rows, self._by_code = [], [], {}
                    self.start = start
                for row in new:
                    self._positions.append(row.change.position)
                    self._rows.append(row)
                    self._by_code.setdefault(row.change.event.code, deque()).append(row)
                self.end = end
                self._trim()
                self._done_from = max(self._done_from, began)

    def _trim(self) -> None:
        extra = len(self._rows) - self._window
        if extra <= 0:
            return
        for row in self._rows[:extra]:
            kept = self._by_code[row.change.event.code]
            kept.popleft()
            if not kept:
                del self._by_code[row.change.event.code]
        self.start = self._positions[extra - 1]
        del self._rows[:extra], self._positions[:extra]

    def answer(self, follower: TailFollower, first: int) -> list[Change] | None:
        """The follower's next page from memory, moving its positions; None when the tail
        cannot say (the follower is behind it), and the follower must read on its own."""
        with self._lock:
            if self.start is None or self.end is None or follower.checked < self.start:
                return None
            end, where = self.end, follower.where
            begin = bisect.bisect_right(self._positions, follower.checked)
            due = set()
            for row in self._rows[begin:]:
                code = row.change.event.code
                if code not in due:
                    newest = self._by_code[code][-1]
                    if matches(where, newest.owner, newest.owner_id):
                        due.add(code)
            if not due:
                follower.checked = max(follower.checked, end)
                return []
            if follower.after < self.start:
                return None
            found = sorted(
                (r.change for code in due for r in self._by_code[code]),
                key=lambda c: c.position,
            )
            found = [c for c in found if c.position > follower.after]
            shown = found[:first]
            follower.after = shown[-1].position
            follower.checked = follower.after if len(found) > first else end
            follower.more = len(found) > first
            return shown


_tails: weakref.WeakKeyDictionary[Store, FeedTail] = weakref.WeakKeyDictionary()
_tails_lock = threading.Lock()


def tail_of(store: Store) -> FeedTail:
    """The replica's one tail of `store`'s feed."""
    with _tails_lock:
        tail = _tails.get(store)
        if tail is None:
            tail = _tails[store] = FeedTail(store)
        return tail


class TailFollower:
    """One waiter's way through the feed: pages from the shared tail when it can, else its
    own read, exactly as `Store.changes(after, first, where)` would answer."""

    def __init__(
        self,
        store: Store,
        where: RobotFilter,
        after: int,
        tail: FeedTail | None = None,
    ) -> None:
        self.where = where
        self.after = after
        self.checked = after
        self.more = False
        self._store = store
        self._tail = (tail or tail_of(store)) if shareable(where) else None

    async def next(self, first: int, woken: object | None) -> tuple[list[Change], bool]:
        """The changes after `after` (at most `first`) and whether more follow; `woken` is
        the mark whose ring woke the waiter (a read begun after it is fresh enough); None
        (a first read, not a wake) reads on its own, as a page asked for without waiting
        costs one query either way."""
        tail = self._tail
        if tail is not None and first > 0 and woken is not None:
            since = woken.rung_at if isinstance(woken, Mark) else None
            try:
                await tail.fresh(since if since is not None else time.monotonic())
            except Exception:  # the shared read failed: this waiter's own read says why
                pass
            else:
                shown = tail.answer(self, first)
                if shown is not None:
                    return shown, bool(shown) and self.more
        return await self._own(first)

    async def _own(self, first: int) -> tuple[list[Change], bool]:
        """The store's filtered read, as every waiter made before the tail; where the tail
        ends beforehand is where this read has checked up to (it sees at least as far)."""
        if self._tail is not None and self._tail.end is None:
            # The replica's first follower starts the tail, so the first move is shared.
            with contextlib.suppress(Exception):  # if not, this read says why
                await self._tail.fresh(time.monotonic())
        known = self._tail.end if self._tail is not None else None
        found = await asyncio.to_thread(self._store.changes, self.after, first + 1, self.where)
        shown, more = found[:first], len(found) > first
        if shown:
            self.after = shown[-1].position
        self.checked = self.after if more or known is None else max(self.after, known)
        return shown, more
