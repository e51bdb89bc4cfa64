"""Where the audit log lives: one SQLite file, or a PostgreSQL database by URL.

Both backends run the same portable SQL (`?` placeholders, explicit ids); they
differ only in how a writer becomes the single appender of the chain. SQLite's
`BEGIN IMMEDIATE` takes the file's write lock; PostgreSQL's `LOCK TABLE ... IN
EXCLUSIVE MODE` blocks other appenders (any process, any host) while readers
go on. The appender then reads the head and inserts after it, so two writers
can never both extend the same head. psycopg is imported only for a
PostgreSQL URL: it is the optional `postgres` extra.

The table's shape evolves by `SCHEMA_STEPS`, applied in order each time a log
is opened: each adds what an older log lacks and is a no-op on a newer one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

POSTGRES_SCHEMES = ("postgresql://", "postgres://")

TABLE = """
CREATE TABLE IF NOT EXISTS audit_log (
    id {id_type} PRIMARY KEY,
    at TEXT NOT NULL,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    organisation TEXT,
    role TEXT NOT NULL,
    token_id TEXT,
    code TEXT NOT NULL,
    served TEXT NOT NULL,
    denied TEXT NOT NULL,
    purposes TEXT NOT NULL,
    agreements TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    action TEXT,
    scheme INTEGER NOT NULL DEFAULT 1,
    salt TEXT,
    commitment TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)
"""
INDEX = "CREATE INDEX IF NOT EXISTS audit_log_code ON audit_log (code, id)"
SCHEMA_STEPS: tuple[tuple[str, str], ...] = (
    ("action", "ALTER TABLE audit_log ADD COLUMN action TEXT"),
    # Logs written before writes were audited lack the column; NULL there means a read.
    ("scheme", "ALTER TABLE audit_log ADD COLUMN scheme INTEGER NOT NULL DEFAULT 1"),
    ("salt", "ALTER TABLE audit_log ADD COLUMN salt TEXT"),
    ("commitment", "ALTER TABLE audit_log ADD COLUMN commitment TEXT"),
    # Salted commitments (hash scheme 2): rows written before them are scheme 1 and keep
    # verifying as such until `robopass audit migrate` re-commits them.
)
"""(column, statement adding it): the log's schema steps, oldest first."""


class Backend(Protocol):
    """A connection that runs the log's statements; `appending` holds the chain's head."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """A statement that returns no rows (DDL, UPDATE)."""
        ...

    def appending(self) -> Any:
        """Context manager: one transaction in which this caller alone may append."""
        ...

    def insert(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def transaction(self) -> Any:
        """Context manager: one transaction that does not hold off appenders."""
        ...

    def close(self) -> None: ...


class SQLiteBackend:
    """One file in WAL mode: readers never wait for the appender."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(TABLE.format(id_type="INTEGER"))
        self._db.execute(INDEX)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(audit_log)")}
        for column, statement in SCHEMA_STEPS:
            if column not in columns:
                self._db.execute(statement)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._db.execute(sql, params)

    @contextmanager
    def appending(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def insert(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # IMMEDIATE: a writer that would otherwise upgrade mid-transaction can deadlock.
        with self.appending():
            yield

    def close(self) -> None:
        self._db.close()


class PostgresBackend:
    """A PostgreSQL database; the table is created on first use."""

    def __init__(self, url: str) -> None:
        import psycopg

        self._db = psycopg.connect(url, autocommit=True)
        with self._db.transaction():
            # Concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalogue.
            self._db.execute("SELECT pg_advisory_xact_lock(hashtext('robopass.audit_log'))")
            self._db.execute(TABLE.format(id_type="BIGINT"))
            self._db.execute(INDEX)
            for _, statement in SCHEMA_STEPS:
                self._db.execute(statement.replace("COLUMN", "COLUMN IF NOT EXISTS"))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._db.execute(_pg(sql), params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._db.execute(_pg(sql), params)

    @contextmanager
    def appending(self) -> Iterator[None]:
        with self._db.transaction():
            self._db.execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")
            yield

    def insert(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._db.cursor() as cursor:
            cursor.executemany(_pg(sql), rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._db.transaction():
            yield

    def close(self) -> None:
        self._db.close()


SQLITE_SCHEME = "sqlite://"
MEMORY = ":memory:"


def sqlite_file(url: str) -> str:
    """The file a SQLite database URL or path names, the one reading of every `--db`.

    `sqlite:///PATH` names the absolute path /PATH, as a `file:///PATH` URI does
    (`sqlite:///tmp/x.db` is /tmp/x.db, never ./tmp/x.db); `sqlite:////PATH`, the
    spelling SQLAlchemy uses for absolute paths, names it too; `sqlite:///:memory:`
    (or nothing after the slashes) is an in-memory database. A plain path, relative
    or not, is taken as it stands. Any other scheme raises ValueError.
    """
    if not url.startswith(SQLITE_SCHEME):
        if "://" in url:
            # The scheme only: the rest of a URL may hold a password.
            scheme = url.partition("://")[0]
            raise ValueError(
                f"unsupported database URL scheme {scheme!r}: use sqlite:///PATH, a path"
                " or postgresql://..."
            )
        return url
    rest = url.removeprefix(SQLITE_SCHEME)
    if not rest.startswith("/"):
        raise ValueError(
            "a sqlite:// URL with a host: use sqlite:///PATH (three slashes) or a path"
        )
    rest = rest.lstrip("/")
    if rest in ("", MEMORY):
        return MEMORY
    return "/" + rest


def open_backend(target: str | Path) -> Backend:
    """`postgresql://...` opens PostgreSQL; `sqlite:///PATH` or a plain path, SQLite."""
    text = str(target)
    if text.startswith(POSTGRES_SCHEMES):
        return PostgresBackend(text)
    return SQLiteBackend(sqlite_file(text))


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")
