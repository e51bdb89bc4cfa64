"""Registry stores for tests: both backends (the `empty_store` and `store` fixtures,
SQLite and PostgreSQL; import them where a test runs on both), cheap clone fleets,
records, and SQL run behind a store's back.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from gateway.store import (
    SqliteStore,
    Store,
)
from schema.code import RobotCode
from schema.codec import to_plain
from schema.events import GENESIS, Event, EventType, chain, fold
from schema.passport import MaintenanceKind, MaintenanceRecord


def clones(template: list[Event], count: int, *, start: int = 0) -> Iterator[list[Event]]:
    """Cheap one-event histories with distinct valid codes, for volume tests."""
    registered = fold(template[:1])
    assert registered is not None
    for i in range(start, start + count):
        code = RobotCode.generate("CN", "HD01", "H10001", date(2025, 3, 1), "1", i).value
        passport = copy.deepcopy(registered)
        passport.identity = dataclasses.replace(passport.identity, code=code)
        payload = to_plain(passport)
        yield [chain(code, 1, template[0].at, EventType.REGISTERED, payload, GENESIS)]


PG_SERVER = os.environ.get("ROBOPASS_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")


def outside(store, sql: str, params: tuple = ()) -> list[tuple]:
    """Run SQL on a store's database over a connection of its own, as a hand edit would."""
    if isinstance(store, SqliteStore):
        db = sqlite3.connect(store.path)
        try:
            rows = db.execute(sql, params).fetchall()
            db.commit()
            return rows
        finally:
            db.close()
    import psycopg

    with psycopg.connect(store.url, autocommit=True) as conn:
        cursor = conn.execute(sql.replace("?", "%s"), params)
        return cursor.fetchall() if cursor.description else []


def record(hours: float = 1234.0) -> dict:
    return to_plain(
        MaintenanceRecord(
            datetime(2026, 10, 30, 8, tzinfo=UTC),
            MaintenanceKind.INSPECTION,
            "left_knee",
            None,
            "Shenzhen Robot Care",
            hours,
            None,
        )
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_store(request, tmp_path) -> Iterator[Store]:
    s = reopen(request.param, tmp_path / "registry.db", request)
    yield s
    s.close()


@pytest.fixture
def store(empty_store: Store, fleet, seeded) -> Store:
    """`empty_store` holding the session's `fleet` (a copy: tests/support/seeded.py)."""
    seeded.fill(empty_store, fleet)
    return empty_store


def reopen(backend: str, path, request) -> Store:
    """A new store (a new connection) on the test's database of `backend`."""
    if backend == "sqlite":
        return SqliteStore(path)
    from gateway.store.postgres import PostgresStore

    return PostgresStore(request.getfixturevalue("pg_url"))
