"""Group commit for the audit log: concurrent requests share one transaction.

A request may not send its answer before its disclosure records are durable,
so each waits for its own commit; under load those commits, one transaction
each and all serialised on the log's single head, become the queue. Here a
request hands its records to the loop's committer and awaits a future: the
committer takes every batch waiting at that moment, appends them in order in
one transaction (`AuditLog.append_many`: all of them or none), and resolves
each future with that request's stored records, or with the error for every
request the failed transaction covered. So no request is answered unless its
records are committed, and while one transaction runs the next one fills.

Whoever takes the batch yields to the event loop once first, so that requests
already past their execution join it. On a local SQLite log the first request
to arrive leads: it commits on the loop (a WAL commit is quicker than the hop
to a thread, and a request that commits alone creates no task). On a remote
database (`offload`) a task commits in a worker thread, and the requests that
arrive while the network is waiting fill the next transaction. One committer
belongs to one event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

R = TypeVar("R")
S = TypeVar("S")

MAX_BATCH = 256
"""Requests per transaction at most: a burst is committed in several, in order."""


class GroupCommit(Generic[R, S]):
    """Batches of items from concurrent callers, committed together by `commit`."""

    def __init__(
        self, commit: Callable[[Sequence[R]], list[S]], offload: bool, max_batch: int = MAX_BATCH
    ) -> None:
        self._commit = commit
        self._offload = offload
        self._max_batch = max_batch
        self.loop = asyncio.get_running_loop()
        self._waiting: list[tuple[Sequence[R], asyncio.Future[list[S]]]] = []
        self._running: asyncio.Task[None] | None = None
        self._leading = False
        self.transactions = 0
        self.batches = 0

    async def submit(self, items: Sequence[R]) -> list[S]:
        """Commit `items` in order, with whatever else is waiting; what `commit` gave for them."""
        if not items:
            return []
        future: asyncio.Future[list[S]] = self.loop.create_future()
        self._waiting.append((items, future))
        if self._running is None and not self._offload and not self._leading:
            await self._lead()
            return future.result()
        if self._running is None and not self._leading:
            self._running = self.loop.create_task(self._drain())
        # A caller that gives up still has its records committed: never the reverse.
        return await asyncio.shield(future)

    async def _lead(self) -> None:
        """On the loop: let ready requests join, commit them with ours, hand on the rest.

        The transaction runs synchronously, so nothing can cancel it halfway and
        no task is created for a request that commits alone.
        """
        self._leading = True
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            self._leading = False
            self._hand_on()
            raise
        taken = self._take()
        self._leading = False
        await self._run(taken)
        self._hand_on()

    def _hand_on(self) -> None:
        if self._waiting and self._running is None:
            self._running = self.loop.create_task(self._drain())

    def _take(self) -> list[tuple[Sequence[R], asyncio.Future[list[S]]]]:
        taken = self._waiting[: self._max_batch]
        del self._waiting[: len(taken)]
        return taken

    async def _drain(self) -> None:
        try:
            while self._waiting:
                await asyncio.sleep(0)
                await self._run(self._take())
        finally:
            self._running = None
            for _, future in self._waiting:  # only when cancelled: nobody is left waiting
                future.cancel()
            self._waiting.clear()

    async def _run(self, taken: list[tuple[Sequence[R], asyncio.Future[list[S]]]]) -> None:
        items = [item for batch, _ in taken for item in batch]
        try:
            if self._offload:
                done = await asyncio.to_thread(self._commit, items)
            else:
                done = self._commit(items)
        except Exception as exc:  # every request this transaction covered fails with it
            for _, future in taken:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:  # cancelled (the loop is closing): the outcome is unknown
            for _, future in taken:
                future.cancel()
            raise
        self.transactions += 1
        self.batches += len(taken)
        start = 0
        for batch, future in taken:
            if not future.done():
                future.set_result(done[start : start + len(batch)])
            start += len(batch)
