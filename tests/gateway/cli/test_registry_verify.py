"""`robopass registry verify` over a whole registry, page by page, as real processes.

The bulk path (pages of robots read in one snapshot, each event decoded once,
pages checked in worker processes) must say exactly what the per-robot checks
say: the same line for each broken robot, in code order, the same final
lines, exit 1. The store is tampered three ways, in different pages (four
robots a page): a payload changed under its hash, a log whose last event is
gone while the head still names it, a telemetry sample changed under its
batch's digest. The expected lines are computed here by the per-robot methods
(`Store.verify_chain`, `verify_telemetry`), which the command used before.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import timedelta

import orjson
import pytest

from gateway.store import SqliteStore, Store
from schema.passport import ConditionSnapshot, JointWear
from tests.support.cli_process import robopass
from tests.support.paths import ROOT
from tests.support.stores import empty_store, outside, store  # noqa: F401  # both backends
from tests.support.writing import active

pytestmark = pytest.mark.process

PAGE = "4"


def url_of(registry: Store) -> str:
    return f"sqlite:///{registry.path}" if isinstance(registry, SqliteStore) else registry.url


def per_robot_lines(registry: Store) -> list[str]:
    """What the command printed before it read in bulk: one robot at a time."""
    lines = []
    for code in registry.codes():
        report = registry.verify_chain(code)
        if not report.verified:
            lines.append(f"{code}: BROKEN at sequence {report.first_bad}: {report.reason}")
            continue
        for c in registry.verify_telemetry(code, registry.events(code)):
            if c.verified is False:
                lines.append(f"{code}: telemetry batch at sequence {c.sequence}: {c.reason}")
    return lines


def ingest(registry: Store, code: str) -> None:
    """One condition batch of three samples for `code`, a day after its last condition."""
    p = registry.passport(code)
    start = p.condition.at + timedelta(days=1)
    samples = [
        ConditionSnapshot(
            at=start + timedelta(seconds=10 * i),
            operating_hours=p.condition.operating_hours + i * 0.5,
            battery_health_pct=80.0 + i,
            charge_cycles=p.condition.charge_cycles + i,
            movement_precision_mm=0.2,
            abnormal_stress_events=p.condition.abnormal_stress_events,
            joint_wear=[JointWear("left_knee", 1.0 + i)],
        )
        for i in range(3)
    ]
    registry.ingest_conditions(
        {code: samples}, idempotency_key=f"verify-{code}", now=start + 3 * DAY
    )


DAY = timedelta(days=1)


@pytest.fixture
def broken(store: Store) -> dict[str, str]:  # noqa: F811
    """The store with three robots broken, each in its own page: what broke, by code."""
    codes = store.codes()
    batched = [c for c in codes if active(store.passport(c)) and store.passport(c).condition]
    sensor = batched[len(batched) // 2]
    clean = [c for c in codes if c != sensor]
    # Another clean robot's batch stays intact: its digest must check, not just be skipped.
    ingest(store, sensor)
    ingest(store, batched[-1] if batched[-1] != sensor else batched[0])
    tampered, truncated = clean[1], clean[-2]
    (payload,) = outside(
        store, "SELECT payload FROM events WHERE code = ? AND sequence = 1", (tampered,)
    )[0]
    changed = orjson.loads(payload)
    changed["manufacturer"]["name"] += " (edited)"
    outside(
        store,
        "UPDATE events SET payload = ? WHERE code = ? AND sequence = 1",
        (orjson.dumps(changed).decode(), tampered),
    )
    outside(
        store,
        "DELETE FROM events WHERE code = ? AND sequence ="
        " (SELECT head_sequence FROM robots WHERE code = ?)",
        (truncated, truncated),
    )
    outside(
        store,
        "UPDATE condition_samples SET battery_health_pct = battery_health_pct + 1 WHERE code = ?",
        (sensor,),
    )
    assert len({codes.index(c) // int(PAGE) for c in (tampered, truncated, sensor)}) == 3
    return {tampered: "payload", truncated: "truncated", sensor: "telemetry"}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_broken_robots_are_reported_as_the_per_robot_checks_report_them(store, broken, workers):  # noqa: F811
    expected = per_robot_lines(store)
    by_kind = {kind: code for code, kind in broken.items()}
    assert any(
        line.startswith(f"{by_kind['payload']}: BROKEN at sequence 1: content does not match")
        for line in expected
    )
    assert any(
        f"{by_kind['truncated']}: BROKEN at sequence" in x and "log and head disagree" in x
        for x in expected
    )
    assert any(
        line.startswith(f"{by_kind['telemetry']}: telemetry batch at sequence")
        and line.endswith("samples do not match digest")
        for line in expected
    )

    done = robopass(
        "registry", "verify", "--db", url_of(store), "--page", PAGE, "--workers", workers,
        "--quiet", text=True,
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    total = len(store.codes())
    assert lines[:-2] == expected
    assert lines[-2:] == [
        f"{total - 3} of {total} chains verified",
        "0 chains still on hash scheme 1 (unsalted)",
    ]
    assert done.stderr == ""


def test_named_codes_are_checked_one_by_one_in_the_order_given(store, broken):  # noqa: F811
    codes = sorted(broken, reverse=True)
    clean = next(c for c in store.codes() if c not in broken)
    done = robopass(
        "registry", "verify", "--db", url_of(store), *codes, clean, "--quiet", text=True
    )
    assert done.returncode == 1
    expected = {line.split(":")[0]: line for line in per_robot_lines(store)}
    assert done.stdout.splitlines()[:-2] == [expected[c] for c in codes]
    assert done.stdout.splitlines()[-2] == "1 of 4 chains verified"


def test_a_clean_store_verifies_every_robot_with_a_progress_bar(store):  # noqa: F811
    total = len(store.codes())
    done = robopass("registry", "verify", "--db", url_of(store), "--page", PAGE, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{total} of {total} chains verified",
        "0 chains still on hash scheme 1 (unsalted)",
    ]
    assert "verify: 100%" in done.stderr and f"{total}/{total}" in done.stderr
    quiet = robopass("registry", "verify", "--db", url_of(store), "--quiet", text=True)
    assert (quiet.returncode, quiet.stderr) == (0, "")
    assert quiet.stdout == done.stdout


@pytest.mark.parametrize(("signum", "workers"), [(signal.SIGINT, "2"), (signal.SIGTERM, "1")])
def test_interrupted_verify_says_so_in_one_line_and_exits_130(pg_url, signum, workers):
    """The log table is locked, so the run is surely under way (it waits for its first
    page) when the signal comes: one line, 130, no traceback, on PostgreSQL (a SQLite
    reader in WAL mode cannot be held up from outside)."""
    import psycopg

    assert (
        robopass("registry", "seed", "--robots", "6", "--db", pg_url, "--seed", "5").returncode == 0
    )
    with psycopg.connect(pg_url) as lock:
        lock.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway.cli",
                "registry",
                "verify",
                "--db",
                pg_url,
                "--page",
                "2",
                "--workers",
                workers,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            watch = psycopg.connect(pg_url, autocommit=True)
            with watch:
                # This schema's events table: other tests' waits elsewhere on the server
                # must not pass for this run's.
                waiting = (
                    "SELECT 1 FROM pg_locks WHERE NOT granted AND relation = 'events'::regclass"
                )
                while not watch.execute(waiting).fetchone():
                    assert proc.poll() is None, proc.communicate()
                    watch.execute("SELECT pg_sleep(0.05)")
            proc.send_signal(signum)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("robopass: interrupted after 0 of 6 robots"), err
    assert [line for line in err.splitlines() if line.startswith("robopass")] == [last]
    assert out == ""
