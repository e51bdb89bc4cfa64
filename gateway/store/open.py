"""The store a database URL names: PostgreSQL for `postgresql://`, else SQLite.

Every tool that takes a `--db` opens its store here, so the accepted spellings
(`sqlite:///PATH`, a plain path, `postgresql://...`) are the same everywhere.
Errors are the store's own (`StoreError`, `MigrationError`); the command line
decides how to show them.
"""

from __future__ import annotations

from pathlib import Path

from gateway.store.base import Store
from gateway.store.errors import StoreError
from gateway.store.sqlite import SqliteStore
from policies.auditdb import MEMORY, POSTGRES_SCHEMES, sqlite_file


class StoreUrlError(StoreError):
    """The database URL names a kind of database robopass cannot open."""

    code = "STORE_URL"


def is_postgres(db: str) -> bool:
    return db.startswith(POSTGRES_SCHEMES)


class MissingStore(StoreError):
    """A command that reads a store was given a SQLite file that does not exist."""

    code = "STORE_MISSING"


def sqlite_path(url: str) -> str:
    """The file of `sqlite:///PATH` (the absolute /PATH), `sqlite:///:memory:` or a path."""
    try:
        return sqlite_file(url)
    except ValueError as exc:
        raise StoreUrlError(str(exc)) from None


def open_store(
    db: str, registry: str = "cn-heis", *, pool_size: int = 4, existing: bool = False
) -> Store:
    """The store `db` names; raises `StoreError` or `MigrationError` when it cannot be used.

    `pool_size` is how many PostgreSQL connections the store reads and writes
    through at once (`store.pool_size`); SQLite has one connection. `existing`
    is for the commands that read or repair a store: a SQLite file that is not
    there is refused (a typo in `--db`) instead of created empty, folders and all.
    """
    if is_postgres(db):
        # psycopg is an optional extra (`robopass[postgres]`): imported only when asked for.
        from gateway.store.postgres import PostgresStore

        return PostgresStore(db, registry=registry, pool_size=pool_size)
    path = sqlite_path(db)
    if existing and path != MEMORY and not Path(path).is_file():
        raise MissingStore(
            f"no database at {path}: check --db (sqlite:///PATH is the absolute /PATH), or"
            " create one with `robopass registry seed --db PATH`"
        )
    return SqliteStore(path, registry=registry)
