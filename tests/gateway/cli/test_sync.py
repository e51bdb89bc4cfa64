"""`robopass sync` against a real `robopass serve`: full copy, incremental runs, crash and resume.

Events are appended through the store from the test, as another writer would;
the mirror is compared with GraphQL answers for the same principal.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from gateway.store import SqliteStore
from gateway.synthetic.catalogue import organisation_id
from policies.authserver import issue_token
from schema.events import EventType
from tests.support.cli_process import ROOT, robopass
from tests.support.demo_tokens import OWNER_ID
from tests.support.feeds import FINDINGS, incident
from tests.support.processes import running_server
from tests.support.stores import record

pytestmark = pytest.mark.process

VIEW = """query ($owner: String, $after: String) {
  robots(filter: {ownerId: $owner}, first: 100, after: $after) {
    edges { node { code version export(format: CANONICAL) } }
    pageInfo { hasNextPage endCursor } } }"""
LESSOR = organisation_id("CN", "Qingluan Sales & Leasing Co., Ltd.")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("sync") / "data"
    with running_server(data_dir, "--robots", "200") as base:
        yield base, data_dir


@pytest.fixture
def lessor_token(server, tmp_path) -> str:
    """A token for an organisation with more robots than the demo clients have, signed with
    the server's own key (a client the demo authorization server does not list)."""
    base, data_dir = server
    clients = tmp_path / "clients.json"
    client = {
        "client_id": "lessor",
        "client_secret": "unused",
        "organisation": "Qingluan Sales & Leasing Co., Ltd.",
        "organisation_id": LESSOR,
        "jurisdiction": "DE",
        "role": "owner",
        "purposes": ["fleet_management"],
        "scope": "robopass:read",
    }
    clients.write_text(json.dumps({"clients": [client]}))
    return issue_token("lessor", data_dir, f"{base}/auth", clients=clients)


