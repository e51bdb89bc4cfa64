"""Storing many whole histories at once: the write half of `registry import` and `seed`.

A batch of robots, each with its whole chained log, is written in one
transaction: the rows are streamed with the backend's bulk path (PostgreSQL
`COPY`, SQLite one prepared statement over the rows), feed positions are
drawn under the feed lock exactly as single appends draw them (each robot's
events contiguous, in sequence order), and the snapshot is the fold of the
log, so the store ends exactly as if every event had been appended one by one.

Which robots are already stored is decided inside that transaction, so an
import that is killed and run again, or two importers at once, never store a
robot twice: a robot stored with the same history (same times, types and
payloads, in order) is kept as it is, one stored with another history is a
clash the caller reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from gateway.store import copytext
from gateway.store.sql import ROBOT_ROW, Db, robot_row, row_event
from schema.codec import format_datetime, from_plain
from schema.events import Event, canonical_json
from schema.passport import Passport

CHUNK = 500  # codes per `IN (...)`: well under SQLite's parameter limit


UPDATED_AT = ROBOT_ROW.index("updated_at")
SNAPSHOT = ROBOT_ROW.index("snapshot")
OWNER = slice(ROBOT_ROW.index("owner"), ROBOT_ROW.index("owner_id") + 1)
"""The robot's current owner and owner id, which each of its events carries (`sql.FEED_OWNER`)."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One robot to store, as the rows it becomes: its chained, verified log and the passport
    it folds to, already encoded.

    Encoding a long history (its payloads and the snapshot, the text the hashes
    cover) costs as much as checking it, so it is done where the document was
    checked: in `registry import`'s worker processes, which hand back these
    rows (bytes pickle cheaply; dataclasses do not): each event, and the robot,
    as a line of `COPY` text (`copytext`), one bytes object each, which
    PostgreSQL takes as it is. The store's transaction adds only what it alone
    knows: the time recorded and the feed positions. `line` says where it came
    from (a line of an import file, a robot of a seeded fleet), so a clash can
    be reported there.
    """

    line: int
    code: str
    event_lines: tuple[bytes, ...]  # copytext.EVENT_LINE, one line per event
    robot_line: bytes  # copytext.ROBOT_LINE

    @classmethod
    def of(
        cls,
        line: int,
        events: Sequence[Event],
        passport: Passport,
        texts: Sequence[bytes] | None = None,
    ) -> Incoming:
        """A checked log and its fold, encoded as the store will hold them; `texts` are the
        payloads' canonical JSON when checking the chain already made them."""
        if texts is None:
            texts = [canonical_json(event.payload) for event in events]
        row = robot_row(passport, events[-1], None)
        robot = copytext.robot_columns(*row[OWNER])
        pairs = zip(events, texts, strict=True)
        lines = tuple(copytext.event_line(event, text, robot) for event, text in pairs)
        robot_line = copytext.line(row[:UPDATED_AT] + row[UPDATED_AT + 1 :])
        return cls(line, events[0].code, lines, robot_line)

    @property
    def robot_row(self) -> tuple[Any, ...]:
        """The robot as a row of ROBOT_ROW, `updated_at` None, from its line."""
        values = copytext.row_of(self.robot_line, copytext.ROBOT_LINE)
        return (*values[:UPDATED_AT], None, *values[UPDATED_AT:])

    @property
    def event_rows(self) -> tuple[tuple[Any, ...], ...]:
        """The events as rows of `sql.EVENT_COLUMNS`, read back from their lines."""
        return copytext.event_rows(self.event_lines)

    @property
    def events(self) -> list[Event]:
        return [row_event(row) for row in self.event_rows]

    @property
    def passport(self) -> Passport:
        return from_plain(Passport, orjson.loads(self.robot_row[SNAPSHOT]))

    def content(self) -> Content:
        """`content` of the log, read from its rows: the text stored is the text hashed."""
        return [(r[1], r[2], r[3], orjson.loads(r[4])) for r in self.event_rows]


@dataclass(slots=True)
class BatchResult:
    """What became of a batch, by index into it: added, already stored alike, clashing."""

    added: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    clashes: list[int] = field(default_factory=list)


Content = list[tuple[int, str, str, Any]]


def content(events: Sequence[Event]) -> Content:
    """What two histories of one robot must share to be the same: hashes and salts aside.

    Payloads compare as JSON values (78 and 78.0 are one number), so a history
    sent once as a chained log and once as a passport in a format is the same.
    """
    return [(e.sequence, format_datetime(e.at), e.type.value, e.payload) for e in events]


