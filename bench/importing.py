"""Benchmark: where `robopass registry import`'s time goes, and its rate, on both backends.

The machine this runs on is shared, so wall-clock rates say as much about the
neighbours as about the import. Besides the rate, this reports **CPU seconds
per robot by process** (the importer, its checking workers, the PostgreSQL
backend that takes the `COPY`), which the neighbours do not change, and from
which the rate on an idle machine of N cores follows:

1. `check`: every line checked and encoded in this process, as one worker
   does it (`gateway.service.importing.documents`, `workers=1`), CPU timed; then
   the first 500 once more under cProfile, for each step's share (JSON, decoding events,
   the chain, the fold, encoding the rows).
2. `store`: the checked robots stored a batch per transaction
   (`gateway.store.bulk.run_import`): the importer's CPU and, on PostgreSQL, the
   backend's CPU (read from /proc, the server being on this machine).
3. `whole`: the command's path, `--workers` processes checking while this one
   stores, wall-clock robots/s and events/s, into a fresh store.

With `--floor`, only the PostgreSQL server's share: the fleet's rows,
checked and encoded once beforehand, are `COPY`d into fresh schemas a batch per
transaction, with payloads and snapshots compressed with lz4 (migration 0010),
with the default pglz, and two variants that show what the foreign key's checks
and the write-ahead log cost (`FLOORS`), alternating; the backend's CPU per
robot and per event with the store as migrated is the least any import of
these rows can cost the server.

Not in CI. Usage: `python -m bench.importing [--robots N] [--workers N]
[--postgres URL] [--backends sqlite,postgresql] [--fleet FILE] [--floor]`
(`--fleet` reuses an NDJSON file of chained logs written by an earlier run with
`--keep FILE`).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.lookup import postgres_schema
from bench.scale import write_fleet
from gateway.service.importing import documents
from gateway.store import copytext
from gateway.store.bulk import Incoming, Rejected, run_import
from gateway.store.open import open_store

STEPS = {  # (file, function) as cProfile names them -> the step it stands for
    ("~", "<orjson.loads>"): "JSON (orjson.loads)",
    ("importing.py", "_event"): "events from JSON",
    ("events.py", "verify"): "chain and commitments (verify)",
    ("importing.py", "_folded"): "fold (decode payloads, apply)",
    ("bulk.py", "of"): "encode rows (payloads, snapshot)",
}
TICKS = os.sysconf("SC_CLK_TCK")
PROFILED = 500  # lines checked again under cProfile for the steps' shares


def checked(path: Path, workers: int) -> Iterator[tuple[str, Incoming | Rejected]]:
    with path.open("rb") as stream:
        yield from documents([(str(path), stream)], workers=workers)


def check_phase(
    path: Path,
) -> tuple[list[tuple[str, Incoming | Rejected]], float, dict[str, float]]:
    """The checked items, CPU seconds to check them, and each step's share under cProfile."""
    started = time.process_time()
    items = list(checked(path, 1))
    cpu = time.process_time() - started
    profile = cProfile.Profile()
    profile.runcall(lambda: list(islice(checked(path, 1), PROFILED)))
    stats: Any = pstats.Stats(profile).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}
    total = sum(tt for (_, _, tt, _, _) in stats.values())
    shares = {}
    for (file, name), step in STEPS.items():
        cumulative = [
            ct for (f, _, fn), (_, _, _, ct, _) in stats.items() if fn == name and f.endswith(file)
        ]
        shares[step] = sum(cumulative) / total
    return items, cpu, shares


