"""`robopass audit verify|show` as a subprocess, on SQLite and PostgreSQL, and `serve` auditing."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from gateway.cli.audit import default_audit_db
from policies import AuditLog
from schema.code import RobotCode
from tests.support import auditdb
from tests.support.auditdb import record
from tests.support.demo_tokens import ask, owned_robot, token_for
from tests.support.paths import ROOT

audit_url = auditdb.audit_url
CODES = [RobotCode.generate("CN", "HD01", "H10001", date(2025, 3, 1), "1", i).value for i in (1, 2)]


def robopass(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def filled(audit_url: str) -> str:
    log = AuditLog(audit_url)
    log.append_many([dataclasses.replace(record(i), code=CODES[i % 2]) for i in range(5)])
    log.close()
    return audit_url


@pytest.mark.process
def test_verify_an_intact_log(filled: str):
    done = robopass("audit", "verify", "--db", filled)
    assert done.returncode == 0, done.stderr
    assert "intact: 5 records" in done.stdout


@pytest.mark.process
@pytest.mark.parametrize(
    ("statement", "bad"),
    [
        ("UPDATE audit_log SET denied = '[]' WHERE id = 3", 3),
        ("UPDATE audit_log SET role = 'regulator' WHERE id = 5", 5),
        ("DELETE FROM audit_log WHERE id = 2", 2),
        ("DELETE FROM audit_log WHERE id = 1", 1),
    ],
)
def test_verify_names_the_first_bad_row(filled: str, statement: str, bad: int):
    auditdb.execute(filled, statement)
    done = robopass("audit", "verify", "--db", filled)
    assert done.returncode == 1
    assert f"BROKEN at record {bad}:" in done.stdout


@pytest.mark.process
def test_show_prints_a_robots_disclosures(filled: str):
    done = robopass("audit", "show", CODES[1], "--db", filled)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["id"] for r in rows] == [2, 4]
    assert rows[0]["code"] == CODES[1] and rows[0]["denied"] == [
        "maintenance.notes",
        "ownership.owner",
    ]
    after = robopass("audit", "show", CODES[1], "--db", filled, "--after", "2")
    assert [json.loads(line)["id"] for line in after.stdout.splitlines()] == [4]


def test_the_default_log_lives_beside_the_registry():
    assert default_audit_db("sqlite:///srv/fleet.db") == "/srv/fleet.audit.db"
    assert default_audit_db("srv/fleet.db") == "srv/fleet.audit.db"
    assert default_audit_db("data/demo-cn.db") == "data/demo-cn.audit.db"
    pg = "postgresql://registry@db.internal/robopass"
    assert default_audit_db(pg) == pg


@pytest.mark.process
def test_bad_inputs_are_clear_errors(tmp_path: Path):
    missing = tmp_path / "nothing.db"
    done = robopass("audit", "verify", "--db", str(missing))
    assert done.returncode != 0 and "no audit log at" in done.stderr
    assert not missing.exists(), "verify must not create an empty, 'intact' log"
    bad_code = robopass("audit", "show", "NOT-A-CODE", "--db", str(missing))
    assert bad_code.returncode == 2 and "invalid robot code" in bad_code.stderr


@pytest.mark.process
def test_serve_audits_into_its_data_dir(served: str, tmp_path: Path):
    code = owned_robot(tmp_path)
    assert ask(served, code, token_for("used-robot-buyer", served, tmp_path)).status_code == 200
    env = {"ROBOPASS_DATA_DIR": str(tmp_path / "data")}
    assert (tmp_path / "data" / "demo-cn.audit.db").is_file()
    shown = robopass("audit", "show", code, env=env)
    [row] = [json.loads(line) for line in shown.stdout.splitlines()]
    assert row["role"] == "buyer" and "ownership.owner" in row["denied"]
    assert "condition" not in row["served"] and "conditions.battery_health_pct" in row["served"]
    assert robopass("audit", "verify", env=env).returncode == 0
