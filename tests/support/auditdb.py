"""Audit logs for tests: one per test on each backend (the `audit_url` fixture),
records to append, and SQL run behind the log's back, as a tamperer would.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policies import (
    PUBLIC,
    AuditRecord,
    PolicySet,
    Principal,
    Relationship,
)

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


AT = datetime(2026, 6, 1, tzinfo=UTC)


CODES = ("CNH7K2H0A1B32605281000012345A", "CNH7K2H0A1B32605281000099999X")


def record(i: int, principal: Principal = PUBLIC) -> AuditRecord:
    decision = PolicySet.demo().decide(principal, Relationship.NONE, "CN", AT)
    requested = ["identity.code", "ownership.owner", "maintenance.notes"]
    return AuditRecord.disclosure(
        principal, CODES[i % 2], decision, AT + timedelta(seconds=i), requested
    )


def refuse(url: str, like: str = "%") -> None:
    """Make the database refuse (raise on) inserts of records whose code matches `like`:
    a real failed commit, as a full volume or a lost server would give."""
    if url.startswith("postgresql://"):
        execute(
            url,
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.code LIKE '{like}' THEN RAISE EXCEPTION 'audit volume full'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql; "
            "CREATE TRIGGER refuse BEFORE INSERT ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION refuse()",
        )
        return
    execute(
        url,
        "CREATE TRIGGER refuse BEFORE INSERT ON audit_log "
        f"WHEN NEW.code LIKE '{like}' BEGIN SELECT RAISE(ABORT, 'audit volume full'); END",
    )


def allow(url: str) -> None:
    """Undo `refuse`."""
    if url.startswith("postgresql://"):
        execute(url, "DROP TRIGGER refuse ON audit_log; DROP FUNCTION refuse()")
        return
    execute(url, "DROP TRIGGER refuse")
