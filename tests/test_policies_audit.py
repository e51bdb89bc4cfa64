"""The disclosure audit log: chain, trail, tamper detection, no tokens stored."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policies import PUBLIC, AuditLog, AuditRecord, PolicySet, Principal, Relationship, Role

AT = datetime(2026, 6, 1, tzinfo=UTC)
CODES = ("CNH7K2H0A1B32605281000012345A", "CNH7K2H0A1B32605281000099999X")


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    audit = AuditLog(tmp_path / "audit.db")
    yield audit
    audit.close()


def record(i: int, principal: Principal = PUBLIC) -> AuditRecord:
    decision = PolicySet.demo().decide(principal, Relationship.NONE, "CN", AT)
    requested = ["identity.code", "ownership.owner", "maintenance.notes"]
    return AuditRecord.disclosure(
        principal, CODES[i % 2], decision, AT + timedelta(seconds=i), requested
    )


def test_append_trail_and_verify(log: AuditLog) -> None:
    msa = Principal(
        "https://as.de",
        "de-msa",
        Role.MARKET_SURVEILLANCE,
        "de-msa",
        "BAuA",
        "DE",
        frozenset({"market_surveillance"}),
        frozenset({"robopass:read"}),
        "jti-42",
    )
    stored = [log.append(record(i, msa if i == 2 else PUBLIC)) for i in range(6)]
    assert [s.id for s in stored] == [1, 2, 3, 4, 5, 6]
    assert stored[0].prev_hash == "0" * 64 and stored[1].prev_hash == stored[0].hash
    assert log.verify() is None
    trail = log.trail(CODES[0])
    assert [s.id for s in trail] == [1, 3, 5]
    assert trail[1].record == stored[2].record
    assert trail[1].record.served == ("identity.code", "maintenance.notes")
    assert trail[1].record.denied == ("ownership.owner",)
    assert trail[1].record.agreements == ("CN-DE-MSA-2026",)
    assert trail[1].record.token_id == "jti-42"
    assert [s.id for s in log.trail(CODES[0], first=1, after=1)] == [3]


@pytest.mark.parametrize(
    ("statement", "bad"),
    [
        ("UPDATE audit_log SET served = '[\"ownership.owner\"]' WHERE id = 3", 3),
        ("UPDATE audit_log SET at = '2020-01-01T00:00:00Z' WHERE id = 2", 2),
        ("UPDATE audit_log SET prev_hash = '" + "1" * 64 + "' WHERE id = 4", 4),
        ("UPDATE audit_log SET served = 'not json' WHERE id = 5", 5),
        ("DELETE FROM audit_log WHERE id = 2", 2),
    ],
)
def test_tampering_is_detected(tmp_path: Path, statement: str, bad: int) -> None:
    path = tmp_path / "audit.db"
    log = AuditLog(path)
    for i in range(5):
        log.append(record(i))
    log.close()
    with sqlite3.connect(path) as db:
        db.execute(statement)
    reopened = AuditLog(path)
    assert reopened.verify() == bad
    reopened.close()


def test_rehashed_edit_still_breaks_the_next_link(tmp_path: Path) -> None:
    from policies.audit import record_hash

    path = tmp_path / "audit.db"
    log = AuditLog(path)
    for i in range(3):
        log.append(record(i))
    row = log.trail(CODES[1])[0]
    plain = {**row.record.plain(), "subject": "someone-else"}
    forged = record_hash(row.id, plain, row.prev_hash)
    log.close()
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE audit_log SET subject = ?, hash = ? WHERE id = ?",
            ("someone-else", forged, row.id),
        )
    reopened = AuditLog(path)
    assert reopened.verify() == row.id + 1
    reopened.close()


def test_concurrent_appends_keep_one_chain(log: AuditLog) -> None:
    threads = [
        threading.Thread(target=lambda: [log.append(record(i)) for i in range(20)])
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.verify() is None
    assert len(log.trail(CODES[0], first=1000)) + len(log.trail(CODES[1], first=1000)) == 80


def test_schema_has_no_token_column(log: AuditLog, tmp_path: Path) -> None:
    columns = {
        r[1] for r in sqlite3.connect(tmp_path / "audit.db").execute("PRAGMA table_info(audit_log)")
    }
    assert "token" not in columns and "token_id" in columns
    mode = sqlite3.connect(tmp_path / "audit.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
