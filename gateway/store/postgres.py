"""The registry store on PostgreSQL: several processes and hosts on one database.

Same tables and SQL as the SQLite store (`gateway.store.base.Store`). Writers are
serialized per robot, not per database: an append locks its robot's row
(`SELECT ... FOR UPDATE`), so appends to different robots run in parallel and
two appends to one robot take turns. `(code, sequence)` and the idempotency
key are unique, so even a writer that bypassed the lock could not fork a chain
or store a request twice.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool

from gateway.store.base import Store
from gateway.store.deadline import statement_timeout_ms
from gateway.store.errors import StoreUnavailable
from gateway.store.feedwatch import CHANNEL_SQL, FeedWatcher, ListeningWatcher
from gateway.store.sql import Db

__all__ = ["PostgresStore", "StoreUnavailable"]

# How long a request waits for a free connection before it fails (`psycopg_pool.PoolTimeout`,
# an OperationalError like any other database failure).
POOL_WAIT_SECONDS = 10.0
SET_TIMEOUT = "SELECT set_config('statement_timeout', %s, false)"
COPY_LINES = 1000  # events per write to a COPY: about a megabyte, not a whole batch joined


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

    A pool of up to `pool_size` connections (in autocommit for reads), so that
    requests served on worker threads read side by side and one slow query
    holds one connection, not the whole replica. A connection the server
    dropped fails the statement it was running and leaves the pool; the next
    one is opened in its place.
    """

    dialect = "postgresql"
    lock_row = " FOR UPDATE"
    retry_errors = (errors.UniqueViolation, errors.SerializationFailure, errors.DeadlockDetected)

    def __init__(self, url: str, *, registry: str = "cn-heis", pool_size: int = 4) -> None:
        self.url = url
        self.pool_size = pool_size
        # One connection first: an unreachable server is reported at once, with libpq's
        # reason, instead of as a pool timing out on its background attempts.
        with self._connect() as first:
            info = first.info
            location = f"postgresql://{info.user}@{info.host}:{info.port}/{info.dbname}"
        super().__init__(registry, location)
        # The statement_timeout each pooled connection was last given (None: the server's).
        self._timeouts: weakref.WeakKeyDictionary[psycopg.Connection, int | None] = (
            weakref.WeakKeyDictionary()
        )
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},
            timeout=POOL_WAIT_SECONDS,
            name=f"robopass-{registry}",
            open=True,
        )
        try:
            self._migrate()
        except BaseException:
            self._pool.close()
            raise

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}".strip()) from None

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def _pooled(self) -> Iterator[psycopg.Connection]:
        """A pooled connection whose statements end by the caller's deadline, if it has one."""
        with self._pool.connection() as conn:
            wanted = statement_timeout_ms()
            if self._timeouts.get(conn, -1) != wanted:
                if wanted is None:
                    conn.execute("RESET statement_timeout")
                else:
                    conn.execute(SET_TIMEOUT, (str(wanted),))
                self._timeouts[conn] = wanted
            yield conn

    @contextmanager
    def _reading(self) -> Iterator[_Connection]:
        with self._pooled() as conn:
            yield _Connection(conn)

    @contextmanager
    def _snapshot(self) -> Iterator[_Connection]:
        with self._pooled() as conn, conn.transaction():
            db = _Connection(conn)
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield db

    @contextmanager
    def _transaction(self) -> Iterator[_Connection]:
        with self._pooled() as conn, conn.transaction():
            yield _Connection(conn)

    def _insert_lines(
        self, db: Db, table: str, columns: Sequence[str], lines: Sequence[bytes]
    ) -> None:
        """COPY the lines in as the workers made them (`copytext`): one stream instead
        of a statement per row, and psycopg neither formats nor escapes a value again."""
        assert isinstance(db, _Connection)
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with db.conn.cursor() as cursor, cursor.copy(statement) as copy:
            for start in range(0, len(lines), COPY_LINES):
                copy.write(b"".join(lines[start : start + COPY_LINES]))

    def _lock_feed(self, db: Db) -> None:
        """Take the feed lock and tell every replica's watcher, when this commits, that the
        feed moved: whoever takes the lock adds events (`gateway.store.feedwatch`). Lock
        and channel are the schema's own: registries in one database neither wait for
        nor wake each other."""
        db.execute(
            "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.events.position')),"
            f" pg_notify({CHANNEL_SQL}, '')"
        )

    def watch_feed(self, on_change: Callable[[], None], interval: float) -> FeedWatcher:
        """One LISTEN connection for this store, outside the pool; `interval` is unused."""
        return ListeningWatcher(self.url, on_change)

    def _lock_migrations(self, db: Db) -> None:
        db.execute("SELECT pg_advisory_xact_lock(hashtext('robopass.store_migrations'))")
