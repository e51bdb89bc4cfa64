"""Seeded registry stores without the import: each set of histories is imported once per
session (per xdist worker) into a template database, and every test gets a copy.

Importing whole histories folds and verifies every event: the 60-robot `fleet` costs about
0.15 CPU-seconds, paid by hundreds of tests. A copy of the template's rows costs a few
milliseconds and gives the same database: same rows, feed positions and stored bytes. Only
the import's own time stamp (when the rows were written) is the template's.

The test still owns its store: a database of its own (its file, or its schema on
PostgreSQL), opened by the test, written to at will, thrown away afterwards.
"""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from gateway.store import SqliteStore, Store
from schema.events import Event


class SeededTemplates:
    """Template databases by content, made on first use; `fill` copies one into a store."""

    def __init__(self, folder: Path, pg_server: Callable[[], str]) -> None:
        """`pg_server` is asked for the PostgreSQL URL only when a PostgreSQL store is
        filled, so SQLite-only runs never need the server."""
        self.folder = folder
        self._pg_server = pg_server
        self._server = ""  # the URL pg_server gave, kept for close()
        self._sqlite: dict[str, Path] = {}
        self._postgres: dict[str, str] = {}

    def fill(self, store: Store, histories: Sequence[list[Event]]) -> None:
        """Make the new, empty `store` hold `histories`, as `store.import_histories` would."""
        key = fingerprint(histories, store.registry)
        if isinstance(store, SqliteStore):
            copy_sqlite(self._sqlite_template(key, histories, store.registry), Path(store.path))
        else:
            copy_postgres(self._postgres_template(key, histories, store.registry), store.url)

    def close(self) -> None:
        """Drop the PostgreSQL templates (the SQLite ones go with pytest's tmp folders)."""
        if not self._postgres:
            return
        import psycopg

        with psycopg.connect(self._server, autocommit=True) as conn:
            for schema in self._postgres.values():
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
        self._postgres.clear()

    def _sqlite_template(self, key: str, histories: Sequence[list[Event]], registry: str) -> Path:
        if key not in self._sqlite:
            path = self.folder / f"{key}.db"
            template = SqliteStore(path, registry=registry)
            template.import_histories(histories)
            template.close()  # the last connection checkpoints the WAL into the file
            self._sqlite[key] = path
        return self._sqlite[key]

    def _postgres_template(self, key: str, histories: Sequence[list[Event]], registry: str) -> str:
        if key not in self._postgres:
            import psycopg

            from gateway.store.postgres import PostgresStore

            server = self._server = self._pg_server()
            schema = f"robopass_seed_{uuid.uuid4().hex[:16]}"
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            self._postgres[key] = schema  # dropped by close() even if the import fails
            template = PostgresStore(search_path_url(server, schema), registry=registry)
            try:
                template.import_histories(histories)
            finally:
                template.close()
        return self._postgres[key]


def fingerprint(histories: Sequence[list[Event]], registry: str) -> str:
    """Names a set of histories by content: the registry and each chain's code and head
    hash (a head hash commits to the whole chain before it)."""
    digest = hashlib.sha256(registry.encode())
    for events in histories:
        digest.update(f"\n{events[0].code} {len(events)} {events[-1].hash}".encode())
    return digest.hexdigest()[:24]


def search_path_url(server: str, schema: str) -> str:
    """`server`'s URL with `schema` as the search_path of every connection made with it."""
    joiner = "&" if "?" in server else "?"
    return f"{server}{joiner}options=-csearch_path%3D{schema}"


@contextmanager
def fresh_schema(server: str) -> Iterator[str]:
    """A URL of `server` whose search_path is a new, empty schema, dropped afterwards."""
    import psycopg

    schema = f"robopass_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield search_path_url(server, schema)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def copy_sqlite(template: Path, target: Path) -> None:
    """Overwrite the SQLite database `target` (open or not) with the pages of `template`.

    SQLite's backup API replaces the whole database under its write lock; a store already
    open on `target` sees the new contents at its next statement.
    """
    src = sqlite3.connect(template)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def copy_postgres(template_schema: str, url: str) -> None:
    """Copy every row of the store tables of `template_schema` into the migrated, empty
    schema `url`'s search_path names. Both were made by the same migrations, so their
    columns line up; tables go in creation order, parents before the rows that refer to
    them.
    """
    import psycopg

    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind = 'r' AND c.relname != 'store_migrations'"
            " ORDER BY c.oid",
            (template_schema,),
        ).fetchall()
        for (table,) in tables:
            conn.execute(f'INSERT INTO "{table}" SELECT * FROM "{template_schema}"."{table}"')
