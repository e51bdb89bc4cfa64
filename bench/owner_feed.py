"""Benchmark: one owner's change feed (`fleetChanges(ownerId:)`), before and after
migration 0009, side by side on one database in one run.

A synthetic fleet is imported (`registry import`'s path) into a PostgreSQL schema
(and a SQLite file with `--backends`); then pages of 500 of the most common owner
and of a rare one, from the same random positions, are read alternately with the
query the store ran before 0009 (every event after the cursor joined to its robot,
the robot's owner compared) and with `Store.changes` now (a range of the events'
(owner_id, position) index). Reported per query: rows a page, the median wall time,
the mean CPU time of this process and, on PostgreSQL, of the server's backend
process (from /proc, the server being on this machine); then the plans, `EXPLAIN (ANALYZE,
BUFFERS)`, with the rows each reads. The unfiltered page is timed alongside: its
query did not change, only the rows grew by the two owner columns.

Usage: `python -m bench.owner_feed [--robots N] [--pages N] [--postgres URL]
[--backends postgresql,sqlite] [--fleet FILE]`.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.lookup import postgres_schema
from bench.scale import import_file, write_fleet
from gateway.store.base import Store
from gateway.store.open import open_store
from gateway.store.sql import EVENT_COLUMNS, row_event
from schema.source import Change, RobotFilter

COLUMNS = ", ".join(f"e.{c.strip()}" for c in EVENT_COLUMNS.split(","))
BEFORE = (
    f"SELECT e.position, {COLUMNS} FROM events e JOIN robots r ON r.code = e.code"
    " WHERE e.position > ? AND r.owner_id = ? ORDER BY e.position LIMIT ?"
)
"""The store's query for one owner's page before migration 0009."""


def before(store: Store, after: int, limit: int, owner_id: str) -> list[Change]:
    with store._reading() as db:
        rows = db.execute(BEFORE, (after, owner_id, limit)).fetchall()
    return [Change(r[0], row_event(r[1:])) for r in rows]


def backend_cpu(store: Store) -> Callable[[], float]:
    """Seconds of CPU the PostgreSQL backend serving `store`'s one pooled connection has used;
    0 for SQLite (its work is this process's, counted by `time.process_time`)."""
    if store.dialect != "postgresql":
        return lambda: 0.0
    with store._reading() as db:
        (pid,) = db.execute("SELECT pg_backend_pid()").fetchone()
    ticks = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    return read


def owners(store: Store) -> tuple[str, str]:
    """The owner id with the most robots and one with the fewest."""
    with store._reading() as db:
        rows = db.execute(
            "SELECT owner_id, COUNT(*) FROM robots WHERE owner_id IS NOT NULL"
            " GROUP BY owner_id ORDER BY COUNT(*) DESC, owner_id"
        ).fetchall()
    return rows[0][0], rows[-1][0]


def measure(db: str, path: Path, pages: int) -> dict[str, Any]:
    store = open_store(db, pool_size=1) if db.startswith("postgresql") else open_store(db)
    try:
        imported = import_file(store, path)
        head = store.feed_head()
        big, rare = owners(store)
        rng = random.Random(15)
        positions = [rng.randrange(head // 2) for _ in range(pages)]
        cpu = backend_cpu(store)
        result: dict[str, Any] = {"import": imported, "events": head, "owners": (big, rare)}
        for owner_id in (big, rare):
            where = RobotFilter(owner_id=owner_id)
            for after in positions[:3]:  # the same events, both ways
                assert before(store, after, 500, owner_id) == store.changes(after, 500, where)
            kinds: dict[str, Callable[[int], object]] = {
                "before": partial(before, store, limit=501, owner_id=owner_id),
                "after": partial(store.changes, limit=501, where=where),
            }
            walls: dict[str, list[float]] = {k: [] for k in kinds}
            cpus = {k: [0.0, 0.0] for k in kinds}
            rows = {k: 0 for k in kinds}
            for after in positions:
                for kind, run in kinds.items():  # alternately: the same minutes for both
                    wall, mine, server = time.perf_counter(), time.process_time(), cpu()
                    rows[kind] += len(run(after))  # type: ignore[arg-type]
                    walls[kind].append((time.perf_counter() - wall) * 1000)
                    cpus[kind][0] += time.process_time() - mine
                    cpus[kind][1] += cpu() - server
            # CPU as the mean over all pages: /proc counts in 10 ms ticks, too coarse for one
            result[owner_id] = {
                k: (
                    statistics.median(walls[k]),
                    cpus[k][0] * 1000 / pages,
                    cpus[k][1] * 1000 / pages,
                    rows[k] / pages,
                )
                for k in kinds
            }
        unfiltered = []
        for after in positions:
            wall = time.perf_counter()
            store.changes(after, 501)
            unfiltered.append((time.perf_counter() - wall) * 1000)
        result["unfiltered"] = statistics.median(unfiltered)
        if store.dialect == "sqlite":
            with store._reading() as db:
                sql = f"SELECT e.position, {COLUMNS} FROM events e WHERE e.owner_id = ?"
                sql += " AND e.position > ? ORDER BY e.position LIMIT 501"
                plan = db.execute("EXPLAIN QUERY PLAN " + sql, (big, 1000)).fetchall()
            result["plan"] = "; ".join(str(row[-1]) for row in plan)
        result["robots"] = store.count()
        return result
    finally:
        store.close()


def explain(url: str, owner_id: str, position: int) -> str:
    import psycopg

    after_sql = (
        f"SELECT e.position, {COLUMNS} FROM events e WHERE e.owner_id = %s"
        " AND e.position > %s ORDER BY e.position LIMIT %s"
    )
    queries = (
        ("before 0009", BEFORE.replace("?", "%s"), (position, owner_id, 501)),
        ("after 0009", after_sql, (owner_id, position, 501)),
    )
    sections = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
        for name, sql, params in queries:
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
            plan = "\n".join(r[0] for r in rows.fetchall())
            sections.append(f"**{name}**\n\n```\n{plan}\n```\n")
    return "\n".join(sections)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--robots", type=int, default=3000)
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--postgres", default="postgresql://127.0.0.1:5432/test")
    parser.add_argument("--backends", default="postgresql")
    parser.add_argument("--fleet", type=Path, help="import this NDJSON of chained logs instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="robopass-ownerfeed-") as tmp:
        path = args.fleet or Path(tmp) / "fleet.ndjson"
        if args.fleet is None:
            write_fleet(path, args.robots)
        results: dict[str, dict[str, Any]] = {}
        plans = ""
        for backend in args.backends.split(","):
            if backend == "sqlite":
                results["SQLite"] = measure(f"sqlite:///{Path(tmp) / 'big.db'}", path, args.pages)
                continue
            with postgres_schema(args.postgres) as url:
                results["PostgreSQL"] = measure(url, path, args.pages)
                plans = explain(url, results["PostgreSQL"]["owners"][0], 1000)
    load = os.getloadavg()
    print(f"# bench.owner_feed: load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    print("| backend | robots / events | owner | query | rows a page | wall ms (median)"
          " | client CPU ms (mean) | server CPU ms (mean) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        for owner_id, label in zip(r["owners"], ("most robots", "fewest robots"), strict=True):
            for kind in ("before", "after"):
                wall, mine, server, rows = r[owner_id][kind]
                print(
                    f"| {name} | {r['robots']} / {r['events']} | {label} | {kind} 0009"
                    f" | {rows:.0f} | {wall:.1f} | {mine:.1f} | {server:.1f} |"
                )
        print(f"| {name} | | (unfiltered) | now | 501 | {r['unfiltered']:.1f} | | |")
    for name, r in results.items():
        if "plan" in r:
            print(f"\n{name}, one owner's page now: `{r['plan']}`")
    print()
    print(plans)


if __name__ == "__main__":
    main()
