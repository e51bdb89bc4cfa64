"""Decoded passports by head hash: the read cache both store backends share."""

from __future__ import annotations

import threading
from collections import OrderedDict

import orjson

from schema.codec import from_plain
from schema.passport import Passport


class DecodedPassports:
    """Passports already decoded, by head hash: a hash names one content, forever.

    Decoding a snapshot into dataclasses is most of a read's cost; a robot read
    twice at the same version is decoded once. The passports are shared between
    readers, so they are read-only by convention (writes decode their own copy).
    Readers run on worker threads, so the table and its counts change under a
    lock; decoding runs outside it (two threads may decode one snapshot at once,
    and the second result replaces an equal first).
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[str, Passport] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, head_hash: str, snapshot: str | bytes) -> Passport:
        with self._lock:
            passport = self._items.get(head_hash)
            if passport is not None:
                self.hits += 1
                return passport
            self.misses += 1
        passport = from_plain(Passport, orjson.loads(snapshot))
        with self._lock:
            self._items[head_hash] = passport
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        return passport
