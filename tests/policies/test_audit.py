"""The disclosure audit log: chain, trail, tamper detection, no tokens stored.

Every test that is not about SQLite itself runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from policies import (
    PUBLIC,
    AuditLog,
    AuditRecord,
    Principal,
    Role,
    auditscheme,
)
from tests.support import auditdb
from tests.support.auditdb import CODES, execute, record
from tests.support.paths import ROOT

audit_url = auditdb.audit_url


@pytest.fixture
def log(audit_url: str) -> AuditLog:
    audit = AuditLog(audit_url)
    yield audit
    audit.close()


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
def test_tampering_is_detected(audit_url: str, statement: str, bad: int) -> None:
    log = AuditLog(audit_url)
    for i in range(5):
        log.append(record(i))
    log.close()
    execute(audit_url, statement)
    reopened = AuditLog(audit_url)
    assert reopened.verify() == bad
    reopened.close()


def test_rows_swapped_wholesale_are_detected(audit_url: str) -> None:
    log = AuditLog(audit_url)
    log.append_many([record(i) for i in range(4)])
    log.close()
    execute(audit_url, "UPDATE audit_log SET id = 99 WHERE id = 2")
    execute(audit_url, "UPDATE audit_log SET id = 2 WHERE id = 3")
    execute(audit_url, "UPDATE audit_log SET id = 3 WHERE id = 99")
    reopened = AuditLog(audit_url)
    assert reopened.verify() == 2
    reopened.close()


@pytest.mark.parametrize("scheme", [1, 2])
def test_rehashed_edit_still_breaks_the_next_link(audit_url: str, scheme: int) -> None:
    """A forger who re-hashes the row it edited (under the row's own scheme, with its
    salt) passes that row, and is caught at the next one."""
    log = AuditLog(audit_url, scheme=scheme)
    for i in range(3):
        log.append(record(i))
    row = log.trail(CODES[1])[0]
    plain = {**row.record.plain(), "subject": "someone-else"}
    commit = "NULL"
    if scheme == 1:
        forged = auditscheme.record_hash(row.id, plain, row.prev_hash)
    else:
        new_commitment = auditscheme.commitment(row.salt, plain)
        forged = auditscheme.salted_hash(row.id, new_commitment, row.prev_hash)
        commit = f"'{new_commitment}'"
    log.close()
    execute(
        audit_url,
        f"UPDATE audit_log SET subject = 'someone-else', hash = '{forged}',"
        f" commitment = {commit} WHERE id = {row.id}",
    )
    reopened = AuditLog(audit_url)
    assert reopened.verify() == row.id + 1
    reopened.close()


def test_each_record_commits_with_its_own_secret_salt(log: AuditLog, audit_url: str) -> None:
    stored = log.append_many([record(0), record(0)])
    salts = {s.salt for s in stored}
    assert len(salts) == 2 and all(len(bytes.fromhex(s)) == 16 for s in salts)
    a, b = stored
    assert a.record == b.record and a.commitment != b.commitment
    assert a.commitment == auditscheme.commitment(a.salt, a.record.plain())
    assert b.hash == auditscheme.salted_hash(2, b.commitment, a.hash)
    assert [s.scheme for s in stored] == [2, 2]
    assert a.salt in auditdb.dump(audit_url)  # stored with the row, to open the commitment


@pytest.mark.parametrize(
    ("statement", "bad"),
    [
        ("UPDATE audit_log SET salt = '" + "ab" * 16 + "' WHERE id = 2", 2),
        ("UPDATE audit_log SET salt = 'not hex at all, 32 characters!!' WHERE id = 3", 3),
        ("UPDATE audit_log SET salt = NULL WHERE id = 2", 2),
        ("UPDATE audit_log SET commitment = '" + "0" * 64 + "' WHERE id = 4", 4),
        ("UPDATE audit_log SET scheme = 1 WHERE id = 3", 3),
        ("UPDATE audit_log SET organisation = 'Somebody' WHERE id = 5", 5),
        ("UPDATE audit_log SET action = 'write:X:stored:1' WHERE id = 1", 1),
    ],
)
def test_salted_rows_are_checked_against_salt_and_commitment(
    audit_url: str, statement: str, bad: int
) -> None:
    log = AuditLog(audit_url)
    log.append_many([record(i) for i in range(5)])
    assert log.verify() is None
    log.close()
    execute(audit_url, statement)
    reopened = AuditLog(audit_url)
    assert reopened.verify() == bad
    reopened.close()


def test_a_legacy_log_extended_under_scheme_2_verifies_and_tampering_is_found(
    audit_url: str,
) -> None:
    old = AuditLog(audit_url, scheme=1)
    legacy = old.append_many([record(i) for i in range(3)])
    old.close()
    log = AuditLog(audit_url)
    salted = log.append_many([record(i) for i in range(3, 6)])
    assert [s.scheme for s in legacy + salted] == [1, 1, 1, 2, 2, 2]
    assert legacy[0].salt is None and legacy[0].commitment is None
    assert salted[0].prev_hash == legacy[-1].hash
    assert log.verify() is None
    assert [r.prev_scheme for r in log.trail(CODES[1])] == [1, 1, 2]  # ids 2, 4, 6
    log.close()
    execute(audit_url, "UPDATE audit_log SET role = 'regulator' WHERE id = 2")
    reopened = AuditLog(audit_url)
    assert reopened.verify() == 2
    reopened.close()


def test_an_unknown_scheme_is_refused(audit_url: str) -> None:
    with pytest.raises(ValueError, match="scheme 3"):
        AuditLog(audit_url, scheme=3)
    log = AuditLog(audit_url)
    log.append_many([record(i) for i in range(2)])
    log.close()
    execute(audit_url, "UPDATE audit_log SET scheme = 7 WHERE id = 2")
    reopened = AuditLog(audit_url)
    assert reopened.verify() == 2
    reopened.close()


def test_append_many_is_one_chain_in_order(log: AuditLog) -> None:
    assert log.append_many([]) == []
    first = log.append(record(0))
    batch = log.append_many([record(i) for i in range(1, 5)])
    assert [s.id for s in batch] == [2, 3, 4, 5]
    assert batch[0].prev_hash == first.hash
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(batch))
    assert log.head() == (5, batch[-1].hash)
    assert log.verify() is None


def test_a_failed_batch_writes_nothing(log: AuditLog) -> None:
    log.append(record(0))
    broken = AuditRecord(**{**vars_of(record(1)), "issuer": None})
    with pytest.raises(Exception, match=r"(?i)null|constraint"):
        log.append_many([record(2), broken])
    assert log.head()[0] == 1
    assert log.append(record(3)).id == 2
    assert log.verify() is None


def vars_of(r: AuditRecord) -> dict:
    return {f: getattr(r, f) for f in r.__slots__}


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


APPENDER = """
import sys, threading
from tests.support.auditdb import record
from policies import AuditLog

log = AuditLog(sys.argv[1])
def work():
    for i in range(10):
        log.append_many([record(i), record(i + 1)]) if i % 2 else log.append(record(i))
threads = [threading.Thread(target=work) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
log.close()
"""


@pytest.mark.process
def test_concurrent_processes_keep_one_chain(audit_url: str) -> None:
    AuditLog(audit_url).close()  # the table exists before the race starts
    root = ROOT
    procs = [
        subprocess.Popen([sys.executable, "-c", APPENDER, audit_url], cwd=root) for _ in range(3)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    log = AuditLog(audit_url)
    assert log.verify() is None
    assert log.head()[0] == 3 * 2 * (5 * 1 + 5 * 2)
    log.close()


def test_unsupported_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="'mysql'") as caught:
        AuditLog("mysql://user:secret@host/db")
    assert "secret" not in str(caught.value)


def test_schema_has_no_token_column(tmp_path: Path) -> None:
    AuditLog(tmp_path / "audit.db").close()
    columns = {
        r[1] for r in sqlite3.connect(tmp_path / "audit.db").execute("PRAGMA table_info(audit_log)")
    }
    assert "token" not in columns and "token_id" in columns
    mode = sqlite3.connect(tmp_path / "audit.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
