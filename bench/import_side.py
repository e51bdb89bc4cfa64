"""Benchmark: `robopass registry import` of two checkouts side by side, CPU per process.

The command as users run it (`registry import FILE --db URL --quiet`, its
default workers), of this checkout and of another (`--against DIR`, e.g. a
`git archive` of the base commit), alternately, each into a fresh PostgreSQL
schema or SQLite file. While each runs, the CPU (user + system) of the
importing process, of its checking workers and their fork server, and of the
PostgreSQL backends it opened (found by `application_name`; the server must be
on this machine) is read from /proc every 20 ms. On a shared machine wall
time says more about the neighbours than about the import; CPU per process
per robot is what the table gives. With PostgreSQL it also prints an MD5 over
every stored event row (all columns but `recorded_at`, in feed order) and
every robot row (all but `updated_at`): the same digest on both sides means
the same rows stored.

Not in CI. Usage: `python -m bench.import_side --fleet FILE --against DIR
[--rounds 2] [--backend postgresql|sqlite] [--postgres URL]`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
ROLES = ("importer", "workers", "backend")
EVENTS_MD5 = (
    "SELECT md5(string_agg(concat_ws('|', code, sequence, at, type, payload, prev_hash, hash,"
    " scheme, salt, commitment, idempotency_key, owner, owner_id, position), E'\\n'"
    " ORDER BY position)) FROM events"
)
ROBOTS_MD5 = (
    "SELECT md5(string_agg(concat_ws('|', code, manufacturer, category, status, owner,"
    " owner_id, head_sequence, head_hash, snapshot, registry), E'\\n' ORDER BY code)) FROM robots"
)


@dataclass
class Run:
    """One import: CPU seconds by role, wall seconds, what was stored."""

    code: str
    wall: float = 0.0
    robots: int = 0
    events: int = 0
    digest: str = ""
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(ROLES, 0.0))


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def descendants(pid: int) -> list[int]:
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


def one(conn: psycopg.Connection, sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return row[0]


def run_import(code: Path, fleet: Path, args: argparse.Namespace, folder: Path) -> Run:
    """`registry import` of the checkout at `code` into a fresh store, CPU polled."""
    name = f"robopass_side_{uuid.uuid4().hex[:10]}"
    monitor = psycopg.connect(args.postgres, autocommit=True)
    if args.backend == "sqlite":
        url = f"sqlite:///{folder / (name + '.db')}"
    else:
        monitor.execute(f"CREATE SCHEMA {name}")
        url = f"{args.postgres}?options=-csearch_path%3D{name}&application_name={name}"
    argv = [sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main())"]
    argv += ["registry", "import", str(fleet), "--db", url, "--quiet"]
    run, backends = Run(code.name), set()
    seen: dict[int, tuple[str, float]] = {}
    started, asked = time.perf_counter(), 0.0
    child = subprocess.Popen(argv, cwd=code, stdout=subprocess.DEVNULL)
    while True:
        # Read the importer's own CPU before reaping it: WNOWAIT keeps it a zombie.
        done = os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        if args.backend == "postgresql" and time.perf_counter() - asked > 0.5:
            rows = monitor.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (name,)
            )
            backends |= {pid for (pid,) in rows}
            asked = time.perf_counter()
        roles = [(child.pid, "importer")]
        roles += [(pid, "workers") for pid in descendants(child.pid)]
        roles += [(pid, "backend") for pid in backends]
        for pid, role in roles:
            seconds = cpu_seconds(pid)
            if seconds is not None:
                seen[pid] = (role, max(seconds, seen.get(pid, (role, 0.0))[1]))
        if done is not None:
            break
        time.sleep(0.02)
    run.wall = time.perf_counter() - started
    child.wait()
    for role, seconds in seen.values():
        run.cpu[role] += seconds
    if args.backend == "sqlite":
        with sqlite3.connect(folder / (name + ".db")) as db:
            run.robots = db.execute("SELECT COUNT(*) FROM robots").fetchone()[0]
            run.events = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    else:
        monitor.execute(f"SET search_path TO {name}")
        run.robots = one(monitor, "SELECT COUNT(*) FROM robots")
        run.events = one(monitor, "SELECT COUNT(*) FROM events")
        events, robots = one(monitor, EVENTS_MD5), one(monitor, ROBOTS_MD5)
        run.digest = f"{events[:12]} {robots[:12]}"
        monitor.execute(f"DROP SCHEMA {name} CASCADE")
    monitor.close()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fleet", type=Path, required=True, help="NDJSON to import")
    parser.add_argument("--against", type=Path, required=True, help="the other checkout")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--postgres", default="postgresql://127.0.0.1:5432/test")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"# bench.import_side: {args.fleet}, {args.backend}, {os.cpu_count()} cores")
    print(f"started {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC, load {load[0]:.1f}")
    heads = ["code", "wall s", "robots", "events", *(f"{r} ms/robot" for r in ROLES)]
    heads += ["all ms/robot", "all us/event", "rows MD5"]
    print("| " + " | ".join(heads) + " |")
    print("| " + " | ".join("---" for _ in heads) + " |")
    with tempfile.TemporaryDirectory(prefix="robopass-side-") as tmp:
        for _ in range(args.rounds):
            for code in (args.against.resolve(), ROOT):
                run = run_import(code, args.fleet.resolve(), args, Path(tmp))
                per = [1000 * run.cpu[r] / run.robots for r in ROLES]
                total = sum(run.cpu.values())
                cells = [run.code, f"{run.wall:.1f}", str(run.robots), str(run.events)]
                cells += [f"{p:.3f}" for p in per]
                cells += [f"{1000 * total / run.robots:.3f}", f"{1e6 * total / run.events:.1f}"]
                print("| " + " | ".join([*cells, run.digest]) + " |", flush=True)
    load = os.getloadavg()
    print(f"ended {time.strftime('%H:%M:%S', time.gmtime())} UTC, load {load[0]:.1f}")


if __name__ == "__main__":
    main()
