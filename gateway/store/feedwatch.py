"""One watcher of the change feed per store, so waiting subscribers cost nothing while idle.

A subscription (`passportChanged`) waits for the registry's feed to move. Each
one polling the feed on its own costs a query per subscriber per poll; with
a thousand open sockets that is most of a core doing nothing. Instead a
store has one watcher (per process, so per replica) that calls `on_change`
whenever the feed may have moved, and the waiters of the process (GraphQL
subscriptions, `fleetChanges` long polls, a registry node's `GET /changes?wait=`)
wait on its `FeedBell`.

- PostgreSQL (`ListeningWatcher`): every transaction that adds events takes
  the feed lock, and with it sends a `NOTIFY` on its schema's channel, delivered when it
  commits (`PostgresStore._lock_feed`). One connection per replica, outside
  the pool, `LISTEN`s on a thread of its own, so a write through any replica,
  or any tool on the database, wakes the subscribers of every replica.
- SQLite (`PollingWatcher`): one thread per process reads the feed's head
  every `interval` and calls `on_change` when it moved: one query per
  interval, whatever the number of subscribers.

Waking is shared, and so is what the woken read: the first waiter a move wakes
reads the new changes once for all of them (`gateway.service.feedtail`).

A watcher that is not `listening` (its connection is lost, and until it is
back) cannot promise a wake-up, so waiters fall back to polling; on
reconnecting it calls `on_change` once, since notifications sent meanwhile
are lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Protocol

CHANNEL_SQL = "'robopass_feed_' || md5(current_schema())"
"""The store's NOTIFY channel, in SQL: one per schema, so that registries sharing a
database (as tests do, one schema each) wake only their own subscribers. Hashed,
since a channel is an identifier of at most 63 bytes and a schema name may be long."""
RETRY_SECONDS = 1.0
POLL_SECONDS = 0.25
"""How often the SQLite watcher reads the feed's head, and waiters poll while a
PostgreSQL watcher reconnects."""


class FeedWatcher(Protocol):
    """A running watcher: whether a change now reliably wakes `on_change`, and how to stop."""

    @property
    def listening(self) -> bool: ...

    def stop(self) -> None: ...


class PollingWatcher:
    """Reads `head()` every `interval` seconds on a daemon thread; calls `on_change` on a move."""

    def __init__(
        self, head: Callable[[], int], on_change: Callable[[], None], interval: float
    ) -> None:
        self._head = head
        self._on_change = on_change
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="robopass-feed-poll", daemon=True)
        self._thread.start()

    @property
    def listening(self) -> bool:
        return not self._stopped.is_set()

    def _run(self) -> None:
        last: int | None = None
        while not self._stopped.wait(self._interval):
            try:
                head = self._head()
            except Exception:  # a closed or unreachable store: keep trying, waiters poll
                continue
            if head != last:
                last = head
                self._on_change()

    def stop(self) -> None:
        self._stopped.set()


class ListeningWatcher:
    """`LISTEN`s on its own PostgreSQL connection, on a daemon thread, reconnecting when lost."""

    def __init__(self, url: str, on_change: Callable[[], None]) -> None:
        self._url = url
        self._on_change = on_change
        self._listening = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="robopass-feed-listen", daemon=True)
        self._thread.start()

    @property
    def listening(self) -> bool:
        return self._listening

    def _run(self) -> None:
        import psycopg
        from psycopg import sql

        while not self._stopped.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True) as conn:
                    row = conn.execute(f"SELECT {CHANNEL_SQL}").fetchone()
                    assert row is not None
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(row[0])))
                    self._listening = True
                    self._on_change()  # whatever was sent while nobody listened
                    while not self._stopped.is_set():
                        for _ in conn.notifies(timeout=RETRY_SECONDS):
                            self._on_change()
            except psycopg.Error:
                pass
            self._listening = False
            self._on_change()  # waiters learn they must poll until the watcher is back
            self._stopped.wait(RETRY_SECONDS)

    def stop(self) -> None:
        self._stopped.set()


class Mark(asyncio.Event):
    """A waiter's mark; once set by a move of the feed, `rung_at` is when (monotonic):
    any read of the feed begun after it sees the change that rang, so waiters woken
    together can share one read (`gateway.service.feedtail`)."""

    rung_at: float | None = None


class FeedBell:
    """The event-loop side of a store's one watcher, which every waiter of the process shares.

    GraphQL subscriptions, `fleetChanges` long polls and a registry node's
    `GET /changes?wait=` all wait here, so a replica holds one watcher (one
    LISTEN connection on PostgreSQL) however many wait, and a move of the
    feed wakes all of them at once. The store keeps one (`Store.feed_bell`).

    A waiter takes a `mark` before it reads the feed and waits on that mark,
    so a change committed between its read and its wait still wakes it. The
    watcher starts on first use, and again for another event loop (a test
    client's), whose events it must set.
    """

    def __init__(
        self, start: Callable[[Callable[[], None]], FeedWatcher], poll_seconds: float
    ) -> None:
        self._start = start
        self.poll_seconds = poll_seconds
        self._watcher: FeedWatcher | None = None
        self._moved: Mark | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def mark(self) -> Mark:
        """The event the next move of the feed sets."""
        loop = asyncio.get_running_loop()
        if self._moved is None or self._loop is not loop:
            if self._watcher is not None:
                self._watcher.stop()
            self._moved, self._loop = Mark(), loop

            def changed() -> None:  # on the watcher's thread
                with contextlib.suppress(RuntimeError):  # the loop has closed meanwhile
                    loop.call_soon_threadsafe(self._ring)

            self._watcher = self._start(changed)
        return self._moved

    def _ring(self) -> None:
        moved, self._moved = self._moved, Mark()
        if moved is not None:
            moved.rung_at = time.monotonic()
            moved.set()

    async def wait(self, mark: asyncio.Event, timeout: float) -> bool:
        """True once the feed moved after `mark`; on timeout, True only if the watcher could
        have missed a move (it is reconnecting), so that waiters then poll at the poll pace."""
        listening = self._watcher is not None and self._watcher.listening
        try:  # `timeout`, not `wait_for`: no task per waiter, a thousand wake at once
            async with asyncio.timeout(timeout if listening else self.poll_seconds):
                await mark.wait()
        except TimeoutError:
            return not listening
        return True

    def stop(self) -> None:
        """Stop the watcher (the app's shutdown); the next `mark` starts it again."""
        watcher, self._watcher, self._moved, self._loop = self._watcher, None, None, None
        if watcher is not None:
            watcher.stop()
