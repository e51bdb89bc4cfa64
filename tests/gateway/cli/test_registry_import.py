"""`robopass registry import`: killed and resumed, bad lines refused one by one, both backends.

Issue 15's acceptance for the bulk import, with real `robopass` processes:
the import is killed with SIGKILL at three random points and run again, and
afterwards every robot is stored once, as its line said, and every chain
verifies; a file of malformed lines has each one refused with its line number
and rule while the good lines go in and nothing already stored changes.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from gateway.store.bulk import content
from gateway.store.open import open_store
from gateway.synthetic.fleet import synthetic_fleet
from schema.codec import to_plain
from schema.events import fold
from tests.support.cli_process import robopass
from tests.support.imports import chained_line, line_of, mixed_lines, passport_line, write_lines
from tests.support.paths import ROOT
from tests.support.stores import outside

pytestmark = pytest.mark.process

ROBOTS = 240


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'import.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="module")
def histories():
    return list(synthetic_fleet(ROBOTS, seed=15, country="CN", registry="cn-heis"))


def stored_count(store) -> int:
    return outside(store, "SELECT COUNT(*) FROM robots")[0][0]


def start_import(path, db: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "registry",
            "import",
            str(path),
            "--db",
            db,
            "--batch",
            "8",
            "--quiet",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def descendants(pid: int) -> list[int]:
    """The processes `pid` started, and theirs (the fork server and the checking workers)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except FileNotFoundError:
            continue
        found += [int(c) for c in children]
        todo += [int(c) for c in children]
    return found


def running(pid: int) -> bool:
    """Still there and not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_import_killed_three_times_then_rerun_stores_every_robot_once(db, tmp_path, histories):
    path = write_lines(tmp_path / "fleet.ndjson", mixed_lines(histories))
    store = open_store(db)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    # Kill points in the first third: each kill lands a little past its target
    # (the poll interval, the sleep below, a descheduled test process), and the
    # three overshoots must never add up to the whole file.
    targets = sorted(rng.sample(range(8, ROBOTS // 3), 3))
    for target in targets:
        proc = start_import(path, db)
        while stored_count(store) < target and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.02))  # somewhere in the next batch: reading, chaining, writing
        helpers = descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, f"seed {seed}: finished before the kill"
        # Its workers and their fork server go with it, not wait on its pipes for ever.
        for _ in range(600):
            if not any(running(pid) for pid in helpers):
                break
            time.sleep(0.05)
        assert not [pid for pid in helpers if running(pid)], f"seed {seed}: outlived the kill"
    killed_at = stored_count(store)
    assert 0 < killed_at < ROBOTS, f"seed {seed}"

    rerun = robopass("registry", "import", str(path), "--db", db)
    assert rerun.returncode == 0, rerun.stderr
    summary = rerun.stdout.decode()
    assert f"{ROBOTS - killed_at} robots added, {killed_at} already stored, 0 rejected" in summary
    assert "robot" in rerun.stderr  # the progress bar, on standard error

    assert sorted(store.codes()) == sorted(h[0].code for h in histories)
    for row in outside(store, "SELECT code, COUNT(*) FROM events GROUP BY code"):
        code, events = row
        assert events == len(next(h for h in histories if h[0].code == code)), code
    positions = [r[0] for r in outside(store, "SELECT position FROM events ORDER BY position")]
    assert positions == list(range(1, len(positions) + 1))  # gap-free, each event once
    for n, history in enumerate(histories):
        code = history[0].code
        assert to_plain(store.record(code).passport) == to_plain(fold(history)), code
        if n % 3 == 0:  # a chained line is stored as it was, hashes and all
            assert content(store.events(code)) == content(history)
            assert store.head(code).hash == history[-1].hash
    verified = robopass("registry", "verify", "--db", db)
    assert verified.returncode == 0
    assert f"{ROBOTS} of {ROBOTS} chains verified" in verified.stdout.decode()
    store.close()


def test_import_stopped_by_sigterm_says_how_to_resume_in_one_line(tmp_path, histories):
    """A service manager's stop: no traceback from the checking processes, the run resumes."""
    path = write_lines(tmp_path / "fleet.ndjson", mixed_lines(histories))
    db = f"sqlite:///{tmp_path / 'import.db'}"
    proc = start_import(path, db)
    store = open_store(db)
    while stored_count(store) < 16 and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.decode().splitlines() == [
        "robopass: interrupted; run the command again to resume"
    ]
    stopped_at = stored_count(store)
    assert 0 < stopped_at < ROBOTS
    rerun = robopass("registry", "import", str(path), "--db", db, "--quiet")
    summary = rerun.stdout.decode()
    assert f"{ROBOTS - stopped_at} robots added, {stopped_at} already stored" in summary
    store.close()


