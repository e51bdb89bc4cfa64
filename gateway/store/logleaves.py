"""The events of a store as its transparency log reads them: in feed order, one leaf each.

The feed position (gap-free, in commit order, see migration 0002) is the
append order of the log: the event at position p is leaf p - 1. Reads only;
the log's tree and signatures live in `gateway.service.transparency`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from gateway.store.sql import with_limit


@dataclass(frozen=True, slots=True)
class LogRow:
    """One event as a log leaf sees it."""

    position: int
    code: str
    sequence: int
    commitment: str | None
    hash: str


class LogLeavesStore:
    """Log reads of `Store` (a mixin: the store brings the connection)."""

    _reading: Callable[[], AbstractContextManager[Any]]

    def log_rows(self, after: int, limit: int) -> list[LogRow]:
        """Events at feed positions after `after`, in order, at most `limit`."""
        sql = (
            "SELECT position, code, sequence, commitment, hash FROM events"
            " WHERE position > ? ORDER BY position"
        )
        with self._reading() as db:
            rows = db.execute(*with_limit(sql, [after], limit)).fetchall()
        return [LogRow(*row) for row in rows]

    def log_entry(self, code: str, sequence: int) -> LogRow | None:
        """One event as a leaf, None if there is no such event."""
        with self._reading() as db:
            row = db.execute(
                "SELECT position, code, sequence, commitment, hash FROM events"
                " WHERE code = ? AND sequence = ?",
                (code, sequence),
            ).fetchone()
        return LogRow(*row) if row else None

    def log_entries(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], LogRow]:
        """Many events as leaves in one read, by (code, sequence); absent keys are left out.

        For a list answer's proofs: one query for a page of robots, not one per robot."""
        if not keys:
            return {}
        where = " OR ".join(["(code = ? AND sequence = ?)"] * len(keys))
        args = [part for key in keys for part in key]
        with self._reading() as db:
            rows = db.execute(
                f"SELECT position, code, sequence, commitment, hash FROM events WHERE {where}",
                args,
            ).fetchall()
        found = [LogRow(*row) for row in rows]
        return {(r.code, r.sequence): r for r in found}