def backend_cpu(url: str, application: str) -> float:
    """CPU seconds the server's backends for `application` have used (same machine only)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application,)
        ).fetchall()
    seconds = 0.0
    for (pid,) in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:  # a pooled connection closed in the meantime
            continue
        fields = stat.rsplit(")", 1)[1].split()
        seconds += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return seconds


@contextmanager
def store_url(backend: str, folder: Path, server: str, name: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / (name + '.db')}"
        return
    with postgres_schema(server) as url:
        yield f"{url}&application_name={name}"


def measure(backend: str, path: Path, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    items, check_cpu, shares = check_phase(path)
    robots = sum(1 for _, item in items if isinstance(item, Incoming))
    events = sum(len(item.event_lines) for _, item in items if isinstance(item, Incoming))
    result: dict[str, Any] = {"robots": robots, "events": events, "check": check_cpu}
    result["shares"] = shares
    application = f"robopass-import-{uuid.uuid4().hex[:8]}"
    with store_url(backend, folder, args.postgres, application) as url:
        store = open_store(url)
        server_before = backend_cpu(url, application) if backend == "postgresql" else 0.0
        started, cpu = time.perf_counter(), time.process_time()
        run_import(store, items, batch=args.batch)
        result["store_wall"] = time.perf_counter() - started
        result["store"] = time.process_time() - cpu
        if backend == "postgresql":
            result["server"] = backend_cpu(url, application) - server_before
        store.close()
    with store_url(backend, folder, args.postgres, application + "w") as url:
        store = open_store(url)
        started = time.perf_counter()
        summary = run_import(store, checked(path, args.workers), batch=args.batch)
        result["whole"] = time.perf_counter() - started
        assert summary.added == robots and not summary.rejected, summary.rejected[:3]
        store.close()
    return result


def encoded_batches(path: Path, workers: int, batch: int) -> list[tuple[bytes, bytes]]:
    """The fleet's rows as `COPY` text, (events, robots) a batch of `batch` robots each,
    as `run_import` would send them to a fresh store (positions from 1, one time)."""
    now = "2026-12-05T00:00:00.000000Z"
    items = [item for _, item in checked(path, workers) if isinstance(item, Incoming)]
    batches, position = [], 1
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        lines = [line for item in chunk for line in item.event_lines]
        events = b"".join(copytext.numbered(lines, now, position))
        position += len(lines)
        robots = b"".join(copytext.stamped([item.robot_line for item in chunk], now))
        batches.append((events, robots))
    return batches


FLOORS = {  # the store as migrated, then these statements
    "lz4 (as migrated)": [],
    "pglz": [
        "ALTER TABLE events ALTER COLUMN payload SET COMPRESSION pglz",
        "ALTER TABLE robots ALTER COLUMN snapshot SET COMPRESSION pglz",
    ],
    "lz4, no foreign key events -> robots": ["ALTER TABLE events DROP CONSTRAINT events_code_fkey"],
    "lz4, unlogged tables (no WAL)": [
        "ALTER TABLE events SET UNLOGGED",
        "ALTER TABLE robots SET UNLOGGED",
    ],
}
"""What the server's share is with each: the last two are not safe for a registry (no
integrity check of an event's robot; a table emptied by a crash), only measures of
what the foreign key's checks and the write-ahead log cost."""


