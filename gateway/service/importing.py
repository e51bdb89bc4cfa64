"""Reading passports with their histories for `robopass registry import`, one document a line.

Each line of an NDJSON file is one robot, in one of two shapes (docs/operations.md,
"Bulk import"):

- **a passport and its later events**: `{"format": "cn-miit" | "canonical",
  "passport": DOCUMENT, "events": [{"at", "type", "payload"}, ...]}`. The
  passport, in its format, is what the robot was registered as (a
  `REGISTERED` event at its `identity.registered_at`); the events, canonical
  and oldest first, are what happened since. They are chained here as if
  appended one by one, each with a fresh salt (hash scheme 2).
- **a chained log**, as a registry node serves it (`GET /robots/{code}/events`):
  `{"code": CODE, "events": [event, ...]}` with every event's `sequence`,
  `prevHash`, `hash`, `scheme`, `salt` and `commitment`. The chain must verify
  as it stands; it is stored with its hashes.

Every document is checked before anything is written: JSON, shape, the
passport against its format, the robot code (RPC-29, check character
included), every event decoded and applied in order (the fold's rules), the
chain. A bad document becomes a `Rejected` with its line and the rule it
broke, and the rest go on. The rules of live writes (`schema.writes`: times
against the clock, nothing after end of life) are not applied: an import
carries a history that already happened.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any

import orjson

from adapters.errors import InvalidDocument
from adapters.translate import FORMATS
from gateway.service.workers import in_order
from gateway.store.bulk import Incoming, Rejected
from schema.code import RobotCode, RobotCodeError
from schema.codec import DecodeError, from_plain, parse_datetime, to_plain
from schema.events import (
    GENESIS,
    Event,
    EventError,
    EventType,
    apply_in_place,
    canonical_json,
    chain,
    decode_payload,
    verify,
)
from schema.passport import Passport

IMPORT_FORMATS = ("canonical", "cn-miit")
SUFFIXES = (".ndjson", ".jsonl")
FRESH_TYPES = frozenset(EventType) - {EventType.REGISTERED, EventType.CHAIN_RECOMMITTED}


class BadDocument(ValueError):
    """One document broke `rule`; the message says what and where."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def sources(paths: Iterable[str], stdin: IO[bytes]) -> Iterator[tuple[str, IO[bytes]]]:
    """Each input as (name, binary stream): `-` is standard input, a folder its NDJSON files
    in name order. A path that cannot be read raises OSError before any line is read."""
    files: list[tuple[str, Path | None]] = []
    for given in paths:
        if given == "-":
            files.append(("<stdin>", None))
            continue
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
            files.extend((str(p), p) for p in found)
        elif path.exists():
            files.append((str(path), path))
        else:
            raise FileNotFoundError(2, "no such file or folder", given)
    for name, file in files:
        if file is None:
            yield name, stdin
        else:
            with file.open("rb") as stream:
                yield name, stream


def documents(
    inputs: Iterable[tuple[str, IO[bytes]]], *, workers: int = 1
) -> Iterator[tuple[str, Incoming | Rejected]]:
    """Every non-blank line of every input, parsed and checked, with its source's name, in
    input order. With `workers` > 1 the lines are checked in that many processes, once
    there are more than a task for each (starting them takes seconds; a few lines less)."""
    lines = _lines(inputs)
    first = list(islice(lines, workers * CHUNK_LINES)) if workers > 1 else []
    if workers <= 1 or len(first) < workers * CHUNK_LINES:
        for name, number, text in itertools.chain(first, lines):
            yield name, parse_line(name, number, text)
        return
    yield from _in_workers(itertools.chain(first, lines), workers)


Line = tuple[str, int, bytes]
CHUNK_LINES = 16  # lines per task: a few hundred milliseconds of work, so pickling is noise


def _lines(inputs: Iterable[tuple[str, IO[bytes]]]) -> Iterator[Line]:
    for name, stream in inputs:
        for number, text in enumerate(stream, start=1):
            if text.strip():
                yield name, number, text


def _in_workers(lines: Iterator[Line], workers: int) -> Iterator[tuple[str, Incoming | Rejected]]:
    """Check lines in `workers` processes (`gateway.service.workers`), results in input order.

    Reading lines and storing results stay in the caller's process, so an
    import killed at any point resumes exactly as a one-process import does:
    what the workers had checked but nobody stored is checked again. The
    window of tasks in flight is bounded, so a file of millions of lines is
    never read ahead into memory.
    """
    for checked in in_order(
        _check_chunk, _chunks(lines, CHUNK_LINES), workers=workers, preload=[__name__]
    ):
        yield from checked


def _chunks(lines: Iterator[Line], size: int) -> Iterator[list[Line]]:
    while chunk := list(islice(lines, size)):
        yield chunk


def _check_chunk(chunk: list[Line]) -> list[tuple[str, Incoming | Rejected]]:
    """A worker's task: lines checked and encoded, as `documents` yields them."""
    return [(name, parse_line(name, number, text)) for name, number, text in chunk]


