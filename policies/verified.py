"""Tokens verified once: a bounded cache of principals keyed by a hash of the token.

Checking a JWT's signature and claims costs more than the rest of a cached
single-robot lookup. A token's content cannot change, so once it verified,
its principal holds until its `exp`: the cache keeps it until then (plus the
verifier's leeway, the same bound an uncached check applies) and a request
presenting the same token again skips the header, signature and claim checks.

The key is SHA-256 of the whole compact token, signature included, never the
token itself: the cache holds nothing a reader of memory could present as a
bearer token, and a token whose payload equals a cached one's but whose
signature differs hashes elsewhere and is verified on its own. Entries are
evicted least recently used beyond `size`, and dropped when found expired.
Only JWTs are kept: an opaque token is introspected on every request, since
asking its issuer is how a resource server learns that it was revoked.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from .principal import Principal

DEFAULT_SIZE = 10_000


class VerifiedTokens:
    """Principals of verified tokens until they expire, at most `size` of them."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 0:
            raise ValueError("token cache size must be 0 or more")
        self.size = size
        self._entries: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def key(token: str) -> bytes:
        """The cache key of a token: its SHA-256 digest."""
        return hashlib.sha256(token.encode("ascii")).digest()

    def get(self, key: bytes, now: float) -> Principal | None:
        """The principal verified for the token hashed to `key`, if still unexpired at `now`."""
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        principal, until = entry
        if now >= until:
            del self._entries[key]
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return principal

    def put(self, key: bytes, principal: Principal, until: float) -> None:
        """Keep `principal` for the token hashed to `key` until `until` (seconds)."""
        if self.size == 0:
            return
        self._entries[key] = (principal, until)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every verified token: the next request of each is verified afresh."""
        self._entries.clear()
