"""The registry store on PostgreSQL: several processes and hosts on one database.

Same tables and SQL as the SQLite store (`gateway.store.base.Store`). Writers are
serialized per robot, not per database: an append locks its robot's row
(`SELECT ... FOR UPDATE`), so appends to different robots run in parallel and
two appends to one robot take turns. `(code, sequence)` and the idempotency
key are unique, so even a writer that bypassed the lock could not fork a chain
or store a request twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors

from gateway.store.base import Store
from gateway.store.errors import StoreUnavailable
from gateway.store.sql import Db

__all__ = ["PostgresStore", "StoreUnavailable"]


class _Connection:
    """A psycopg connection spoken to with the `?` placeholders the shared SQL uses."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        return self.conn.execute(placeholders(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(placeholders(sql), rows)


def placeholders(sql: str) -> str:
    """`?` to psycopg's `%s`; the shared SQL has no other `?` nor `%`."""
    return sql.replace("?", "%s")


class PostgresStore(Store):
    """One registry on a PostgreSQL database named by a `postgresql://` URL.

    One connection per store, used by one thread at a time, in autocommit for
    reads; a gateway replica is one process with one store. A connection the
    server dropped is replaced on next use.
    """

    dialect = "postgresql"
    lock_row = " FOR UPDATE"
    retry_errors = (errors.UniqueViolation, errors.SerializationFailure, errors.DeadlockDetected)

    def __init__(self, url: str, *, registry: str = "cn-heis") -> None:
        self.url = url
        self._conn = self._connect()
        info = self._conn.info
        super().__init__(
            registry, f"postgresql://{info.user}@{info.host}:{info.port}/{info.dbname}"
        )
        self._migrate()

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}".strip()) from None

    def close(self) -> None:
        self._conn.close()

    def _connection(self) -> _Connection:
        if self._conn.broken:
            self._conn = self._connect()
        return _Connection(self._conn)

    @contextmanager
    def _reading(self) -> Iterator[_Connection]:
        with self._lock:
            yield self._connection()

    @contextmanager
    def _snapshot(self) -> Iterator[_Connection]:
        with self._lock:
            db = self._connection()
            with db.conn.transaction():
                db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield db

    @contextmanager
    def _transaction(self) -> Iterator[_Connection]:
        with self._lock:
            db = self._connection()
            with db.conn.transaction():
                yield db

    def _lock_feed(self, db: Db) -> None:
        db.execute("SELECT pg_advisory_xact_lock(hashtext('robopass.events.position'))")

    def _lock_migrations(self, db: Db) -> None:
        db.execute("SELECT pg_advisory_xact_lock(hashtext('robopass.store_migrations'))")
