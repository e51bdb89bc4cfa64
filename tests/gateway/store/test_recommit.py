"""`robopass registry recommit`: a store seeded under hash scheme 1 moves to scheme 2.

The command runs as a real process on a real store of a few hundred robots
(SQLite and PostgreSQL), is killed with SIGKILL part way, then run again: every
chain must verify, every robot carry exactly one CHAIN_RECOMMITTED, every
passport stay as it was and `registry verify` report no scheme-1 chain left.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from gateway.store import Store
from gateway.store.open import open_store
from gateway.store.recommit import recommit_key
from gateway.synthetic.fleet import synthetic_fleet
from schema.codec import to_plain
from schema.events import LEGACY_SCHEME, SCHEME, EventType, rechain
from tests.support.cli_process import ROOT
from tests.support.stores import outside

ROBOTS = 300


@pytest.fixture(scope="module")
def legacy_fleet() -> list:
    """A fleet as a store written before salting holds it: every event scheme 1."""
    return [rechain(h, LEGACY_SCHEME) for h in synthetic_fleet(ROBOTS, seed=23)]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'legacy.db'}"
    return request.getfixturevalue("pg_url")


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "gateway.cli", "registry", *args]


def recommitted(store: Store) -> Counter:
    rows = outside(store, "SELECT code FROM events WHERE type = ?", ("CHAIN_RECOMMITTED",))
    return Counter(code for (code,) in rows)


def kill_part_way(db: str, store: Store) -> int:
    """Start the migration, SIGKILL it once some robots are done; how many were."""
    proc = subprocess.Popen(
        command("recommit", "--db", db, "--quiet"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if sum(recommitted(store).values()) >= 20:
                break
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the migration ended before it could be killed"
    return sum(recommitted(store).values())


@pytest.mark.process
def test_recommit_survives_a_kill_and_leaves_every_chain_verified(db, legacy_fleet):
    store = open_store(db)
    try:
        store.import_histories(legacy_fleet)
        codes = [h[0].code for h in legacy_fleet]
        before = {c: to_plain(store.passport(c)) for c in codes}
        heads = {c: store.head(c) for c in codes}
        feed_head = store.feed_head()
        assert store.legacy_count() == ROBOTS

        done = kill_part_way(db, store)
        assert 0 < done < ROBOTS, f"killed after {done} of {ROBOTS} robots"
        assert store.legacy_count() == ROBOTS - done, "each robot is done or untouched"
        assert all(store.verify_chain(c).verified for c in codes), "a kill breaks no chain"

        finish = subprocess.run(
            command("recommit", "--db", db), cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert finish.returncode == 0, finish.stderr
        assert f"{ROBOTS - done} robots (" in finish.stdout
        assert "0 left on scheme 1" in finish.stdout

        again = subprocess.run(
            command("recommit", "--db", db), cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert again.returncode == 0 and again.stdout.startswith("0 robots (0 events)")

        assert recommitted(store) == Counter({c: 1 for c in codes})
        for history in legacy_fleet:
            code = history[0].code
            events = store.events(code)
            assert store.verify_chain(code).verified
            assert [e.scheme for e in events] == [SCHEME] * (len(history) + 1)
            assert [(e.at, e.type, e.payload) for e in events[:-1]] == [
                (e.at, e.type, e.payload) for e in history
            ], "times, types and payloads unchanged"
            assert not {e.hash for e in events} & {e.hash for e in history}
            marker = events[-1]
            assert marker.type is EventType.CHAIN_RECOMMITTED
            assert marker.payload == {"from_scheme": 1, "to_scheme": 2, "events": len(history)}
            assert to_plain(store.passport(code)) == before[code]
            head = store.head(code)
            assert head.sequence == heads[code].sequence + 1 and head.hash == marker.hash
        key = recommit_key(codes[0])
        assert store.event_by_key(key).type is EventType.CHAIN_RECOMMITTED

        changes = store.changes(after=0, limit=100_000)
        assert len(changes) == feed_head + ROBOTS, "rewritten events keep their positions"
        markers = [c for c in changes if c.position > feed_head]
        assert {c.event.type for c in markers} == {EventType.CHAIN_RECOMMITTED}

        verify = subprocess.run(
            command("verify", "--db", db), cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert verify.returncode == 0, verify.stdout
        assert f"{ROBOTS} of {ROBOTS} chains verified" in verify.stdout
        assert "0 chains still on hash scheme 1" in verify.stdout
    finally:
        store.close()


def test_verify_counts_legacy_chains_and_serve_warns(tmp_path, legacy_fleet, capsys):
    from gateway.cli.main import main
    from gateway.cli.serve import warn_legacy

    db = f"sqlite:///{tmp_path / 'mixed.db'}"
    store = open_store(db)
    store.import_histories([*legacy_fleet[:3], *synthetic_fleet(2, seed=99)])
    assert main(["registry", "verify", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "5 of 5 chains verified" in out
    assert "3 chains still on hash scheme 1 (unsalted): run `robopass registry recommit`" in out
    warn_legacy(store)
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "robopass registry recommit" in err
    assert store.recommit(legacy_fleet[0][0].code) == len(legacy_fleet[0])
    assert store.recommit(legacy_fleet[0][0].code) == 0, "a done robot is skipped"
    assert store.legacy_count() == 2
    store.close()


def test_a_forged_migration_marker_is_refused(tmp_path, fleet):
    """CHAIN_RECOMMITTED is the registry's own record: no writer may append one."""
    from schema.events import ChainRecommitted, fold
    from schema.writes import WriteRejected, check_event

    passport = fold(fleet[0])
    with pytest.raises(WriteRejected, match="registry only"):
        check_event(passport, EventType.CHAIN_RECOMMITTED, ChainRecommitted(1, 2, 3), None)
