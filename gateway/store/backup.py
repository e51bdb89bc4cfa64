"""Online backups of SQLite registry files, while the gateway keeps serving and writing.

SQLite's online backup API copies a database page by page from a live
connection. It is run here in one step, so the copy is one consistent
snapshot (a read transaction; in WAL mode writers go on meanwhile), never a
file copied half before and half after a write, which a plain `cp` of a
live database can be. PostgreSQL has its own tools (`pg_dump`), see
docs/operations.md.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


class BackupError(Exception):
    """The source is not a SQLite database or the copy cannot be written; says which."""


def backup_sqlite(source: str | Path, target: str | Path) -> int:
    """Copy the SQLite database `source` to a new file `target`; returns its size in bytes.

    Refuses an existing `target`: a backup never overwrites anything.
    """
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    if target.exists():
        raise BackupError(f"{target} already exists; a backup never overwrites a file")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        src = sqlite3.connect(source)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {source}: {exc}") from None
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # one step: one consistent snapshot of the source
        except sqlite3.DatabaseError as exc:
            dst.close()
            target.unlink(missing_ok=True)
            raise BackupError(f"cannot back up {source}: {exc}") from None
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        dst.close()
    finally:
        src.close()
    return target.stat().st_size
