"""Records and events as they travel: native passport documents, canonical events.

The document is the passport encoded by the node's format adapter. A head hash
names one passport content forever, so encoded documents are cached by it:
encoding an AAS environment costs far more than reading the row.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from adapters.translate import FORMATS
from schema.codec import format_datetime, to_plain
from schema.events import ChainReport, Event
from schema.source import Change, Link, RobotRecord

NODE_FORMATS = ("cn-miit", "aas")


class Documents:
    """Native documents by head hash, least recently used dropped first."""

    def __init__(self, fmt: str, size: int = 2048) -> None:
        if fmt not in NODE_FORMATS:
            raise ValueError(f"unknown node format {fmt!r}; known: {', '.join(NODE_FORMATS)}")
        self.format = fmt
        self._encode = FORMATS[fmt].encode
        self._size = size
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def document(self, record: RobotRecord) -> Any:
        """Called from worker threads: the cache is locked, the encoding is not."""
        key = record.head.hash
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        found = self._encode(to_plain(record.passport))
        with self._lock:
            self._items[key] = found
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return found


def record_json(record: RobotRecord, registry: str, documents: Documents) -> dict[str, Any]:
    return {
        "code": record.passport.code,
        "registry": registry,
        "format": documents.format,
        "head": {"sequence": record.head.sequence, "hash": record.head.hash},
        "document": documents.document(record),
    }


def event_json(event: Event) -> dict[str, Any]:
    return {
        "code": event.code,
        "sequence": event.sequence,
        "at": format_datetime(event.at),
        "type": event.type.value,
        "payload": event.payload,
        "prevHash": event.prev_hash,
        "hash": event.hash,
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
