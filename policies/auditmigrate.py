"""Re-commit an audit log's scheme-1 rows under scheme 2, resumably.

A scheme-1 hash is a dictionary oracle over the requester it sits beside, so
the old rows must be re-committed, not only the new ones salted. Every hash
from the first legacy row on changes (each link covers the previous hash), so
the work is done beside the live table and swapped in at the end:

1. Walk the live chain from the first legacy row, checking each row under its
   own scheme (a tampered log is never laundered into a valid one), and write
   the row's new salt, commitment and hashes to `audit_recommit`, a batch per
   transaction. The live table is untouched, so gateways keep appending (new
   rows, already scheme 2, are walked too) and `audit verify` stays clean.
2. At the head, holding the appenders' lock: walk the rows appended meanwhile,
   copy the new chain columns into `audit_log` in one UPDATE, note the
   migration in `audit_migrations` and drop `audit_recommit`.

Killed at any moment, a run leaves either the old chain with a partial
`audit_recommit` (the next run resumes after its last row) or the new chain.
A salt kept from a row that was already scheme 2 stays; the content columns
are never written, so an edit made during the migration still breaks the new
chain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import auditscheme
from .audit import SELECT, AuditLog, checked_hash, content_of
from .auditdb import Backend
from .auditscheme import GENESIS, SALTED

SHADOW = """
CREATE TABLE IF NOT EXISTS audit_recommit (
    id BIGINT PRIMARY KEY,
    salt TEXT NOT NULL,
    commitment TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    legacy INTEGER NOT NULL
)
"""
HISTORY = """
CREATE TABLE IF NOT EXISTS audit_migrations (
    at TEXT NOT NULL,
    to_scheme INTEGER NOT NULL,
    first_id BIGINT NOT NULL,
    head_id BIGINT NOT NULL,
    old_head TEXT NOT NULL,
    new_head TEXT NOT NULL
)
"""
SHADOW_INSERT = (
    "INSERT INTO audit_recommit (id, salt, commitment, prev_hash, hash, legacy)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
SWAP = (
    "UPDATE audit_log SET scheme = 2, salt = n.salt, commitment = n.commitment,"
    " prev_hash = n.prev_hash, hash = n.hash FROM audit_recommit AS n WHERE audit_log.id = n.id"
)
BATCH = 1000


class ChainBroken(Exception):
    """The live chain does not hold at `id`: nothing is swapped in."""

    def __init__(self, id: int) -> None:
        super().__init__(f"audit log broken at record {id}")
        self.id = id


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    """Rows re-committed so far, this run and the runs it resumes."""
    total: int
    """Rows from the first legacy row to the head as last seen."""


@dataclass(frozen=True, slots=True)
class Summary:
    resumed_after: int
    """The last id an earlier, interrupted run had re-committed; 0 for a fresh start."""
    recommitted: int
    """Scheme-1 rows given a salt and a commitment."""
    relinked: int
    """Scheme-2 rows whose hash changed only because their predecessor's did."""
    head_id: int
    old_head: str
    new_head: str


@dataclass(slots=True)
class _Cursor:
    """Where the walk stands: the last row done, its live hash and its new hash."""

    id: int
    live: str
    new: str


def restart(log: AuditLog) -> None:
    """Forget an interrupted run's work (after the live log was restored from a backup)."""
    log.backend.execute("DROP TABLE IF EXISTS audit_recommit")


def pending(log: AuditLog) -> int:
    """How many scheme-1 rows the log still holds."""
    return int(log.backend.query("SELECT COUNT(*) FROM audit_log WHERE scheme = 1")[0][0])


def recommit(
    log: AuditLog, batch: int = BATCH, progress: Callable[[Progress], None] = lambda _: None
) -> Summary | None:
    """Re-commit every scheme-1 row; None when there were none. Raises ChainBroken."""
    db = log.backend
    db.execute(SHADOW)
    db.execute(HISTORY)
    cursor, resumed = _start(db)
    if cursor is None:
        db.execute("DROP TABLE IF EXISTS audit_recommit")
        return None
    first = cursor.id + 1
    done = _count(db, "SELECT COUNT(*) FROM audit_recommit")
    while True:
        rows = db.query(f"{SELECT} WHERE id > ? ORDER BY id LIMIT ?", (cursor.id, batch))
        total = done + _count(db, "SELECT COUNT(*) FROM audit_log WHERE id > ?", (cursor.id,))
        if len(rows) < batch:
            break
        with db.transaction():
            db.insert(SHADOW_INSERT, _walk(rows, cursor))
        done += len(rows)
        progress(Progress(done, total))
    with db.appending():  # the head stands still from here to the swap
        tail: list[tuple[Any, ...]] = []
        for page in _pages(db, cursor.id, batch):
            tail += _walk(page, cursor)
        if tail:
            db.insert(SHADOW_INSERT, tail)
        done += len(tail)
        legacy = _count(db, "SELECT COUNT(*) FROM audit_recommit WHERE legacy = 1")
        db.execute(SWAP)
        db.insert(
            "INSERT INTO audit_migrations VALUES (?, ?, ?, ?, ?, ?)",
            [[datetime.now(UTC).isoformat(), SALTED, first, cursor.id, cursor.live, cursor.new]],
        )
        db.execute("DROP TABLE audit_recommit")
    progress(Progress(done, done))
    return Summary(resumed, legacy, done - legacy, cursor.id, cursor.live, cursor.new)


def _start(db: Backend) -> tuple[_Cursor | None, int]:
    """Resume after the shadow's last row, or start before the first legacy row."""
    last = db.query("SELECT id, hash FROM audit_recommit ORDER BY id DESC LIMIT 1")
    if last:
        id_, new = last[0]
        live = db.query("SELECT hash FROM audit_log WHERE id = ?", (id_,))
        if not live:
            raise ChainBroken(id_)
        return _Cursor(id_, live[0][0], new), id_
    first = db.query("SELECT MIN(id) FROM audit_log WHERE scheme = 1")[0][0]
    if first is None:
        return None, 0
    before = db.query("SELECT hash FROM audit_log WHERE id = ?", (first - 1,))
    prev = before[0][0] if before else GENESIS
    return _Cursor(first - 1, prev, prev), 0


def _pages(db: Backend, after: int, batch: int) -> Iterator[list[tuple[Any, ...]]]:
    while True:
        page = db.query(f"{SELECT} WHERE id > ? ORDER BY id LIMIT ?", (after, batch))
        if page:
            yield page
        if len(page) < batch:
            return
        after = page[-1][0]


def _walk(rows: list[tuple[Any, ...]], at: _Cursor) -> list[tuple[Any, ...]]:
    """Check each live row, then give it its scheme-2 columns; advances `at`."""
    out = []
    for row in rows:
        id_ = row[0]
        if id_ != at.id + 1:
            raise ChainBroken(at.id + 1)
        live = checked_hash(row, at.live)
        if live is None:
            raise ChainBroken(id_)
        scheme, salt, commit = row[-5:-2]
        legacy = scheme == auditscheme.LEGACY
        if legacy:
            salt = auditscheme.new_salt()
            commit = auditscheme.commitment(salt, content_of(row))
        new = auditscheme.salted_hash(id_, commit, at.new)
        out.append((id_, salt, commit, at.new, new, int(legacy)))
        at.id, at.live, at.new = id_, live, new
    return out


def _count(db: Backend, sql: str, params: tuple[Any, ...] = ()) -> int:
    return int(db.query(sql, params)[0][0])