def parse_line(source: str, number: int, text: bytes) -> Incoming | Rejected:
    """One line as a robot ready to store, or why it cannot be stored."""
    try:
        return Incoming.of(number, *_document(text))
    except BadDocument as exc:
        return Rejected(source, number, exc.rule, str(exc))


Checked = tuple[list[Event], Passport, list[bytes]]
"""A document's chained log, the passport it folds to and each payload's canonical JSON
(the text the commitment covers and the store keeps: encoded once, for both)."""


def _document(text: bytes) -> Checked:
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadDocument("json", f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BadDocument("shape", "a line must be one JSON object")
    events = doc.get("events", [])
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise BadDocument("shape", '"events" must be a list of objects')
    if "passport" in doc:
        return _fresh(doc, events)
    if "code" in doc:
        return _chained(doc, events)
    raise BadDocument("shape", 'a line needs "passport" (with "format") or "code" and "events"')


def _code(value: Any) -> str:
    if not isinstance(value, str):
        raise BadDocument("code", "the robot code must be a string")
    try:
        return RobotCode(value).value
    except RobotCodeError as exc:
        raise BadDocument(f"code.{exc.rule}", f"robot code {value!r}: {exc}") from None


def _fresh(doc: dict[str, Any], events: list[dict[str, Any]]) -> Checked:
    """A passport and its later events, chained here as single appends would chain them."""
    fmt = doc.get("format", "canonical")
    if fmt not in IMPORT_FORMATS:
        known = ", ".join(IMPORT_FORMATS)
        raise BadDocument("format", f"unknown format {fmt!r}; import takes {known}")
    adapter = FORMATS[fmt]
    try:
        adapter.validate(doc["passport"])
        plain = to_plain(from_plain(Passport, adapter.decode(doc["passport"])))
    except InvalidDocument as exc:
        first = exc.violations[0]
        raise BadDocument("passport", f"not a valid {fmt} passport: {first}") from None
    except DecodeError as exc:
        raise BadDocument("passport", f"not a valid {fmt} passport: {exc}") from None
    code = _code(plain["identity"]["code"])
    at = parse_datetime(plain["identity"]["registered_at"])
    texts = [canonical_json(plain)]
    chained = [chain(code, 1, at, EventType.REGISTERED, plain, GENESIS, text=texts[0])]
    for index, event in enumerate(events):
        where = f"events[{index}]"
        try:
            type_ = EventType(event.get("type"))
            when = parse_datetime(event["at"])
            payload = event["payload"]
        except (KeyError, TypeError, ValueError):
            raise BadDocument("event", f"{where} needs at, type and payload") from None
        if type_ not in FRESH_TYPES or not isinstance(payload, dict):
            raise BadDocument("event", f"{where}: {type_.value} cannot be imported as an event")
        previous = chained[-1]
        texts.append(canonical_json(payload))
        sequence = previous.sequence + 1
        chained.append(chain(code, sequence, when, type_, payload, previous.hash, text=texts[-1]))
    return chained, _folded(chained), texts


def _chained(doc: dict[str, Any], events: list[dict[str, Any]]) -> Checked:
    """A log with its hashes, from another registry: stored as it stands if it verifies."""
    code = _code(doc["code"])
    if not events:
        raise BadDocument("shape", "a chained log needs at least its REGISTERED event")
    chained = []
    for index, event in enumerate(events):
        try:
            chained.append(_event(event))
        except (KeyError, TypeError, ValueError):
            raise BadDocument("event", f"events[{index}] is not a stored event") from None
        if chained[-1].code != code:
            raise BadDocument("event", f"events[{index}] belongs to robot {chained[-1].code}")
    texts = [canonical_json(event.payload) for event in chained]
    report = verify(chained, texts)
    if not report.verified:
        raise BadDocument("chain", f"chain breaks at sequence {report.first_bad}: {report.reason}")
    return chained, _folded(chained), texts


def _event(plain: dict[str, Any]) -> Event:
    salt, commitment = plain.get("salt"), plain.get("commitment")
    return Event(
        str(plain["code"]),
        int(plain["sequence"]),
        parse_datetime(plain["at"]),
        EventType(plain["type"]),
        dict(plain["payload"]),
        str(plain["prevHash"]),
        str(plain["hash"]),
        int(plain["scheme"]),
        None if salt is None else str(salt),
        None if commitment is None else str(commitment),
    )


def _folded(events: list[Event]) -> Passport:
    """The passport the log folds to; an event that cannot apply rejects the document."""
    passport: Passport | None = None
    for event in events:
        try:
            if passport is None:
                if event.type is not EventType.REGISTERED:
                    raise EventError(f"{event.type.value} before REGISTERED")
                passport = decode_payload(event.type, event.payload)
            else:
                passport = apply_in_place(passport, event.type, event.payload)
        except (EventError, DecodeError, ValueError) as exc:
            raise BadDocument("event", f"sequence {event.sequence} does not apply: {exc}") from None
    assert passport is not None
    if passport.code != events[0].code:
        raise BadDocument("event", "the registered passport has another robot's code")
    return passport
