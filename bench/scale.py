"""Benchmark: a registry at scale on SQLite and PostgreSQL, side by side, in one run.

For each backend: `robopass registry import`'s path (`gateway.service.importing`
reading NDJSON, `gateway.store.bulk.run_import` storing it) fills a store of
`--robots` synthetic robots (timed: robots/s and events/s, lines checked in
one worker process per core) and one of 1,000; then, in process against both
stores, single-robot lookups (p50/p99/p99.9, the two stores interleaved; with
`--prewarm` what a lookup reads is loaded with `pg_prewarm` first),
`robots(first: 100)` pages with each filter and the `count` that `totalCount`
runs, `fleetChanges` pages, and bytes on disk per robot and per event. With
`--explain FILE` the PostgreSQL plans of the store's queries are written to FILE
(docs/operations.md holds the last ones).
With `--sync N` one organisation is given a fleet of N robots out of the large
store by ownership transfers, which a real `robopass sync --owner` process then
mirrors from a `graphql-policies` server on loopback, from scratch and after
`--sync-appends` new events (`bench.scale_sync`; the transfers stay in the store,
and a re-run makes none for robots the organisation owns already).

Not in CI: a million robots take hours to generate and import on a laptop.
Usage: `python -m bench.scale [--robots N] [--lookups N] [--postgres URL]
[--backends sqlite,postgresql] [--explain FILE] [--fleet FILE] [--big-db URL] [--prewarm]
[--sync N] [--sync-appends K]`, e.g. `python -m bench.scale --big-db URL --sync 50000`.

A million robots do not fit this machine's disk twice (a fleet file of about 39 GB
beside about 45 GB of PostgreSQL), so `--big-db` measures a store filled beforehand by
the streamed pipe, which writes no file and can be resumed:
`robopass registry fleet --robots 1000000 --seed 1 | robopass registry import - --db URL`
(timed by the shell); the 1,000-robot store beside it is the same fleet's first robots.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.lookup import postgres_schema
from bench.scale_sync import ORG, FleetSync, SyncRun, fleet_sync
from gateway.cli.registry.fleet import fleet_lines
from gateway.service.importing import documents
from gateway.store.base import Store
from gateway.store.bulk import Incoming, Rejected, run_import
from gateway.store.decoded import DecodedPassports
from gateway.store.open import open_store
from gateway.synthetic.fleet import NOW
from schema.source import RobotFilter

SMALL = 1000
FILTERS = ("manufacturer", "category", "status", "owner_id")


def write_fleet(path: Path, robots: int) -> tuple[int, float]:
    """The synthetic fleet as chained NDJSON lines; (events, seconds to generate).

    `robopass registry fleet`'s writer: streamed, one generating process per core.
    """
    started, events = time.perf_counter(), 0
    spec = (1, "CN", "cn-heis", NOW)
    with path.open("wb") as out:
        for chunk in fleet_lines(spec, 0, robots, workers=os.cpu_count() or 1):
            events += chunk.count(b'"prevHash"')
            out.write(chunk)
    return events, time.perf_counter() - started


def first_lines(path: Path, count: int, folder: Path) -> Path:
    small = folder / f"first-{count}.ndjson"
    with path.open("rb") as source, small.open("wb") as out:
        for n, line in enumerate(source):
            if n == count:
                break
            out.write(line)
    return small


def parsed(path: Path) -> Iterator[tuple[str, Incoming | Rejected]]:
    """The lines checked as `registry import` checks them: one worker process per core."""
    with path.open("rb") as stream:
        yield from documents([(str(path), stream)], workers=os.cpu_count() or 1)


def import_file(store: Store, path: Path) -> dict[str, float]:
    """`registry import`'s path, timed whole: workers check lines while this process stores
    them (`python -m bench.importing` splits the time by step and process)."""
    started = time.perf_counter()
    summary = run_import(store, parsed(path), batch=500)
    whole = time.perf_counter() - started
    assert not summary.rejected, summary.rejected[:3]
    return {"robots": summary.added, "whole": whole}


def timed(work: Callable[[], Any], repeat: int = 1) -> float:
    """Milliseconds per call, the median of `repeat` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def lookups(big: Store, little: Store, codes_big: list[str], codes_small: list[str]) -> dict:
    """p50, p99 and p99.9 in milliseconds of `store.record` on each store, interleaved.

    One lookup on the large store, then one on the small, and so on: whatever else the
    machine does in a given second lands on both series alike, which is what makes their
    ratio mean something on a shared machine. Each lookup decodes its snapshot (the
    decoded cache is emptied before it), so both series pay the same decoding and differ
    only in what the database does. The large store's robots are distinct; the small
    store has only 1,000, so its series goes round them again.
    """
    samples: dict[str, list[float]] = {"big": [], "small": []}
    for n, code in enumerate(codes_big):
        for name, store, wanted in (
            ("big", big, code),
            ("small", little, codes_small[n % len(codes_small)]),
        ):
            store.decoded = DecodedPassports()
            started = time.perf_counter()
            assert store.record(wanted) is not None
            samples[name].append((time.perf_counter() - started) * 1000)
    return {name: percentiles(series) for name, series in samples.items()}


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    return tuple(ordered[min(len(ordered) - 1, len(ordered) * q // 1000)] for q in (500, 990, 999))


PREWARMED = """
    SELECT c.oid::regclass::text, c.oid FROM pg_class c
    WHERE c.oid IN ('robots'::regclass, 'robots_pkey'::regclass,
                    (SELECT reltoastrelid FROM pg_class WHERE oid = 'robots'::regclass))
       OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid =
                    (SELECT reltoastrelid FROM pg_class WHERE oid = 'robots'::regclass))
"""


def prewarm(url: str) -> tuple[str, int, float]:
    """What a lookup reads (`robots`, its primary key, its TOAST table and index) loaded
    with `pg_prewarm`, as an operator would after a restart: (mode, bytes, seconds).

    Into shared buffers when it fits in 90% of them, else into the operating system's
    page cache (mode `read`), where a miss in shared buffers costs a copy, not a disk read.
    """
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm SCHEMA public")
        home = conn.execute(
            "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_prewarm'"
        ).fetchone()[0]
        relations = conn.execute(PREWARMED).fetchall()
        size = sum(
            conn.execute("SELECT pg_relation_size(%s)", (oid,)).fetchone()[0]
            for _, oid in relations
        )
        buffers = conn.execute(
            "SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers'"
        ).fetchone()[0]
        mode = "buffer" if size < buffers * 0.9 else "read"
        for _, oid in relations:
            conn.execute(f"SELECT {home}.pg_prewarm(%s::oid::regclass, %s)", (oid, mode))
    return mode, size, time.perf_counter() - started


def common_values(store: Store) -> dict[str, str]:
    """A frequent value of each filtered column, so a page is full."""
    values = {}
    for column in FILTERS:
        with store._reading() as db:
            row = db.execute(
                f"SELECT {column}, COUNT(*) FROM robots WHERE {column} IS NOT NULL"
                f" GROUP BY {column} ORDER BY COUNT(*) DESC LIMIT 1"
            ).fetchone()
        values[column] = row[0]
    return values


def disk_bytes(store: Store, db: str) -> int:
    if db.startswith("sqlite:///"):
        return os.path.getsize(db.removeprefix("sqlite:///"))
    with store._reading() as conn:
        row = conn.execute(
            "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        ).fetchone()
    return int(row[0])


def measure(
    db_big: str, db_small: str, path: Path | None, small: Path, n_lookups: int, warm: bool = False
) -> dict:
    """Everything but the plans, on `db_big` filled from `path` (None: filled already)."""
    big, little = open_store(db_big), open_store(db_small)
    try:
        result: dict[str, Any] = {"import": import_file(big, path) if path else None}
        import_file(little, small)
        rng = random.Random(15)
        codes_small = little.codes()
        rng.shuffle(codes_small)
        codes_big = rng.sample(big.codes(), min(n_lookups, big.count()))
        if warm:
            result["prewarm"] = [prewarm(db_big), prewarm(db_small)]
        result["lookups"] = lookups(big, little, codes_big, codes_small)
        values = common_values(big)
        pages = {}
        for column, value in values.items():
            where = RobotFilter(**{column: value})
            first = big.page_codes(where, 100)
            after = first.end_cursor
            pages[column] = (
                timed(lambda w=where: big.page(w, 100), 5),
                timed(lambda w=where, a=after: big.page(w, 100, a), 5),
                timed(lambda w=where: big.count(w), 3),
                big.count(where),
            )
        pages["(none)"] = (
            timed(lambda: big.page(RobotFilter(), 100), 5),
            timed(
                lambda: big.page(RobotFilter(), 100, big.page_codes(RobotFilter(), 100).end_cursor),
                5,
            ),
            timed(lambda: big.count(), 3),
            big.count(),
        )
        result["pages"] = pages
        head = big.feed_head()
        owner = RobotFilter(owner_id=values["owner_id"])
        result["changes"] = (
            timed(lambda: big.changes(rng.randrange(head), 500), 5),
            timed(lambda: big.changes(rng.randrange(head), 500, owner), 5),
        )
        with big._reading() as conn:
            events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        size = disk_bytes(big, db_big)
        result["disk"] = (size, size / big.count(), size / events, events)
        result["values"] = values
        return result
    finally:
        big.close()
        little.close()


PLANS = {
    "lookup (record)": "SELECT snapshot, head_sequence, head_hash FROM robots"
    " WHERE code = %(code)s",
    "page, no filter": "SELECT code, snapshot, head_sequence, head_hash FROM robots"
    " WHERE code > %(code)s ORDER BY code LIMIT 101",
    "page by manufacturer": "SELECT code, snapshot, head_sequence, head_hash FROM robots"
    " WHERE manufacturer = %(manufacturer)s AND code > %(code)s ORDER BY code LIMIT 101",
    "page by status": "SELECT code, snapshot, head_sequence, head_hash FROM robots"
    " WHERE status = %(status)s ORDER BY code LIMIT 101",
    "page by owner_id": "SELECT code, snapshot, head_sequence, head_hash FROM robots"
    " WHERE owner_id = %(owner_id)s ORDER BY code LIMIT 101",
    "count by category": "SELECT COUNT(*) FROM robots WHERE category = %(category)s",
    "count, no filter": "SELECT COUNT(*) FROM robots",
    "history page": "SELECT code, sequence, at, type, payload, prev_hash, hash, scheme, salt,"
    " commitment FROM events WHERE code = %(code)s AND sequence > 0 ORDER BY sequence LIMIT 101",
    "changes": "SELECT e.position, e.code FROM events e WHERE e.position > %(position)s"
    " ORDER BY e.position LIMIT 501",
    "changes of one owner": "SELECT e.position, e.code FROM events e"
    " WHERE e.owner_id = %(owner_id)s AND e.position > %(position)s"
    " ORDER BY e.position LIMIT 501",
    "feed head": "SELECT COALESCE(MAX(position), 0) FROM events",
    "idempotency key": "SELECT code FROM events WHERE idempotency_key = 'k'",
}


def explain(url: str, values: dict[str, str], out: Path) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        code = conn.execute("SELECT code FROM robots ORDER BY code LIMIT 1 OFFSET 10").fetchone()
        params = {**values, "code": code[0], "position": 1000}
        conn.execute("ANALYZE")
        sections = []
        for name, sql in PLANS.items():
            rows = conn.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql, params)
            plan = "\n".join(r[0] for r in rows.fetchall())
            sections.append(f"**{name}**\n\n```\n{plan}\n```\n")
    out.write_text("\n".join(sections), encoding="utf-8")


def report(args: argparse.Namespace, events: int, generated: float, results: dict) -> None:
    print(f"# bench.scale, {date.today()}: {args.robots} robots ({events} events) against {SMALL}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    if args.big_db:
        print(f"large store filled beforehand: {args.big_db}\n")
    elif generated:
        print(f"fleet generated in {generated:.0f} s ({args.robots / generated:.0f} robots/s)\n")
    else:
        print(f"fleet read from {args.fleet}\n")
    names = list(results)
    print("| measure | " + " | ".join(names) + " |")
    print("| --- | " + " | ".join("---" for _ in names) + " |")

    def row(label: str, cell: Callable[[dict], str]) -> None:
        print(f"| {label} | " + " | ".join(cell(results[n]) for n in names) + " |")

    if all(r["import"] for r in results.values()):
        row(
            f"import, {os.cpu_count()} workers: whole (robots/s)",
            lambda r: f"{r['import']['robots'] / r['import']['whole']:.0f}",
        )
        row(
            "import: whole (events/s)",
            lambda r: f"{r['disk'][3] / r['import']['whole']:.0f}",
        )
    row(
        f"lookup p50 / p99 / p99.9, {args.robots} robots (ms)",
        lambda r: "{:.2f} / {:.2f} / {:.2f}".format(*r["lookups"]["big"]),
    )
    row(
        f"lookup p50 / p99 / p99.9, {SMALL} robots (ms)",
        lambda r: "{:.2f} / {:.2f} / {:.2f}".format(*r["lookups"]["small"]),
    )
    row(
        "lookup ratio large / small: p50 / p99",
        lambda r: "{:.2f}x / {:.2f}x".format(
            *(r["lookups"]["big"][i] / r["lookups"]["small"][i] for i in (0, 1))
        ),
    )
    if any("prewarm" in r for r in results.values()):
        row(
            "pg_prewarm, large / small store: mode, MB, s",
            lambda r: (
                " / ".join(
                    f"{mode}, {size / 1e6:.0f}, {seconds:.1f}"
                    for mode, size, seconds in r["prewarm"]
                )
                if "prewarm" in r
                else "-"
            ),
        )
    for column in [*FILTERS, "(none)"]:
        row(
            f"robots(first: 100) {'no filter' if column == '(none)' else 'by ' + column}:"
            " first / next page / count (ms)",
            lambda r, c=column: "{:.1f} / {:.1f} / {:.1f}".format(*r["pages"][c][:3]),
        )
    row(
        "fleetChanges(first: 500): all / one owner (ms)",
        lambda r: "{:.1f} / {:.1f}".format(*r["changes"]),
    )
    row("disk: bytes per robot", lambda r: f"{r['disk'][1]:.0f}")
    row("disk: bytes per event", lambda r: f"{r['disk'][2]:.0f}")
    if args.sync:
        sync_rows(row, args.sync)


def sync_rows(row: Callable[[str, Callable[[dict], str]], None], size: int) -> None:
    """The fleet sync's rows: the transfers that made the fleet, then the two syncs."""

    def cell(text: Callable[[FleetSync], str]) -> Callable[[dict], str]:
        return lambda r: text(r["sync"])

    def cpu(run: SyncRun) -> str:
        return f"{run.cpu:.1f} / {run.server_cpu:.1f}; {run.rss_mb:.0f}"

    row(
        f"fleet of {ORG}: owned before / transferred now (robots)",
        cell(lambda f: f"{f.prepared.owned_before} / {f.prepared.transferred}"),
    )
    row(
        "transfers (offer + accept): s / appends/s / CPU s of this process",
        cell(lambda f: f"{f.prepared.seconds:.0f} / {f.prepared.appends_per_second:.0f}"
             f" / {f.prepared.cpu:.0f}"),
    )  # fmt: skip
    row(
        f"sync --owner from scratch, {size} robots: s / robots/s",
        cell(lambda f: f"{f.scratch.seconds:.1f} / {size / f.scratch.seconds:.0f}"),
    )
    row("sync from scratch: CPU s sync / server; peak RSS (MB)", cell(lambda f: cpu(f.scratch)))
    row("sync: mirror (MB)", cell(lambda f: f"{f.mirror_bytes / 1e6:.0f}"))
    row(
        "sync incremental after new events: events / s / changes/s",
        cell(lambda f: f"{f.appends} / {f.incremental.seconds:.1f}"
             f" / {f.appends / f.incremental.seconds:.0f}"),
    )  # fmt: skip
    row(
        "sync incremental: CPU s sync / server; peak RSS (MB)",
        cell(lambda f: cpu(f.incremental)),
    )
    row("sync from scratch: its summary", cell(lambda f: f.scratch.summary))
    row("sync incremental: its summary", cell(lambda f: f.incremental.summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--robots", type=int, default=20000)
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument(
        "--prewarm",
        action="store_true",
        help="load what a PostgreSQL lookup reads with pg_prewarm before the lookups",
    )
    parser.add_argument("--postgres", default="postgresql://127.0.0.1:5432/test")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--explain", type=Path, help="write PostgreSQL's plans here (markdown)")
    parser.add_argument("--fleet", type=Path, help="import this NDJSON of chained logs instead")
    parser.add_argument(
        "--big-db",
        help="a PostgreSQL URL already holding the synthetic fleet of seed 1 (the pipe above):"
        " measured as it is, against a fresh store of its first 1,000 robots",
    )
    parser.add_argument(
        "--sync",
        type=int,
        default=0,
        metavar="N",
        help="give one organisation N robots by transfers, then time `robopass sync` of them",
    )
    parser.add_argument(
        "--sync-appends",
        type=int,
        default=1000,
        metavar="K",
        help="events appended to that fleet before the incremental sync",
    )
    args = parser.parse_args()
    backends = args.backends.split(",")
    with tempfile.TemporaryDirectory(prefix="robopass-scale-") as tmp:
        folder = Path(tmp)
        path = folder / "fleet.ndjson"
        if args.big_db:
            measure_filled(args, folder)
            return
        if args.fleet is None:
            events, generated = write_fleet(path, args.robots)
        else:  # an earlier run's fleet (`bench.importing --keep`): generating is the slow part
            path, generated = args.fleet, 0.0
            with path.open("rb") as lines:
                args.robots = events = 0
                for line in lines:
                    args.robots += 1
                    events += line.count(b'"prevHash"')
        small = first_lines(path, SMALL, folder)
        results = {}
        if "sqlite" in backends:
            results["SQLite"] = measure(
                f"sqlite:///{folder / 'big.db'}",
                f"sqlite:///{folder / 'small.db'}",
                path,
                small,
                args.lookups,
            )
            if args.sync:
                results["SQLite"]["sync"] = fleet_sync(
                    f"sqlite:///{folder / 'big.db'}", args.sync, args.sync_appends
                )
        if "postgresql" in backends:
            with postgres_schema(args.postgres) as big, postgres_schema(args.postgres) as little:
                results["PostgreSQL"] = measure(
                    big, little, path, small, args.lookups, args.prewarm
                )
                if args.explain:
                    explain(big, results["PostgreSQL"]["values"], args.explain)
                if args.sync:
                    results["PostgreSQL"]["sync"] = fleet_sync(big, args.sync, args.sync_appends)
        report(args, events, generated, results)


def measure_filled(args: argparse.Namespace, folder: Path) -> None:
    """`--big-db`: the PostgreSQL half on a store filled beforehand."""
    small = folder / "small.ndjson"
    write_fleet(small, SMALL)
    filled = open_store(args.big_db)
    try:
        args.robots = filled.count()
        with filled._reading() as conn:
            events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    finally:
        filled.close()
    with postgres_schema(args.postgres) as little:
        results = {
            "PostgreSQL": measure(args.big_db, little, None, small, args.lookups, args.prewarm)
        }
    if args.explain:
        explain(args.big_db, results["PostgreSQL"]["values"], args.explain)
    if args.sync:  # after the plans: the transfers change the owners' statistics
        results["PostgreSQL"]["sync"] = fleet_sync(args.big_db, args.sync, args.sync_appends)
    report(args, events, 0.0, results)


if __name__ == "__main__":
    main()
