"""Issue 17: a campaign's fan-out killed with SIGKILL midway is finished by its registry node
when the node starts again, and no robot gets its event twice.

On SQLite and on PostgreSQL, a child process runs the fan-out a small batch at a
time, saying after each how far it got, and is killed without warning a little
later, mid-batch most of the time. What the killed run left must be whole
batches: every robot counted as reached has its event and its row, and the saved
progress says how far that is. Then `robopass registry serve` is started on the
same database as a user would restart a node, and before it serves it finishes
the fan-out (it says so). At the end every robot has exactly one event, its
chain verifies, and the counts equal a brute-force scan of the passports.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.store import Store
from gateway.store.open import open_store
from gateway.synthetic.fleet import synthetic_fleet
from schema.campaigns import Campaign, CampaignKind, Issuer, RecallTerms, Selector
from schema.passport import Severity
from tests.support.paths import ROOT
from tests.support.ports import free_port
from tests.support.processes import Server
from tests.support.stores import clones, outside

pytestmark = pytest.mark.process

ROBOTS = 6000
KILL_AFTER = 300  # robots examined, as the child reports, before the kill is sent
CAMPAIGN = "CN-RC-CRASH-1"
CHILD = """
import sys
from gateway.store.open import open_store
store = open_store(sys.argv[1])
progress = None
while progress is None or not progress.done:
    progress = store.run_campaign(sys.argv[2], batch=25, budget=25)
    print(progress.scanned, flush=True)
"""


def recall() -> Campaign:
    return Campaign(
        CAMPAIGN,
        CampaignKind.RECALL,
        Issuer("reg:CN:SAMR", "regulator", "CN"),
        "GB/T 1",
        "Knee",
        datetime.now(UTC),
        Selector(registry_country="CN", manufacturer_code="HD01"),
        recall=RecallTerms("knee may lock", Severity.SERIOUS, "replace it"),
    )


def reached_by_events(store: Store) -> Counter:
    """code -> how many events the campaign appended to it (its idempotency key)."""
    rows = outside(
        store,
        "SELECT code, COUNT(*) FROM events WHERE type = 'RECALL_ISSUED'"
        " AND idempotency_key LIKE ? GROUP BY code",
        (f"campaign:{CAMPAIGN}:%",),
    )
    return Counter(dict(rows))


def rows_and_counts(store: Store) -> tuple[int, int]:
    (rows,) = outside(
        store, "SELECT COUNT(*) FROM campaign_robots WHERE campaign_id = ?", (CAMPAIGN,)
    )
    (counted,) = outside(
        store,
        "SELECT COALESCE(SUM(robots), 0) FROM campaign_country_counts WHERE campaign_id = ?",
        (CAMPAIGN,),
    )
    return rows[0], counted[0]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "node-cn-heis.db")
    return request.getfixturevalue("pg_url")


def test_a_fan_out_killed_midway_is_finished_by_the_node_when_it_starts_again(
    db: str, tmp_path: Path
):
    store = open_store(db)
    template = next(iter(synthetic_fleet(1, seed=11, country="CN")))
    store.import_histories(clones(template, ROBOTS))
    store.issue_campaign(recall())
    store.close()

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, db, CAMPAIGN],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    for line in child.stdout:
        if int(line) >= KILL_AFTER:
            break
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL

    store = open_store(db)
    try:
        partial = store.campaign(CAMPAIGN)
        assert partial is not None
        assert not partial.progress.done, "the fan-out finished before the kill"
        assert KILL_AFTER <= partial.progress.scanned < ROBOTS
        assert partial.progress.scanned % 25 == 0, "whole batches only"
        events = reached_by_events(store)
        # Each clone is in service and matches, so what was examined was reached.
        assert sum(events.values()) == len(events) == partial.progress.reached
        assert partial.progress.reached == partial.progress.scanned
        assert rows_and_counts(store) == (len(events), len(events))
    finally:
        store.close()

    node = Server(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "registry",
            "serve",
            "--format",
            "cn-miit",
            "--db",
            db,
            "--data-dir",
            str(tmp_path / "node"),
            "--port",
            str(free_port()),
        ]
    )
    try:
        node.wait_for("Uvicorn running on", timeout=180)  # the resume comes before serving
        said = [line for line in node.lines if f"Campaign {CAMPAIGN} resumed" in line]
        assert said == [f"Campaign {CAMPAIGN} resumed: {ROBOTS} robots reached"], node.lines
    finally:
        node.stop()

    store = open_store(db)
    try:
        final = store.campaign(CAMPAIGN)
        assert final is not None and final.progress.done
        assert final.progress.scanned == final.progress.reached == ROBOTS
        events = reached_by_events(store)
        assert set(events) == set(store.codes()) and set(events.values()) == {1}, "once each"
        assert rows_and_counts(store) == (ROBOTS, ROBOTS)
        scan = Counter(
            (r.passport.current_owner.jurisdiction if r.passport.current_owner else "")
            for r in store.records(store.codes()).values()
        )
        counted = Counter()
        for row in store.campaign_country_counts(CAMPAIGN):
            counted[row.country] += row.robots
        assert counted == scan
        assert all(store.verify_chain(code).verified for code in store.codes())
    finally:
        store.close()
