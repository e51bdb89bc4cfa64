"""Benchmark: events appended per second on SQLite and on PostgreSQL, in one run.

Each append goes through the store's whole write path (idempotency key lookup,
row lock, decode the snapshot, apply, re-encode, insert, update, commit).
Measured with one writer and with several writer processes on disjoint robots,
next to the same work without a database (the ceiling of this Python code), so
the ratios say what the database costs. Usage: `python -m bench.store`
(`--seconds` per measurement, `--writers`, `--postgres URL`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.store import Store
from gateway.store.open import open_store
from gateway.synthetic.fleet import synthetic_fleet
from schema.codec import from_plain, to_plain
from schema.events import EventType, apply_in_place, canonical_json, chain
from schema.passport import MaintenanceKind, MaintenanceRecord, Passport

AT = datetime(2026, 11, 1, 8, tzinfo=UTC)


def payload(i: int) -> dict:
    return to_plain(
        MaintenanceRecord(
            AT, MaintenanceKind.INSPECTION, "left_knee", None, "bench", float(i), None
        )
    )


def appends(db: str, codes: list[str], start: float, seconds: float, tag: str) -> int:
    """From wall-clock `start`, append to `codes` round robin for `seconds`; events committed."""
    store = open_store(db)
    time.sleep(max(0.0, start - time.time()))
    count, until = 0, time.perf_counter() + seconds
    while time.perf_counter() < until:
        store.append(
            codes[count % len(codes)],
            EventType.MAINTENANCE_RECORDED,
            payload(count),
            AT,
            idempotency_key=f"{tag}-{count}",
        )
        count += 1
    store.close()
    return count


def _worker(job: tuple[str, list[str], float, float, str]) -> int:
    return appends(*job)


def concurrent(db: str, codes: list[str], writers: int, seconds: float) -> float:
    """Events per second of `writers` processes, each on its own share of the robots.

    The processes start together at an agreed time, after all have imported.
    """
    start = time.time() + 3
    shares = [codes[w::writers] for w in range(writers)]
    jobs = [(db, shares[w], start, seconds, f"{uuid.uuid4().hex}-{w}") for w in range(writers)]
    with multiprocessing.get_context("spawn").Pool(writers) as pool:
        counts = pool.map(_worker, jobs)
    return sum(counts) / seconds


def ceiling(db: str, robots: int, seconds: float) -> float:
    """The append's own work without a database: decode, apply, hash, encode."""
    store = open_store(db)
    codes = seeded(store, robots)
    snapshots = {c: canonical_json(to_plain(store.passport(c))) for c in codes}
    heads = {c: store.head(c) for c in codes}
    store.close()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        code, body = codes[count % len(codes)], payload(count)
        head = heads[code]
        passport = from_plain(Passport, orjson.loads(snapshots[code]))
        apply_in_place(passport, EventType.MAINTENANCE_RECORDED, body)
        chain(code, head.sequence + 1, AT, EventType.MAINTENANCE_RECORDED, body, head.hash)
        canonical_json(to_plain(passport))
        count += 1
    return count / (time.perf_counter() - start)


def seeded(store: Store, robots: int) -> list[str]:
    store.import_histories(synthetic_fleet(robots, seed=1))
    return store.codes()


def measure(databases: Callable[[], AbstractContextManager[str]], args: argparse.Namespace) -> dict:
    """One writer, then several, each on a freshly seeded database (snapshots grow as we write)."""
    result = {}
    for key, writers in (("one", 1), ("many", args.writers)):
        with databases() as db:
            store = open_store(db)
            codes = seeded(store, args.robots)
            result[key] = concurrent(db, codes, writers, args.seconds)
            result["verified"] = result.get("verified", True) and all(
                store.verify_chain(c).verified for c in codes
            )
            store.close()
    return result


@contextmanager
def sqlite_file() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextmanager
def postgres_schema(url: str, *settings: str) -> Iterator[str]:
    """A URL that works in a fresh schema of the server, with session `settings`; dropped after."""
    import psycopg

    name = f"robopass_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {name}")
        options = "%20".join(
            f"-c{s.replace('=', '%3D')}" for s in (f"search_path={name}", *settings)
        )
        try:
            yield f"{url}{'&' if '?' in url else '?'}options={options}"
        finally:
            admin.execute(f"DROP SCHEMA {name} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--robots", type=int, default=50)
    parser.add_argument("--postgres", default="postgresql://127.0.0.1:5432/test")
    args = parser.parse_args()

    with sqlite_file() as db:
        top = ceiling(db, args.robots, args.seconds)
    pg = args.postgres
    results = {
        "SQLite (synchronous=NORMAL)": measure(sqlite_file, args),
        "PostgreSQL": measure(lambda: postgres_schema(pg), args),
        "PostgreSQL (synchronous_commit=off)": measure(
            lambda: postgres_schema(pg, "synchronous_commit=off"), args
        ),
    }

    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, date {date.today()}, {args.robots} robots, "
        f"{args.seconds}s per measurement, load average {os.getloadavg()[0]:.1f}"
    )
    w = args.writers
    print(f"{'measurement':<56}{'events/s':>10}{'/ ceiling':>11}")
    print(f"{'append work without a database (ceiling)':<56}{top:>10.0f}{1:>11.2f}")
    for name, r in results.items():
        print(f"{name + ', 1 writer':<56}{r['one']:>10.0f}{r['one'] / top:>11.2f}")
        print(f"{name + f', {w} writer processes':<56}{r['many']:>10.0f}{r['many'] / top:>11.2f}")
    print(f"chains verified afterwards: {all(r['verified'] for r in results.values())}")


if __name__ == "__main__":
    main()