def floor(path: Path, args: argparse.Namespace) -> None:
    """The server's CPU for `COPY` of rows already encoded, store as migrated and variants."""
    import psycopg

    batches = encoded_batches(path, args.workers, args.batch)
    robots = args.robots
    events = sum(chunk.count(b"\n") for chunk, _ in batches)
    copy_events = f"COPY events ({', '.join(copytext.EVENT_COLUMNS)}) FROM STDIN"
    copy_robots = f"COPY robots ({', '.join(copytext.ROBOT_COLUMNS)}) FROM STDIN"
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in FLOORS}
    for _ in range(args.rounds):
        for method in results:
            with postgres_schema(args.postgres) as url:
                open_store(url).close()  # the schema, every migration applied
                with psycopg.connect(url, autocommit=True) as conn:
                    for statement in FLOORS[method]:
                        conn.execute(statement)
                    (pid,) = conn.execute("SELECT pg_backend_pid()").fetchone()
                    server, client = process_cpu(pid), time.process_time()
                    started = time.perf_counter()
                    for event_text, robot_text in batches:
                        with conn.transaction(), conn.cursor() as cursor:
                            with cursor.copy(copy_events) as copy:
                                copy.write(event_text)
                            with cursor.copy(copy_robots) as copy:
                                copy.write(robot_text)
                    wall = time.perf_counter() - started
                    server = process_cpu(pid) - server
                    client = time.process_time() - client
                    (size,) = conn.execute(
                        "SELECT pg_total_relation_size('events') + pg_total_relation_size('robots')"
                    ).fetchone()
            results[method].append((server, client, size))
            print(
                f"{method}: backend {1000 * server / robots:.3f} ms/robot"
                f" ({1e6 * server / events:.1f} us/event), client"
                f" {1000 * client / robots:.3f} ms/robot, wall {wall:.1f} s,"
                f" {size / robots:,.0f} bytes/robot",
                flush=True,
            )
    load = os.getloadavg()
    print(
        f"\n# bench.importing --floor: {robots} robots, {events} events,"
        f" {events / robots:.1f} per robot, batches of {args.batch}"
    )
    print(f"load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}\n")
    print(
        "| store | backend CPU ms per robot | backend CPU us per event |"
        " client CPU ms per robot | bytes per robot |"
    )
    print("| --- | --- | --- | --- | --- |")
    for method, runs in results.items():
        cells = [
            " / ".join(f"{1000 * r[0] / robots:.3f}" for r in runs),
            " / ".join(f"{1e6 * r[0] / events:.1f}" for r in runs),
            " / ".join(f"{1000 * r[1] / robots:.3f}" for r in runs),
            " / ".join(f"{r[2] / robots:,.0f}" for r in runs),
        ]
        print(f"| {method} | " + " | ".join(cells) + " |")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process on this machine (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    load = os.getloadavg()
    print(
        f"# bench.importing: {args.robots} robots, {args.workers} workers, {os.cpu_count()} cores"
    )
    print(f"load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}\n")
    names = list(results)
    print("| measure | " + " | ".join(names) + " |")
    print("| --- | " + " | ".join("---" for _ in names) + " |")

    def row(label: str, cell: Any) -> None:
        print(f"| {label} | " + " | ".join(cell(results[n]) for n in names) + " |")

    per = lambda r, key: 1000 * r.get(key, 0.0) / r["robots"]  # noqa: E731
    row("events per robot", lambda r: f"{r['events'] / r['robots']:.1f}")
    row("CPU ms per robot: check and encode (one worker)", lambda r: f"{per(r, 'check'):.2f}")
    for step in STEPS.values():
        row(f"... {step}, share under cProfile", lambda r, s=step: f"{100 * r['shares'][s]:.0f}%")
    row("CPU ms per robot: store, importer process", lambda r: f"{per(r, 'store'):.2f}")
    row("CPU ms per robot: store, PostgreSQL backend", lambda r: f"{per(r, 'server'):.2f}")
    row("store alone, wall (robots/s)", lambda r: f"{r['robots'] / r['store_wall']:.0f}")
    row(
        f"whole import, {args.workers} workers, wall (robots/s)",
        lambda r: f"{r['robots'] / r['whole']:.0f}",
    )
    row("whole import, wall (events/s)", lambda r: f"{r['events'] / r['whole']:.0f}")
    cores = os.cpu_count() or 1

    def ceiling(r: dict[str, Any]) -> str:
        cpu = r["check"] + r["store"] + r.get("server", 0.0)
        return f"{r['robots'] * cores / cpu:.0f}"

    row(f"CPU-bound ceiling on {cores} idle cores (robots/s)", ceiling)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--robots", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--postgres", default="postgresql://127.0.0.1:5432/test")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--fleet", type=Path, help="an NDJSON file of chained logs to import")
    parser.add_argument("--keep", type=Path, help="write the generated fleet here")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="only the PostgreSQL server's CPU for COPY of encoded rows, lz4 against pglz",
    )
    parser.add_argument("--rounds", type=int, default=2, help="--floor: runs of each, alternating")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="robopass-import-") as tmp:
        folder = Path(tmp)
        path = args.fleet or args.keep or folder / "fleet.ndjson"
        if args.fleet is None:
            write_fleet(path, args.robots)
        else:
            with path.open("rb") as lines:
                args.robots = sum(1 for _ in lines)
        if args.floor:
            floor(path, args)
            return
        results = {}
        names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
        for backend in args.backends.split(","):
            results[names[backend]] = measure(backend, path, folder, args)
        report(args, results)


if __name__ == "__main__":
    main()
