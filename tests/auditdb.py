"""Audit-log databases for tests: a SQLite file, and a fresh schema on the real PostgreSQL.

PostgreSQL is `ROBOPASS_TEST_POSTGRES` (default: the local server, database
`test`, trust auth); its tests skip, saying why, only when it cannot be reached.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES = os.environ.get("ROBOPASS_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def audit_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where an empty audit log lives: one per test, on each backend."""
    if request.param == "sqlite":
        yield str(tmp_path / "audit.db")
        return
    psycopg = pytest.importorskip("psycopg", reason="psycopg missing: pip install -e '.[dev]'")
    try:
        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES}: {exc}")
    schema = f"audit_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


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
