"""Re-committing a legacy audit log under salted commitments, on SQLite and PostgreSQL.

Logs are seeded as they were before scheme 2 (`AuditLog(url, scheme=1)`, and
for the oldest, the table without the scheme's columns); the migration runs in
process and as the real `robopass audit migrate`, which is SIGKILLed mid-run.
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys

import pytest

from policies import AuditLog, auditmigrate
from tests.support import auditdb
from tests.support.auditdb import CODES, record
from tests.support.paths import ROOT

audit_url = auditdb.audit_url


def seed(url: str, legacy: int, salted: int = 0) -> list:
    """`legacy` scheme-1 records, then `salted` scheme-2 ones appended onto them."""
    old = AuditLog(url, scheme=1)
    stored = old.append_many([record(i) for i in range(legacy)])
    old.close()
    if salted:
        log = AuditLog(url)
        stored += log.append_many([record(i) for i in range(legacy, legacy + salted)])
        log.close()
    return stored


def contents(log: AuditLog) -> list:
    return [(r.id, r.record) for code in CODES for r in log.trail(code, first=100_000)]


def schemes(log: AuditLog) -> set[int]:
    return {r.scheme for code in CODES for r in log.trail(code, first=100_000)}


def test_a_log_from_before_the_scheme_columns_is_upgraded_on_open(audit_url: str):
    seed(audit_url, 4)
    for column in ("salt", "commitment", "scheme"):
        auditdb.execute(audit_url, f"ALTER TABLE audit_log DROP COLUMN {column}")
    log = AuditLog(audit_url)
    assert log.verify() is None and schemes(log) == {1}
    assert log.append(record(9)).scheme == 2
    assert log.verify() is None
    log.close()


def test_recommit_salts_legacy_rows_relinks_later_ones_and_keeps_content(audit_url: str):
    before = seed(audit_url, 7, salted=3)
    log = AuditLog(audit_url)
    old = contents(log)
    seen: list[auditmigrate.Progress] = []
    summary = auditmigrate.recommit(log, batch=3, progress=seen.append)
    assert summary is not None
    assert (summary.recommitted, summary.relinked, summary.head_id) == (7, 3, 10)
    assert summary.old_head == before[-1].hash and summary.new_head == log.head()[1]
    assert [p.done for p in seen] == [3, 6, 9, 10] and seen[-1].total == 10
    assert log.verify() is None
    assert schemes(log) == {2} and contents(log) == old
    after = {r.id: r for code in CODES for r in log.trail(code)}
    assert all(after[s.id].hash != s.hash for s in before)
    assert all(after[s.id].salt == s.salt for s in before if s.scheme == 2)
    assert auditmigrate.pending(log) == 0
    assert auditmigrate.recommit(log) is None, "a second run has nothing to do"
    [noted] = log.backend.query(
        "SELECT first_id, head_id, old_head, new_head FROM audit_migrations"
    )
    assert noted == (1, 10, before[-1].hash, summary.new_head)
    log.close()


def test_rows_appended_during_the_migration_join_the_new_chain(audit_url: str):
    seed(audit_url, 6)
    log = AuditLog(audit_url)
    other = AuditLog(audit_url)  # a gateway appending while the migration runs
    appended = []

    def gateway_appends(progress: auditmigrate.Progress) -> None:
        if len(appended) < 2:
            appended.append(other.append(dataclasses.replace(record(20), code=CODES[0])))

    summary = auditmigrate.recommit(log, batch=2, progress=gateway_appends)
    assert summary is not None and summary.head_id == 8
    assert [a.scheme for a in appended] == [2, 2]
    assert log.verify() is None and schemes(log) == {2}
    assert other.append(record(21)).id == 9
    assert log.verify() is None
    other.close()
    log.close()


def test_a_tampered_log_is_not_laundered(audit_url: str):
    seed(audit_url, 6)
    auditdb.execute(audit_url, "UPDATE audit_log SET organisation = 'X' WHERE id = 4")
    log = AuditLog(audit_url)
    with pytest.raises(auditmigrate.ChainBroken) as caught:
        auditmigrate.recommit(log, batch=2)
    assert caught.value.id == 4
    assert schemes(log) == {1} and log.verify() == 4, "the live chain is untouched"
    log.close()


def migrate(url: str, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "audit", "migrate", "--db", url, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


@pytest.mark.process
def test_the_cli_resumes_after_a_sigkill(audit_url: str):
    rows = 20_000
    seed(audit_url, rows)
    first = migrate(audit_url, "--batch", "100")
    line = first.stderr.readline()
    assert line.startswith("re-committed 100/"), line
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    first.stdout.close()
    first.stderr.close()
    assert first.returncode == -signal.SIGKILL
    log = AuditLog(audit_url)
    assert log.verify() is None and schemes(log) == {1}, "killed: the old chain stands"
    [[partial]] = log.backend.query("SELECT COUNT(*) FROM audit_recommit")
    assert 0 < partial < rows, "the kill landed mid-run"
    log.close()

    second = migrate(audit_url, "--batch", "5000")
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert f"resuming after record {partial}" in out
    assert f"{rows} legacy records salted" in out
    assert err.splitlines()[-1] == f"re-committed {rows}/{rows} records"
    log = AuditLog(audit_url)
    assert log.verify() is None and schemes(log) == {2}
    log.close()
    verify = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "audit", "verify", "--db", audit_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0 and f"intact: {rows} records" in verify.stdout
    again = migrate(audit_url)
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 0 and "nothing to re-commit" in out


@pytest.mark.process
def test_the_cli_refuses_a_broken_log_in_one_line(audit_url: str):
    seed(audit_url, 3)
    auditdb.execute(audit_url, "DELETE FROM audit_log WHERE id = 2")
    done = migrate(audit_url)
    out, err = done.communicate(timeout=120)
    assert done.returncode == 1 and out == ""
    assert err.strip().splitlines() == [
        "audit log BROKEN at record 2: nothing re-committed; restore the log from a backup,"
        " then run `robopass audit migrate --restart`"
    ]
    bad = migrate(audit_url, "--batch", "0")
    _, err = bad.communicate(timeout=120)
    assert bad.returncode == 2 and "--batch must be at least 1" in err
