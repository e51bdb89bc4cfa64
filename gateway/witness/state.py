"""The witness's memory: the latest checkpoint it cosigned per log, in SQLite.

One row per origin. Moving a log forward is a compare-and-set inside one
immediate transaction (`UPDATE ... WHERE size = old`), committed with
synchronous=FULL before the cosignature leaves the process: a witness killed
at any point either has the new checkpoint on disk or answers as if it never
saw it, and two requests racing on one log cannot both win. Checkpoints it
refused as inconsistent are kept as evidence.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["Latest", "WitnessState"]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS latest (origin TEXT PRIMARY KEY, size INTEGER NOT NULL,"
    " root BLOB NOT NULL, note TEXT NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS refused (id INTEGER PRIMARY KEY, origin TEXT NOT NULL,"
    " note TEXT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL)",
)


@dataclass(frozen=True, slots=True)
class Latest:
    size: int
    root: bytes
    note: str


class WitnessState:
    """The per-log state in the SQLite file at `path`."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._lock = threading.Lock()
        for statement in SCHEMA:
            self._db.execute(statement)

    def close(self) -> None:
        self._db.close()

    def latest(self, origin: str) -> Latest | None:
        with self._lock:
            row = self._db.execute(
                "SELECT size, root, note FROM latest WHERE origin = ?", (origin,)
            ).fetchone()
        return Latest(row[0], bytes(row[1]), row[2]) if row else None

    def advance(self, origin: str, old: int, size: int, root: bytes, note: str) -> bool:
        """Record (size, root) as the latest of `origin` if its latest size is still `old`."""
        now = datetime.now(UTC).isoformat()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT size, root FROM latest WHERE origin = ?", (origin,)
                ).fetchone()
                current = row[0] if row else 0
                if current != old:
                    self._db.execute("ROLLBACK")
                    return False
                if row is not None and row[0] == size and bytes(row[1]) != root:
                    self._db.execute("ROLLBACK")
                    return False
                self._db.execute(
                    "INSERT INTO latest (origin, size, root, note, updated_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET"
                    " size = excluded.size, root = excluded.root, note = excluded.note,"
                    " updated_at = excluded.updated_at",
                    (origin, size, root, note, now),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return True

    def refuse(self, origin: str, note: str, reason: str) -> None:
        """Keep a checkpoint refused as inconsistent: the evidence of a split view."""
        now = datetime.now(UTC).isoformat()
        with self._lock:
            self._db.execute(
                "INSERT INTO refused (origin, note, reason, at) VALUES (?, ?, ?, ?)",
                (origin, note, reason, now),
            )

    def refused(self, origin: str) -> list[tuple[str, str, str]]:
        """The refused checkpoints of `origin`: (note, reason, time), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT note, reason, at FROM refused WHERE origin = ? ORDER BY id", (origin,)
            ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]