def graphql_view(base: str, token: str, owner: str) -> dict[str, tuple[int, dict]]:
    """What GraphQL answers the same principal: each robot's version and canonical export."""
    view, after = {}, None
    while True:
        body = httpx.post(
            f"{base}/graphql",
            json={"query": VIEW, "variables": {"owner": owner, "after": after}},
            headers={"authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
        page = body["data"]["robots"]
        view.update(
            {e["node"]["code"]: (e["node"]["version"], e["node"]["export"]) for e in page["edges"]}
        )
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            return view


def mirrored(path: Path) -> dict[str, tuple[int, dict]]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT code, version, document FROM robots").fetchall()
    except sqlite3.OperationalError:  # not created yet
        rows = []
    finally:
        db.close()
    return {code: (version, json.loads(document)) for code, version, document in rows}


def state(path: Path) -> dict:
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT key, value FROM sync_state").fetchall())
    except sqlite3.OperationalError:
        return {}
    finally:
        db.close()


def owned(data_dir: Path, owner: str) -> list[str]:
    db = sqlite3.connect(data_dir / "demo-cn.db")
    try:
        rows = db.execute("SELECT code FROM robots WHERE owner_id = ? ORDER BY code", (owner,))
        return [r[0] for r in rows.fetchall()]
    finally:
        db.close()


def test_a_full_copy_then_an_incremental_run_equal_the_callers_view(server, tmp_path):
    base, data_dir = server
    out = tmp_path / "mirror.db"
    first = robopass("sync", "--gateway", base, "--token-client", "fleet-owner", "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "copying" in first.stderr, "progress goes to stderr"
    token = issue_token("fleet-owner", data_dir, f"{base}/auth")
    before = graphql_view(base, token, OWNER_ID)
    assert mirrored(out) == before and len(before) == len(owned(data_dir, OWNER_ID)) > 0
    codes = sorted(before)
    stranger = next(c for c in owned(data_dir, LESSOR))
    at = datetime(2026, 11, 4, 8, tzinfo=UTC)
    store = SqliteStore(data_dir / "demo-cn.db")
    try:
        store.append(codes[0], EventType.MAINTENANCE_RECORDED, record(11.0), at)
        store.append(codes[-1], EventType.INCIDENT_REPORTED, incident(at), at)
        store.append(stranger, EventType.MAINTENANCE_RECORDED, record(12.0), at)
    finally:
        store.close()
    again = robopass("sync", "--gateway", base, "--token-client", "fleet-owner", "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert "0 copied, 2 changes followed" in again.stdout.decode()
    after = graphql_view(base, token, OWNER_ID)
    assert mirrored(out) == after
    assert after[codes[0]][0] == before[codes[0]][0] + 1
    assert stranger not in mirrored(out)
    assert FINDINGS.encode() not in out.read_bytes(), "the mirror holds the caller's view only"


def test_a_robot_sold_out_of_the_fleet_leaves_the_mirror(server, tmp_path, lessor_token):
    base, data_dir = server
    out = tmp_path / "mirror.db"
    argv = ["sync", "--gateway", base, "--token", lessor_token, "--out", str(out), "--quiet"]
    assert robopass(*argv).returncode == 0
    sold = owned(data_dir, LESSOR)[0]
    assert sold in mirrored(out)
    at = datetime(2026, 11, 6, 8, tzinfo=UTC)
    transfer = {"at": "2026-11-06T08:00:00Z", "owner": "Someone Else GmbH"}
    transfer |= {"owner_kind": "ORGANISATION", "jurisdiction": "DE", "owner_id": "reg:DE:HRB1"}
    store = SqliteStore(data_dir / "demo-cn.db")
    try:
        store.append(sold, EventType.OWNERSHIP_TRANSFERRED, transfer, at)
    finally:
        store.close()
    kept = robopass(*argv, "--no-prune")
    assert kept.returncode == 0 and sold in mirrored(out), "the feed never says it left"
    pruned = robopass(*argv)
    assert pruned.returncode == 0, pruned.stderr
    assert "1 no longer in the fleet removed" in pruned.stdout.decode()
    assert sold not in mirrored(out)
    assert mirrored(out) == graphql_view(base, lessor_token, LESSOR)


def run_until_killed(argv: list[str], out: Path, killed_when) -> subprocess.CompletedProcess:
    """Start a sync and SIGKILL it the moment `killed_when(out)` holds."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", *argv],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if out.exists() and killed_when(out):
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.wait(timeout=10)
    return proc


def test_a_sync_killed_mid_copy_or_mid_feed_resumes_and_ends_equal(server, tmp_path, lessor_token):
    base, data_dir = server
    out = tmp_path / "mirror.db"
    argv = [
        "sync",
        "--gateway",
        base,
        "--token",
        lessor_token,
        "--out",
        str(out),
        "--page-size",
        "1",
    ]
    total = len(owned(data_dir, LESSOR))
    proc = run_until_killed(argv, out, lambda p: len(mirrored(p)) >= 2)
    assert proc.returncode == -signal.SIGKILL
    assert 2 <= len(mirrored(out)) < total, "killed in the middle of the copy"
    resumed = robopass(*argv)
    assert resumed.returncode == 0, resumed.stderr
    assert mirrored(out) == graphql_view(base, lessor_token, LESSOR)

    store = SqliteStore(data_dir / "demo-cn.db")
    try:
        for i, code in enumerate(owned(data_dir, LESSOR) * 5):
            at = datetime(2026, 11, 5, 8, i % 60, tzinfo=UTC)
            store.append(code, EventType.MAINTENANCE_RECORDED, record(100.0 + i), at)
    finally:
        store.close()
    start = state(out)["feed_cursor"]
    proc = run_until_killed(argv, out, lambda p: state(p).get("feed_cursor") != start)
    assert proc.returncode == -signal.SIGKILL
    assert mirrored(out) != graphql_view(base, lessor_token, LESSOR), "killed mid-feed"
    resumed = robopass(*argv)
    assert resumed.returncode == 0, resumed.stderr
    assert mirrored(out) == graphql_view(base, lessor_token, LESSOR)


def test_refusals_leave_no_robots_behind(server, tmp_path, lessor_token):
    base, _ = server
    out = tmp_path / "mirror.db"
    other = robopass(
        "sync", "--gateway", base, "--token", lessor_token, "--out", str(out), "--owner", OWNER_ID
    )
    assert other.returncode != 0
    assert "UNAUTHORIZED_FIELD_OR_TYPE" in other.stderr
    assert not mirrored(out)
    named = robopass(
        "sync", "--gateway", base, "--token", lessor_token, "--out", str(out), "--owner", "Zhulong"
    )
    assert named.returncode != 0 and "--owner must be a party identifier" in named.stderr
    assert not mirrored(out)
    bad = robopass("sync", "--gateway", base, "--token-client", "nobody", "--out", str(out))
    assert bad.returncode != 0 and "no token for client 'nobody'" in bad.stderr
    ok = robopass("sync", "--gateway", base, "--token", lessor_token, "--out", str(out))
    assert ok.returncode == 0, ok.stderr
    mixed = robopass(
        "sync", "--gateway", base, "--token", lessor_token, "--out", str(out), "--owner", LESSOR
    )
    assert mixed.returncode != 0 and "use another --out file" in mixed.stderr
    none = robopass("sync", "--gateway", base, "--out", str(tmp_path / "x.db"))
    assert none.returncode != 0 and "--token-client" in none.stderr


def test_the_token_and_the_client_secret_come_from_the_environment(server, tmp_path, lessor_token):
    """ROBOPASS_TOKEN and ROBOPASS_CLIENT_SECRET, read through the configuration loader."""
    base, _ = server

    def sync(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "gateway.cli", "sync", "--gateway", base, "--quiet", *argv],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
            check=False,
        )

    wrong = sync(
        {"ROBOPASS_CLIENT_SECRET": "not-the-secret"},
        *("--token-client", "fleet-owner", "--out", str(tmp_path / "refused.db")),
    )
    assert wrong.returncode != 0 and "no token for client 'fleet-owner'" in wrong.stderr
    assert not mirrored(tmp_path / "refused.db")
    out = tmp_path / "mirror.db"
    ok = sync({"ROBOPASS_TOKEN": lessor_token}, "--out", str(out))
    assert ok.returncode == 0, ok.stderr
    assert mirrored(out) == graphql_view(base, lessor_token, LESSOR)
