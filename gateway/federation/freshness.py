"""Which cached passports a registry's change feed vouches for, so reads skip the node.

Revalidating every single-robot read with `If-None-Match` costs a round trip
per lookup. Instead one follower per registry polls the node's change feed
(`GET /changes?after=POSITION`, positions registry-wide and gap-free) and
withdraws trust from every code that changed. A version a read fetched is
trusted until then, and served without asking the node while the feed is
verified: the last poll that reached the end of the feed started at most
`bound` seconds ago. So a change committed at the node is served by the
gateway at most `bound` seconds later; a failed poll withdraws all trust
and reads revalidate (and fail while the node is down).

Races: a read grants trust only if nothing was invalidated in this registry
while it was in flight (an epoch counter), so an answer older than a change
the follower already processed is never trusted. A node whose feed went
back (a new or restored database under the same URL) is noticed after a
failed poll by the event at the last position no longer being the one seen,
and the feed is then read again from the start.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from schema.source import RegistryUnavailable

from .client import RegistryClient

FEED_PAGE = 500
"""Changes per poll, the node's cap; a full page is followed at once by the next."""
MAX_TRUSTED = 65536
"""Trusted codes kept per registry; beyond it trust is dropped (reads revalidate)."""


class Freshness:
    """Trust in cached versions of one registry's robots, kept by its change feed."""

    def __init__(self, bound: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.bound = bound
        self.clock = clock
        self.verified_at: float | None = None
        self.epoch = 0
        self._trusted: dict[str, str] = {}

    def fresh(self) -> bool:
        """The feed was read to its end within the bound."""
        at = self.verified_at
        return at is not None and self.clock() - at <= self.bound

    def current(self, code: str, head_hash: str) -> bool:
        """`head_hash` may be served for `code` without asking the node."""
        return self._trusted.get(code) == head_hash and self.fresh()

    def grant(self, code: str, head_hash: str, epoch: int) -> None:
        """Trust the version a read fetched, unless anything changed since it was sent."""
        if epoch != self.epoch:
            return
        if len(self._trusted) >= MAX_TRUSTED and code not in self._trusted:
            self._trusted.clear()
        self._trusted[code] = head_hash

    def invalidate(self, code: str) -> None:
        """`code` changed (or may have): its next read asks the node."""
        self.epoch += 1
        self._trusted.pop(code, None)

    def unverified(self) -> None:
        """The feed cannot be read: nothing is served without asking the node."""
        self.epoch += 1
        self.verified_at = None
        self._trusted.clear()


class Follower:
    """Polls one registry's change feed every `interval` seconds into a `Freshness`."""

    def __init__(self, client: RegistryClient, freshness: Freshness, interval: float) -> None:
        self.client = client
        self.freshness = freshness
        self.interval = interval
        self.position: int | None = None
        self.last_hash: str | None = None
        self._check_position = False

    async def run(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception:  # any failure, even one of ours, leaves the feed unverified
                self.freshness.unverified()
                self._check_position = True
            await asyncio.sleep(self.interval)

    async def poll(self) -> None:
        """Read the feed to its end; then the cache is verified as of this read's start."""
        if self._check_position:
            await self._recheck()
            self._check_position = False
        while True:
            started = self.freshness.clock()
            changes = await self._page(self.position or 0, FEED_PAGE)
            for position, code, head_hash in changes:
                self.freshness.invalidate(code)
                self.position, self.last_hash = position, head_hash
            if len(changes) < FEED_PAGE:
                self.freshness.verified_at = started
                return

    async def _recheck(self) -> None:
        """After an outage: the node still holds the event last seen, or start over."""
        if not self.position:
            return
        seen = await self._page(self.position - 1, 1)
        if not seen or seen[0][0] != self.position or seen[0][2] != self.last_hash:
            self.position, self.last_hash = None, None

    async def _page(self, after: int, first: int) -> list[tuple[int, str, str]]:
        response = await self.client.call(
            "GET",
            "GET /changes",
            "/changes",
            idempotent=True,
            params={"after": after, "first": first},
        )
        if response.status_code != 200:
            raise RegistryUnavailable(self.client.id, f"answered HTTP {response.status_code}")
        return _changes(self.client.id, response.json())


def _changes(registry: str, body: Any) -> list[tuple[int, str, str]]:
    """(position, code, event hash) of each change; anything else is a feed error."""
    try:
        items = body["changes"]
        return [
            (int(c["position"]), str(c["event"]["code"]), str(c["event"]["hash"])) for c in items
        ]
    except (KeyError, TypeError, ValueError):
        raise RegistryUnavailable(registry, "sent a change feed that does not parse") from None