class BulkStore:
    """`store_batch` of `Store` (a mixin: the store brings the connection and the bulk path)."""

    _write: Callable[..., Any]
    _lock_feed: Callable[..., Any]
    reach_new: Callable[..., Any]

    def _insert_lines(
        self, db: Db, table: str, columns: Sequence[str], lines: Sequence[bytes]
    ) -> None:
        """Insert rows given as whole lines of `COPY` text (`copytext`).

        The bulk path's one seam between the backends: PostgreSQL streams the
        lines to `COPY` as they are; this default, SQLite's, reads them back
        into rows for one prepared statement over them.
        """
        rows = [copytext.row_of(line, columns) for line in lines]
        marks = ", ".join("?" * len(columns))
        db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def store_batch(self, batch: Sequence[Incoming], *, stop_at_clash: bool = False) -> BatchResult:
        """Store the robots of `batch` not yet stored, in one transaction.

        With `stop_at_clash`, nothing from the first clashing robot on is stored
        (the `--strict` import), so what is stored is exactly what came before it.
        """
        now = format_datetime(datetime.now(UTC))

        def work(db: Db) -> BatchResult:
            result = BatchResult()
            stored = _stored_content(db, [i.code for i in batch])
            fresh: list[Incoming] = []
            earlier: dict[str, Incoming] = {}  # added by this batch: compared only if repeated
            for index, incoming in enumerate(batch):
                before = earlier.get(incoming.code)
                known = stored.get(incoming.code) if before is None else before.content()
                if known is None:
                    fresh.append(incoming)
                    earlier[incoming.code] = incoming
                    result.added.append(index)
                elif known == incoming.content():
                    result.kept.append(index)
                else:
                    result.clashes.append(index)
                    if stop_at_clash:
                        break
            self._insert_histories(db, fresh, now)
            return result

        return self._write(work)

    def _insert_histories(self, db: Db, fresh: Sequence[Incoming], now: str) -> None:
        """Insert robots known to be absent, with feed positions after every earlier one."""
        if not fresh:
            return
        self._lock_feed(db)
        (last,) = db.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()
        lines = [line for incoming in fresh for line in incoming.event_lines]
        events = copytext.numbered(lines, now, last + 1)
        self._insert_lines(db, "events", copytext.EVENT_COLUMNS, events)
        robots = copytext.stamped([incoming.robot_line for incoming in fresh], now)
        self._insert_lines(db, "robots", copytext.ROBOT_COLUMNS, robots)
        # Campaigns already issued reach the robots they select, imported or seeded alike;
        # the passports are decoded from their snapshots only when there is a campaign.
        self.reach_new(db, (i.passport for i in fresh))


def _stored_content(db: Db, codes: Sequence[str]) -> dict[str, Content]:
    """The stored histories of those of `codes` that are stored, as `content` gives them."""
    found: dict[str, Content] = {}
    unique = list(dict.fromkeys(codes))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        marks = ", ".join("?" * len(chunk))
        present = db.execute(f"SELECT code FROM robots WHERE code IN ({marks})", chunk).fetchall()
        if not present:
            continue
        names = [row[0] for row in present]
        marks = ", ".join("?" * len(names))
        rows = db.execute(
            f"SELECT code, sequence, at, type, payload FROM events WHERE code IN ({marks})"
            " ORDER BY code, sequence",
            names,
        ).fetchall()
        for name in names:
            found[name] = []
        for code, sequence, at, type_, payload in rows:
            found[code].append((sequence, at, type_, orjson.loads(payload)))
    return found


@dataclass(frozen=True, slots=True)
class Rejected:
    """A document not stored: where it was, the rule it broke and one line saying how."""

    source: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.rule}: {self.message}"


@dataclass(slots=True)
class ImportSummary:
    """The outcome of an import: counts, every rejected document, whether `strict` stopped it."""

    added: int = 0
    kept: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    stopped: bool = False


CLASH_RULE = "robot.exists"


def run_import(
    store: BulkStore,
    items: Iterable[tuple[str, Incoming | Rejected]],
    *,
    batch: int = 500,
    strict: bool = False,
    progress: Callable[[int], object] | None = None,
) -> ImportSummary:
    """Store every `Incoming` of `items` a batch (one transaction) at a time.

    `items` pairs each document with the name of its source, and a document
    that was already refused while reading (`Rejected`) is only counted. One
    bad document does not stop the rest unless `strict`: then the batch before
    it is stored and nothing after it. A run killed between batches resumes by
    running it again: what a committed batch stored is kept, never stored twice.
    """
    summary = ImportSummary()
    pending: list[tuple[str, Incoming]] = []
    codes: set[str] = set()

    def flush() -> None:
        if not pending:
            return
        done = store.store_batch([item for _, item in pending], stop_at_clash=strict)
        summary.added += len(done.added)
        summary.kept += len(done.kept)
        for index in done.clashes:
            source, item = pending[index]
            message = f"robot {item.code} is already stored with another history; nothing changed"
            summary.rejected.append(Rejected(source, item.line, CLASH_RULE, message))
        if progress is not None:
            progress(len(pending))
        pending.clear()
        codes.clear()
        if strict and done.clashes:
            summary.stopped = True

    for source, item in items:
        if isinstance(item, Rejected):
            summary.rejected.append(item)
            if progress is not None:
                progress(1)
            if strict:
                flush()
                summary.stopped = True
                return summary
            continue
        if item.code in codes:
            flush()  # the same robot twice in one batch: the second is checked against the first
            if summary.stopped:
                return summary
        pending.append((source, item))
        codes.add(item.code)
        if len(pending) >= batch:
            flush()
            if summary.stopped:
                return summary
    flush()
    return summary
