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
        self._current: dict[str, str] = {}  # code -> the head hash kept for it
        self._codes: dict[str, str] = {}  # head hash -> its code
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, head_hash: str, snapshot: str | bytes, code: str | None = None) -> Passport:
        """The passport at `head_hash`, decoded from `snapshot` unless kept. With `code`,
        one version per robot is kept: a newer head of a robot replaces the one before,
        which no current read asks for again (a robot written often would otherwise fill
        the table with its superseded versions, each as large as a passport)."""
        with self._lock:
            passport = self._items.get(head_hash)
            if passport is not None:
                self._items.move_to_end(head_hash)
                self.hits += 1
                return passport
            self.misses += 1
        passport = from_plain(Passport, orjson.loads(snapshot))
        with self._lock:
            if code is not None:
                older = self._current.get(code)
                if older is not None and older != head_hash:
                    self._items.pop(older, None)
                    self._codes.pop(older, None)
                self._current[code] = head_hash
                self._codes[head_hash] = code
            self._items[head_hash] = passport
            while len(self._items) > self.size:
                gone, _ = self._items.popitem(last=False)
                owner = self._codes.pop(gone, None)
                if owner is not None and self._current.get(owner) == gone:
                    del self._current[owner]
        return passport
