"""`robopass credential`, `robopass present` and `robopass verify` as a user runs them.

The used-robot sale of docs/selective-disclosure.md, step by step, in separate
processes over a real SQLite registry: the owner gets a credential, presents
three claims to a buyer, the buyer verifies offline with the saved JWKS and
status list; the robot is sold, the new status list revokes the credential.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.store import SqliteStore
from schema.codec import to_plain
from schema.events import EventType, OwnershipTransfer
from schema.passport import OwnerKind
from tests.support.cli_process import robopass_text

pytestmark = pytest.mark.process

ISSUER = "https://registry.test"
BUYER = "https://buyer.test"


REGISTRY_COMMANDS = {("credential", "issue"), ("credential", "status-list"), ("key", "jwks")}


def robopass(*args, data_dir: Path):
    """`robopass`; the registry's own commands get its data directory (its signing key)."""
    if tuple(map(str, args[:2])) in REGISTRY_COMMANDS:
        args = (*args, "--data-dir", data_dir)
    return robopass_text(*args)


@pytest.fixture
def registry(tmp_path: Path) -> tuple[Path, str, str]:
    db = tmp_path / "registry.db"
    seeded = robopass("registry", "seed", "--robots", "3", "--db", db, data_dir=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    store = SqliteStore(db)
    try:
        code = store.codes()[0]
        owner = store.passport(code).current_owner.owner_id
    finally:
        store.close()
    return db, code, owner


def test_the_used_robot_sale_end_to_end(tmp_path: Path, registry):
    db, code, owner = registry
    run = lambda *a: robopass(*a, data_dir=tmp_path)  # noqa: E731
    made = run("credential", "holder-key", "-o", tmp_path / "holder.jwk")
    assert made.returncode == 0 and "d" not in json.loads(made.stdout)
    assert oct((tmp_path / "holder.jwk").stat().st_mode & 0o777) == "0o600"

    issue = ("credential", "issue", code, "--holder-key", tmp_path / "holder.jwk", "--db", db)
    issue += ("--issuer", ISSUER)
    stranger = run(*issue, "--owner", "reg:DE:TNOTTHEOWNER1")
    assert stranger.returncode == 1 and "credential.owner" in stranger.stderr
    assert stranger.stdout == ""
    assert run(*issue, "--owner", owner, "-o", tmp_path / "robot.sdjwt").returncode == 0
    (tmp_path / "jwks.json").write_text(run("key", "jwks").stdout)
    status = ("credential", "status-list", "--db", db, "--issuer", ISSUER)
    assert run(*status, "-o", tmp_path / "status.jwt").returncode == 0

    presented = run(
        "present",
        tmp_path / "robot.sdjwt",
        "--disclose",
        "operatingHours,maintenance,incidents",
        "--audience",
        BUYER,
        "--nonce",
        "n-1",
        "--holder-key",
        tmp_path / "holder.jwk",
        "-o",
        tmp_path / "sale.txt",
    )
    assert presented.returncode == 0, presented.stderr
    verify = ("verify", tmp_path / "sale.txt", "--jwks", tmp_path / "jwks.json")
    verify += ("--status-list", tmp_path / "status.jwt", "--audience", BUYER)
    ok = run(*verify, "--nonce", "n-1")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("VALID")
    shown = json.loads(ok.stdout[ok.stdout.index("{") :])
    assert set(shown) == {"operatingHours", "maintenance", "incidents"}

    store = SqliteStore(db)
    try:
        before = store.passport(code)
        assert before.current_owner.owner not in ok.stdout, "undisclosed owner stays hidden"
        for deployment in before.deployments:
            assert deployment.operator not in ok.stdout
        stale = run(*verify, "--nonce", "n-2")
        assert stale.returncode == 1 and stale.stdout.startswith("INVALID (nonce)")
        sale = OwnershipTransfer(
            datetime.now(UTC).replace(microsecond=0),
            "Buyer GmbH",
            OwnerKind.ORGANISATION,
            "DE",
            "reg:DE:TBUYER0000001",
        )
        store.append(code, EventType.OWNERSHIP_TRANSFERRED, to_plain(sale), sale.at)
    finally:
        store.close()
    assert run(*status, "-o", tmp_path / "status.jwt").returncode == 0
    revoked = run(*verify, "--nonce", "n-1")
    assert revoked.returncode == 1
    assert revoked.stdout.startswith("INVALID (revoked)"), revoked.stdout


def test_bad_input_gets_one_line_and_exit_2(tmp_path: Path, registry):
    db, code, owner = registry
    run = lambda *a: robopass(*a, data_dir=tmp_path)  # noqa: E731
    (tmp_path / "broken.jwk").write_text("{not json")
    issue = run(
        "credential",
        "issue",
        code,
        "--owner",
        owner,
        "--db",
        db,
        "--holder-key",
        tmp_path / "broken.jwk",
    )
    assert issue.returncode == 2 and issue.stderr.count("\n") == 1
    assert "--holder-key" in issue.stderr and "Traceback" not in issue.stderr
    no_args = run("verify", tmp_path / "x", "--jwks", tmp_path / "x")
    assert no_args.returncode == 2
    (tmp_path / "p.txt").write_text("a.b.c~d~")
    (tmp_path / "jwks.json").write_text(run("key", "jwks").stdout)
    missing = run("verify", tmp_path / "p.txt", "--jwks", tmp_path / "jwks.json")
    assert missing.returncode == 2 and "--audience and --nonce" in missing.stderr
