"""The audit log's checkpoints cosigned by a witness while `robopass serve` runs, and a
cut-off tail caught against the last cosigned one. Every part is a real process.

A witness follows the audit log key of the gateway's data directory; the
gateway, configured with `[audit] witnesses` through the environment, answers
disclosures (each an audit row) and has its checkpoints cosigned. The operator
then deletes the newest rows: the chain of what is left still verifies, but
`robopass audit verify --checkpoint` against the cosigned checkpoint says
TRUNCATED, and the witness, restarted gateway or not, cosigns nothing smaller.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gateway.credentials.logkey import load_or_create
from gateway.service.auditlog import AUDIT_KEY_FILE, audit_origin
from gateway.service.auditwitness import CHECKPOINT_FILE
from schema.tlog.note import Checkpoint, Verifier, split_note, verify_cosignature
from tests.support.demo_tokens import ask, owned_robot, token_for
from tests.support.paths import ROOT
from tests.support.ports import free_port
from tests.support.processes import Server, running_server

pytestmark = pytest.mark.process


def robopass(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def cosigned_size(path: Path, deadline: float, at_least: int) -> int:
    """The size of the cosigned checkpoint kept at `path`, once it covers `at_least` rows."""
    while time.monotonic() < deadline:
        if path.is_file():
            text, _ = split_note(path.read_text("utf-8"))
            size = Checkpoint.parse(text).size
            if size >= at_least:
                return size
        time.sleep(0.2)
    raise AssertionError(f"no cosigned checkpoint of {at_least} rows at {path}")


def audit_rows(db: Path) -> int:
    connection = sqlite3.connect(db)
    try:
        return connection.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    finally:
        connection.close()


def test_a_truncated_audit_log_fails_the_check_against_its_last_cosigned_checkpoint(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    log_key = load_or_create(data / AUDIT_KEY_FILE, audit_origin("local")).verifier.vkey()
    port = free_port()
    witness = Server(
        [sys.executable, "-m", "gateway.cli", "witness", "serve", "--log", log_key,
         "--port", str(port), "--data-dir", str(tmp_path / "witness"),
         "--name", "witness.test/audit"],
        env=os.environ,
    )  # fmt: skip
    try:
        witness.wait_for("Uvicorn running on", timeout=120)
        witness_url = f"http://127.0.0.1:{port}"
        witness_key = Verifier.from_vkey(httpx.get(witness_url + "/key").text.strip())
        env = {
            "ROBOPASS_AUDIT_WITNESSES": witness_url + "/add-checkpoint",
            "ROBOPASS_AUDIT_WITNESS_INTERVAL": "0.3",
        }
        audit_db = data / "demo-cn.audit.db"
        kept = data / CHECKPOINT_FILE
        with running_server(data, "--robots", "200", env=env) as served:
            code = owned_robot(tmp_path)
            buyer = token_for("used-robot-buyer", served, tmp_path)
            for _ in range(4):
                assert ask(served, code, buyer).status_code == 200
            rows = audit_rows(audit_db)
            assert rows >= 4
            size = cosigned_size(kept, time.monotonic() + 60, rows)
        note = kept.read_text("utf-8")
        text, signatures = split_note(note)
        assert any(verify_cosignature(text, s, witness_key) for s in signatures)
        env_dir = {"ROBOPASS_DATA_DIR": str(data)}
        held = robopass("audit", "verify", "--checkpoint", str(kept), "--log-key", log_key,
                        env=env_dir)  # fmt: skip
        assert held.returncode == 0, held.stdout + held.stderr
        assert f"holds checkpoint {size}" in held.stdout

        # the operator cuts off the two newest rows: what is left still chains
        connection = sqlite3.connect(audit_db)
        try:
            connection.execute("DELETE FROM audit_log WHERE id > ?", (size - 2,))
            connection.commit()
        finally:
            connection.close()
        chain = robopass("audit", "verify", env=env_dir)
        assert chain.returncode == 0 and "intact" in chain.stdout
        cut = robopass("audit", "verify", "--checkpoint", str(kept), "--log-key", log_key,
                       env=env_dir)  # fmt: skip
        assert cut.returncode == 1
        assert f"TRUNCATED: checkpoint {size} covers {size} records" in cut.stdout

        # served again on the cut log, new rows: the witness cosigns nothing that drops them
        with running_server(data, "--robots", "200", env=env) as served:
            buyer = token_for("used-robot-buyer", served, tmp_path)
            assert ask(served, code, buyer).status_code == 200
            time.sleep(2)
        assert kept.read_text("utf-8") == note
        held_by_witness = httpx.get(witness_url + "/logs").json()["logs"]
        assert held_by_witness[audit_origin("local")] == size
    finally:
        witness.stop()