def test_malformed_lines_are_refused_one_by_one_and_change_nothing_stored(db, tmp_path, histories):
    first = write_lines(tmp_path / "first.ndjson", mixed_lines(histories[:6]))
    assert robopass("registry", "import", str(first), "--db", db, "--quiet").returncode == 0
    store = open_store(db)
    before_robots = outside(store, "SELECT code, head_hash, snapshot FROM robots ORDER BY code")
    before_events = outside(store, "SELECT code, sequence, hash, position FROM events")

    fresh_x, fresh_y, stored_a = histories[10], histories[11], histories[2]
    bad_code = chained_line(histories[12])
    bad_code["code"] = bad_code["code"][:-1] + ("A" if bad_code["code"][-1] != "A" else "B")
    broken = chained_line(histories[13])
    broken["events"][3]["at"] = "2020-01-01T00:00:00Z"  # no longer the time its commitment covers
    other = passport_line(stored_a, "canonical")
    other["events"] = other["events"][:-1]  # robot A with another history
    lines = [
        orjson.dumps(line_of(fresh_x, "cn-miit")),  # 1: good
        b'{"code": "CN", "events": [',  # 2: not JSON
        orjson.dumps(bad_code),  # 3: a code whose check character is wrong
        orjson.dumps(broken),  # 4: a chain that does not verify
        orjson.dumps(other),  # 5: a stored robot with another history
        orjson.dumps(line_of(fresh_y, "chained")),  # 6: good
        b"",  # 7: blank, skipped
        orjson.dumps(line_of(fresh_x, "canonical")),  # 8: robot X again, the same history
    ]
    path = write_lines(tmp_path / "bad.ndjson", lines)
    result = robopass("registry", "import", str(path), "--db", db, "--quiet")
    assert result.returncode == 1
    assert "2 robots added, 1 already stored, 4 rejected" in result.stdout.decode()
    rejected = [line for line in result.stderr.splitlines() if line.startswith("rejected ")]
    assert [line.split(": ")[0].rsplit(":", 1)[1] for line in rejected] == ["2", "3", "4", "5"]
    rules = [line.split(": ")[1] for line in rejected]
    assert rules == ["json", "code.check", "chain", "robot.exists"]
    assert "sequence 4" in rejected[2]
    assert "Traceback" not in result.stderr

    after_robots = outside(store, "SELECT code, head_hash, snapshot FROM robots ORDER BY code")
    assert [r for r in after_robots if r[0] not in (fresh_x[0].code, fresh_y[0].code)] == (
        before_robots
    )
    after_events = outside(store, "SELECT code, sequence, hash, position FROM events")
    assert set(before_events) <= set(after_events)
    added = {r[0] for r in after_events} - {r[0] for r in before_events}
    assert added == {fresh_x[0].code, fresh_y[0].code}
    assert robopass("registry", "verify", "--db", db).returncode == 0
    store.close()


def test_strict_stops_at_the_first_rejected_line(tmp_path, histories):
    db = f"sqlite:///{tmp_path / 'strict.db'}"
    lines = [
        orjson.dumps(line_of(histories[0], "chained")),
        b"[1, 2]",
        orjson.dumps(line_of(histories[1], "chained")),
    ]
    path = write_lines(tmp_path / "strict.ndjson", lines)
    result = robopass("registry", "import", str(path), "--db", db, "--strict", "--quiet")
    assert result.returncode == 1
    assert "1 robots added, 0 already stored, 1 rejected (stopped" in result.stdout.decode()
    assert f"{path}:2: shape:" in result.stderr
    store = open_store(db)
    assert store.codes() == [histories[0][0].code]
    store.close()


def test_standard_input_and_a_folder_are_read_too(tmp_path, histories):
    db = f"sqlite:///{tmp_path / 'stdin.db'}"
    folder = tmp_path / "in"
    folder.mkdir()
    write_lines(folder / "a.ndjson", mixed_lines(histories[:3]))
    write_lines(folder / "b.jsonl", mixed_lines(histories[3:5]))
    (folder / "notes.txt").write_text("not read")
    assert robopass("registry", "import", str(folder), "--db", db, "--quiet").returncode == 0
    piped = b"".join(line + b"\n" for line in mixed_lines(histories[4:7]))
    result = robopass("registry", "import", "-", "--db", db, "--quiet", stdin=piped)
    assert result.returncode == 0, result.stderr
    assert "2 robots added, 1 already stored, 0 rejected; 7 in" in result.stdout.decode()


def test_a_missing_file_is_one_clear_line(tmp_path):
    db = f"sqlite:///{tmp_path / 'none.db'}"
    result = robopass("registry", "import", str(tmp_path / "nope.ndjson"), "--db", db)
    assert result.returncode != 0
    assert "cannot read" in result.stderr and "nope.ndjson" in result.stderr
    assert "Traceback" not in result.stderr
