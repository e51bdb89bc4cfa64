"""The registry store on one SQLite file: the default backend, zero set-up.

All the SQL is `gateway.store.base.Store`'s; this module brings the connection
and the transactions. `RegistryStore` is this class's former name.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.store.base import Store
from gateway.store.sql import Db


class SqliteStore(Store):
    """The store on one SQLite file in WAL mode: zero set-up, one writer at a time.

    `BEGIN IMMEDIATE` takes the database's write lock before the head is read,
    which serializes writers of every process on the file; readers never wait.
    """

    dialect = "sqlite"

    def __init__(self, path: str | Path, *, registry: str = "cn-heis") -> None:
        self.path = str(path)
        super().__init__(registry, self.path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._migrate()

    def close(self) -> None:
        """Close once no reader holds the connection: reads run on worker threads, and a
        request cancelled mid-read (a `totalCount` beside a failed page) may still be in
        one; closing under it would crash the process, not raise."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        with self._begin("BEGIN DEFERRED") as db:
            yield db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._begin("BEGIN IMMEDIATE") as db:
            yield db

    def _lock_feed(self, db: Db) -> None:
        """Nothing to do: SQLite writers already take turns on the file's lock."""

    def _lock_migrations(self, db: Db) -> None:
        """Nothing to add: `BEGIN IMMEDIATE` already holds the file's write lock."""

    def _foreign_tables(self, db: Db) -> list[str]:
        rows = db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' AND name != 'store_migrations'"
        ).fetchall()
        return [name for (name,) in rows]

    @contextmanager
    def _begin(self, begin: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute(begin)
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


RegistryStore = SqliteStore
"""Deprecated alias of `SqliteStore`, kept for one release: the old name did not say
which database it is. Import `SqliteStore` from `gateway.store` instead."""
