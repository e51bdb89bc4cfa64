"""Audit-log databases for tests: a SQLite file, and a fresh schema on the real PostgreSQL.

PostgreSQL is the server of the `pg_url` fixture (tests/conftest.py).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def audit_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where an empty audit log lives: one per test, on each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "audit.db")
    return request.getfixturevalue("pg_url")


def execute(url: str, statement: str) -> None:
    """Run SQL straight on the database, behind the log's back: a tamperer's view."""
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url, autocommit=True) as db:
            db.execute(statement)
        return
    with sqlite3.connect(url) as db:
        db.execute(statement)
    db.close()


def dump(url: str) -> str:
    """Every stored value of the log as text, to search for what must not be there."""
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url) as db:
            return repr(db.execute("SELECT * FROM audit_log").fetchall())
    db = sqlite3.connect(url)
    try:
        return repr(db.execute("SELECT * FROM audit_log").fetchall())
    finally:
        db.close()
