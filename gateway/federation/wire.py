"""What a registry node sends, turned into our types: pure functions, no I/O.

A node speaks its native format (docs/registry-api.md); each document is
checked against that format's schema and translated to the canonical
passport by the format's adapter, since nothing crossing a boundary is
trusted. Events travel canonical already, with their hash scheme, salt and
commitment (the gateway masks them as it masks payloads); an event whose
link or commitment does not hold is refused like a document that fails its
schema. A record that does not parse is
`BadRecord`, and the federation reports its registry as unavailable for it
rather than serve something half read.
"""

from __future__ import annotations

from typing import Any

from adapters.errors import InvalidDocument
from adapters.translate import FORMATS
from schema.codec import DecodeError, format_datetime, from_plain, parse_datetime
from schema.events import LEGACY_SCHEME, ChainReport, Event, EventType, check_event
from schema.passport import Passport
from schema.source import Change, Head


class BadRecord(ValueError):
    """A node's answer that is not what the contract promises."""


def passport_of(fmt: str, document: Any) -> Passport:
    """The canonical passport of a native document, validated first."""
    adapter = FORMATS[fmt]
    try:
        adapter.validate(document)
        return from_plain(Passport, adapter.decode(document))
    except InvalidDocument as exc:
        first = exc.violations[0] if exc.violations else None
        where = f" at {first.pointer or '/'}: {first.message}" if first else ""
        raise BadRecord(f"{fmt} document fails its schema{where}") from None
    except (DecodeError, ValueError, KeyError, TypeError) as exc:
        raise BadRecord(f"{fmt} document does not translate: {exc}") from None


def head_of(record: Any) -> Head:
    try:
        head = record["head"]
        return Head(int(head["sequence"]), str(head["hash"]))
    except (KeyError, TypeError, ValueError):
        raise BadRecord("record without a head {sequence, hash}") from None


def event_of(data: Any) -> Event:
    """An event as a node sends it; a node from before salting sends no scheme (1)."""
    try:
        event = Event(
            code=data["code"],
            sequence=int(data["sequence"]),
            at=parse_datetime(data["at"]),
            type=EventType(data["type"]),
            payload=dict(data["payload"]),
            prev_hash=data["prevHash"],
            hash=data["hash"],
            scheme=int(data.get("scheme", LEGACY_SCHEME)),
            salt=_optional_text(data.get("salt")),
            commitment=_optional_text(data.get("commitment")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRecord(f"event does not parse: {exc}") from None
    reason = check_event(event)
    if reason is not None:
        raise BadRecord(f"event {event.code}#{event.sequence} does not verify: {reason}")
    return event


def _optional_text(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"expected a string or null, got {type(value).__name__}")
    return value


def change_of(data: Any) -> Change:
    try:
        return Change(int(data["position"]), event_of(data["event"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRecord(f"change does not parse: {exc}") from None


def chain_report_of(data: Any) -> ChainReport:
    try:
        return ChainReport(
            length=int(data["length"]),
            head_hash=str(data["headHash"]),
            first_bad=data.get("firstBad"),
            reason=data.get("reason"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRecord(f"integrity report does not parse: {exc}") from None


def event_body(type: EventType, payload: dict[str, Any], at: Any) -> dict[str, Any]:
    """The body of `POST /robots/{code}/events`."""
    return {"type": type.value, "at": format_datetime(at), "payload": payload}
