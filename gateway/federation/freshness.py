"""Which cached passports a registry's change feed vouches for, so reads skip the node.

Revalidating every single-robot read with `If-None-Match` costs a round trip
per lookup. Instead one follower per registry follows the node's change feed
(`GET /changes?after=POSITION&waitMs=`, positions registry-wide and gap-free,
held by the node until a change arrives) and
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
    """Follows one registry's change feed into a `Freshness`, by long poll where the node
    holds an empty answer (`waitMs`), else by polling every `interval` seconds.

    A node that holds answers wakes on its own store's watcher (LISTEN/NOTIFY on
    PostgreSQL), so a change reaches this follower as it commits rather than at
    the next poll; the node's `waitedMs` says how long after the request it read
    the feed at its end, so trust is renewed as of that read, which starts no
    earlier than the request was sent plus `waitedMs`. The hold is a third of the
    bound: a poll and the next, back to back, then renew trust within it.
    """

    def __init__(self, client: RegistryClient, freshness: Freshness, interval: float) -> None:
        self.client = client
        self.freshness = freshness
        self.interval = interval
        hold = min(freshness.bound / 3, client.config.timeout / 2)
        self.wait_ms = max(0, int(hold * 1000))
        self.position: int | None = None
        self.last_hash: str | None = None
        self._check_position = False

    async def run(self) -> None:
        while True:
            held = False
            try:
                held = await self.poll()
            except Exception:  # any failure, even one of ours, leaves the feed unverified
                self.freshness.unverified()
                self._check_position = True
            if not held:
                await asyncio.sleep(self.interval)

    async def poll(self) -> bool:
        """Read the feed to its end; then the cache is verified as of this read's start.
        True if the node held the last answer (`waitMs`), so the next poll may follow at once."""
        if self._check_position:
            await self._recheck()
            self._check_position = False
        while True:
            started = self.freshness.clock()
            changes, waited = await self._page(self.position or 0, FEED_PAGE, self.wait_ms)
            for position, code, head_hash in changes:
                self.freshness.invalidate(code)
                self.position, self.last_hash = position, head_hash
            if len(changes) < FEED_PAGE:
                self.freshness.verified_at = started + (waited or 0.0)
                return waited is not None and self.wait_ms > 0

    async def _recheck(self) -> None:
        """After an outage: the node still holds the event last seen, or start over."""
        if not self.position:
            return
        seen, _ = await self._page(self.position - 1, 1, 0)
        if not seen or seen[0][0] != self.position or seen[0][2] != self.last_hash:
            self.position, self.last_hash = None, None

    async def _page(
        self, after: int, first: int, wait_ms: int
    ) -> tuple[list[tuple[int, str, str]], float | None]:
        """The changes, and how long the node held the answer (None: it did not say)."""
        params = {"after": after, "first": first}
        if wait_ms:
            params["waitMs"] = wait_ms
        response = await self.client.call(
            "GET", "GET /changes", "/changes", idempotent=True, params=params
        )
        if response.status_code == 400 and wait_ms:  # a node without waitMs: poll it instead
            self.wait_ms = 0
            return await self._page(after, first, 0)
        if response.status_code != 200:
            raise RegistryUnavailable(self.client.id, f"answered HTTP {response.status_code}")
        body = response.json()
        return _changes(self.client.id, body), _waited(body) if wait_ms else None


def _waited(body: Any) -> float | None:
    """`waitedMs` in seconds, if the node sent a valid one; a node that ignores `waitMs`
    sends none and is polled."""
    value = body.get("waitedMs") if isinstance(body, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value / 1000
    return None


def _changes(registry: str, body: Any) -> list[tuple[int, str, str]]:
    """(position, code, event hash) of each change; anything else is a feed error."""
    try:
        items = body["changes"]
        return [
            (int(c["position"]), str(c["event"]["code"]), str(c["event"]["hash"])) for c in items
        ]
    except (KeyError, TypeError, ValueError):
        raise RegistryUnavailable(registry, "sent a change feed that does not parse") from None
