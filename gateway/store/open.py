"""The store a database URL names: PostgreSQL for `postgresql://`, else SQLite.

Every tool that takes a `--db` opens its store here, so the accepted spellings
(`sqlite:///PATH`, a plain path, `postgresql://...`) are the same everywhere.
Errors are the store's own (`StoreError`, `MigrationError`); the command line
decides how to show them.
"""

from __future__ import annotations

from gateway.store.base import Store
from gateway.store.errors import StoreError
from gateway.store.sqlite import SqliteStore
from policies.auditdb import POSTGRES_SCHEMES


class StoreUrlError(StoreError):
    """The database URL names a kind of database robopass cannot open."""

    code = "STORE_URL"


def is_postgres(db: str) -> bool:
    return db.startswith(POSTGRES_SCHEMES)


def sqlite_path(url: str) -> str:
    """Accept `sqlite:///path`, `sqlite:///:memory:` or a plain file path."""
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///") or ":memory:"
    if "://" in url:
        raise StoreUrlError(
            f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://..."
        )
    return url


def open_store(db: str, registry: str = "cn-heis", *, pool_size: int = 4) -> Store:
    """The store `db` names; raises `StoreError` or `MigrationError` when it cannot be used.

    `pool_size` is how many PostgreSQL connections the store reads and writes
    through at once (`store.pool_size`); SQLite has one connection.
    """
    if is_postgres(db):
        # psycopg is an optional extra (`robopass[postgres]`): imported only when asked for.
        from gateway.store.postgres import PostgresStore

        return PostgresStore(db, registry=registry, pool_size=pool_size)
    return SqliteStore(sqlite_path(db), registry=registry)
