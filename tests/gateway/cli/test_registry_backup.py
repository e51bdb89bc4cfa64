"""`robopass registry backup`: a live SQLite registry and its audit log, copied and restored.

The copy is taken from a running `robopass serve` while another writer
appends, is restored into a fresh folder, and both `registry verify` and
`audit verify` pass on the restored files; a PostgreSQL URL is answered with
the pg_dump way, and an existing copy is never overwritten.
"""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime

import pytest

from gateway.store import SqliteStore
from policies.authserver import issue_token
from schema.events import EventType
from tests.support.cli_process import robopass
from tests.support.demo_tokens import ask
from tests.support.processes import running_server
from tests.support.stores import outside, record

pytestmark = pytest.mark.process


def test_backup_of_a_live_registry_restores_and_verifies(tmp_path):
    data = tmp_path / "data"
    with running_server(data, "--robots", "60") as base:
        store = SqliteStore(data / "demo-cn.db")
        codes = store.codes()
        token = issue_token("fleet-owner", data, f"{base}/auth")
        for code in codes[:5]:  # disclosures for the audit log
            assert ask(base, code, token).status_code == 200
        stop = threading.Event()

        def write() -> None:
            n = 0
            while not stop.is_set():
                at = datetime(2026, 11, 2, 8, tzinfo=UTC)
                store.append(codes[n % 7], EventType.MAINTENANCE_RECORDED, record(n), at)
                n += 1

        writer = threading.Thread(target=write)
        writer.start()
        try:
            backup = robopass(
                "registry",
                "backup",
                "--db",
                str(data / "demo-cn.db"),
                "--out",
                str(tmp_path / "copy"),
            )
        finally:
            stop.set()
            writer.join()
        assert backup.returncode == 0, backup.stderr
        store.close()

    restored = tmp_path / "restored"
    restored.mkdir()
    for name in ("demo-cn.db", "demo-cn.audit.db"):
        shutil.copy(tmp_path / "copy" / name, restored / name)
    assert not list((tmp_path / "copy").glob("*-wal")), "each copy is one self-contained file"
    verified = robopass("registry", "verify", "--db", str(restored / "demo-cn.db"))
    assert verified.returncode == 0, verified.stdout
    assert f"{len(codes)} of {len(codes)} chains verified" in verified.stdout.decode()
    audit = robopass("audit", "verify", "--db", str(restored / "demo-cn.audit.db"))
    assert audit.returncode == 0, audit.stdout + audit.stderr.encode()
    copied = SqliteStore(restored / "demo-cn.db")
    assert outside(copied, "SELECT COUNT(*) FROM events WHERE type = 'MAINTENANCE_RECORDED'")
    copied.close()


def test_backup_never_overwrites_and_sends_postgresql_to_pg_dump(tmp_path):
    db = tmp_path / "fleet.db"
    assert robopass("registry", "seed", "--robots", "3", "--db", str(db)).returncode == 0
    first = robopass("registry", "backup", "--db", str(db), "--out", str(tmp_path / "copy"))
    assert first.returncode == 0
    assert "no audit log" in first.stdout.decode()
    again = robopass("registry", "backup", "--db", str(db), "--out", str(tmp_path / "copy"))
    assert again.returncode == 1
    assert "already exists" in again.stderr and "Traceback" not in again.stderr
    pg = robopass("registry", "backup", "--db", "postgresql://127.0.0.1/x", "--out", "x")
    assert pg.returncode == 1 and "pg_dump" in pg.stderr
