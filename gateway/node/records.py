"""Records and events as they travel: native passport documents, canonical events.

The document is the passport encoded by the node's format adapter. A head hash
names one passport content forever, so documents are cached by it, already
serialized: encoding costs about a millisecond, and an AAS environment is some
150 kB of JSON, so the cache is bounded by bytes rather than by entries.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import orjson

from adapters.translate import FORMATS
from schema.codec import format_datetime, to_plain
from schema.events import ChainReport, Event
from schema.source import Change, Link, RobotRecord

NODE_FORMATS = ("cn-miit", "aas")
CACHE_BYTES = 64 << 20


class Documents:
    """Serialized native documents by head hash, least recently used dropped first."""

    def __init__(self, fmt: str, max_bytes: int = CACHE_BYTES) -> None:
        if fmt not in NODE_FORMATS:
            raise ValueError(f"unknown node format {fmt!r}; known: {', '.join(NODE_FORMATS)}")
        self.format = fmt
        self._encode = FORMATS[fmt].encode
        self._max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    def serialized(self, record: RobotRecord) -> bytes:
        """The document as JSON bytes; called from worker threads, so the cache is locked.

        A past view is encoded afresh: events need not be in time order, so the
        passport as of a time is not always the passport at the head it names.
        """
        if record.as_of is not None:
            return orjson.dumps(self._encode(to_plain(record.passport)))
        key = record.head.hash
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        found = orjson.dumps(self._encode(to_plain(record.passport)))
        with self._lock:
            if key not in self._items and len(found) <= self._max_bytes:
                self._items[key] = found
                self._bytes += len(found)
                while self._bytes > self._max_bytes:
                    _, dropped = self._items.popitem(last=False)
                    self._bytes -= len(dropped)
        return found

    def document(self, record: RobotRecord) -> Any:
        """The document as plain data (a fresh copy), for callers in process."""
        return orjson.loads(self.serialized(record))


def record_json(record: RobotRecord, registry: str, documents: Documents) -> dict[str, Any]:
    return {
        "code": record.passport.code,
        "registry": registry,
        "format": documents.format,
        "head": {"sequence": record.head.sequence, "hash": record.head.hash},
        "document": orjson.Fragment(documents.serialized(record)),
    }


def event_json(event: Event) -> dict[str, Any]:
    """An event with its salt: a node answers service callers only, who mask for their own."""
    return {
        "code": event.code,
        "sequence": event.sequence,
        "at": format_datetime(event.at),
        "type": event.type.value,
        "payload": event.payload,
        "prevHash": event.prev_hash,
        "hash": event.hash,
        "scheme": event.scheme,
        "salt": event.salt,
        "commitment": event.commitment,
    }


def change_json(change: Change) -> dict[str, Any]:
    return {"position": change.position, "event": event_json(change.event)}


def integrity_json(report: ChainReport) -> dict[str, Any]:
    return {
        "length": report.length,
        "headHash": report.head_hash,
        "verified": report.verified,
        "firstBad": report.first_bad,
        "reason": report.reason,
    }


def link_json(link: Link) -> dict[str, Any]:
    return {"code": link.code, "home": link.home, "since": format_datetime(link.since)}
