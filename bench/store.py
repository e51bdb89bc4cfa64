"""Benchmark: events appended per second on SQLite and on PostgreSQL, in one run.

Each append goes through the store's whole write path (idempotency key lookup,
row lock, decode the snapshot, apply, re-encode, insert, update, commit).
Measured with one writer and with several writer processes on disjoint robots,
next to the same work without a database (the ceiling of this Python code), so
the ratios say what the database costs. Usage: `python bench/store.py`
(`--seconds` per measurement, `--writers`, `--postgres URL`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.cli import open_store
from gateway.store import Store
from gateway.synthetic import synthetic_fleet
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


def appends(db: str, codes: list[str], seconds: float, tag: str) -> int:
    """Append to `codes` round robin for `seconds`; the number of events committed."""
    store = open_store(db)
    count, until = 0, time.perf_counter() + seconds
    while time.perf_counter() < until:
        code = codes[count % len(codes)]
        store.append(
            code,
            EventType.MAINTENANCE_RECORDED,
            payload(count),
            AT,
            idempotency_key=f"{tag}-{count}",
        )
        count += 1
    store.close()
    return count


def _worker(job: tuple[str, list[str], float, str]) -> int:
    return appends(*job)


def concurrent(db: str, codes: list[str], writers: int, seconds: float) -> float:
    """Events per second of `writers` processes, each on its own share of the robots."""
    shares = [codes[w::writers] for w in range(writers)]
    jobs = [(db, shares[w], seconds, f"{uuid.uuid4().hex}-{w}") for w in range(writers)]
    with multiprocessing.get_context("spawn").Pool(writers) as pool:
        start = time.perf_counter()
        counts = pool.map(_worker, jobs)
        elapsed = time.perf_counter() - start
    return sum(counts) / elapsed


def ceiling(store: Store, codes: list[str], seconds: float) -> float:
    """The append's own work without a database: decode, apply, hash, encode."""
    snapshots = {c: canonical_json(to_plain(store.passport(c))) for c in codes}
    heads = {c: store.head(c) for c in codes}
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


def measure(db: str, robots: int, args: argparse.Namespace) -> dict[str, float]:
    store = open_store(db)
    store.import_histories(synthetic_fleet(robots, seed=1))
    codes = store.codes()
    one = appends(db, codes, args.seconds, uuid.uuid4().hex) / args.seconds
    many = concurrent(db, codes, args.writers, args.seconds)
    verified = all(store.verify_chain(c).verified for c in codes)
    store.close()
    return {"one": one, "many": many, "verified": verified}


def postgres_schema(url: str) -> tuple[str, object]:
    """A fresh schema on the server and the URL that writes into it; drop it afterwards."""
    import psycopg

    name = f"robopass_bench_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(url, autocommit=True)
    admin.execute(f"CREATE SCHEMA {name}")
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{name}", lambda: admin.execute(
        f"DROP SCHEMA {name} CASCADE"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--robots", type=int, default=50)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        sqlite = measure(f"sqlite:///{Path(tmp) / 'bench.db'}", args.robots, args)
        base = open_store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        top = ceiling(base, base.codes(), args.seconds)
        base.close()
    url, drop = postgres_schema(args.postgres)
    try:
        postgres = measure(url, args.robots, args)
    finally:
        drop()

    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, date {date.today()}, {args.robots} robots, "
        f"{args.seconds}s per measurement"
    )
    w = args.writers
    print(f"{'measurement':<46}{'events/s':>10}{'/ ceiling':>11}")
    print(f"{'append work without a database (ceiling)':<46}{top:>10.0f}{1:>11.2f}")
    for name, r in (("SQLite", sqlite), ("PostgreSQL", postgres)):
        print(f"{name + ', 1 writer':<46}{r['one']:>10.0f}{r['one'] / top:>11.2f}")
        print(f"{name + f', {w} writer processes':<46}{r['many']:>10.0f}{r['many'] / top:>11.2f}")
    print(f"PostgreSQL / SQLite: 1 writer {postgres['one'] / sqlite['one']:.2f}, ", end="")
    print(f"{w} writers {postgres['many'] / sqlite['many']:.2f}")
    print(f"chains verified afterwards: {sqlite['verified'] and postgres['verified']}")


if __name__ == "__main__":
    main()
