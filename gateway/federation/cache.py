"""Decoded passports from registry nodes, by code and version.

A head hash names one content forever, so a passport cached under (code,
head hash) is never stale: a changed robot has a new hash and misses. What
the cache saves is a node's native document being validated and translated
again (milliseconds a robot); the latest hash seen per code also lets a
single read revalidate with `If-None-Match` and skip the transfer on 304.

The cache holds whole canonical passports, never a caller's view of one:
masks are applied downstream per principal on every request, so nothing
cached can cross from one caller's view to another's. Cached passports are
shared and therefore read-only.
"""

from __future__ import annotations

from collections import OrderedDict

from schema.passport import Passport
from schema.source import Head


class PassportCache:
    """A bounded LRU of (code, head hash) -> passport, with the latest head per code."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], Passport] = OrderedDict()
        self._latest: dict[str, Head] = {}
        self.hits = 0
        self.misses = 0

    def get(self, code: str, head_hash: str) -> Passport | None:
        passport = self._items.get((code, head_hash))
        if passport is None:
            self.misses += 1
            return None
        self._items.move_to_end((code, head_hash))
        self.hits += 1
        return passport

    def put(self, code: str, head: Head, passport: Passport, *, latest: bool = True) -> None:
        """Keep `passport` at version `head`; `latest` False for a view of the past."""
        self._items[(code, head.hash)] = passport
        self._items.move_to_end((code, head.hash))
        if latest:
            self._latest[code] = head
        while len(self._items) > self.size:
            (old, _hash), _ = self._items.popitem(last=False)
            if self._latest.get(old, Head(0, "")).hash == _hash:
                del self._latest[old]

    def latest(self, code: str) -> tuple[Head, Passport] | None:
        """The newest version seen of `code`, to revalidate with the node."""
        head = self._latest.get(code)
        if head is None:
            return None
        passport = self._items.get((code, head.hash))
        return None if passport is None else (head, passport)
