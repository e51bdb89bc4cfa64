"""Benchmark: single-robot lookups over HTTP on SQLite and on PostgreSQL, two versions side by side.

Each request asks for another robot (round robin over `--robots` of them, each
connection starting elsewhere in the list), as the market surveillance
authority `de-msa` with a token the server verifies, through the demo
policies: a lookup as a regulator's client makes it, reading its own row.
The lookup query is `bench/run.py`'s (about 45 fields).

With `--baseline DIR` (a checkout of earlier code, e.g. `git worktree add
--detach /tmp/before main`) the same `bench/servers.py` also runs over DIR's
packages, against the same two databases, and the targets take turns in
`--rounds` rounds (each round in the opposite order to the last), so the
machine's noise falls on all of them alike. Besides requests per second the
table gives the server process's CPU per request, which other tenants of a
shared machine disturb far less than the wall clock (PostgreSQL's own CPU is
not in it). Usage: `python -m bench.lookup [--baseline DIR] [--seconds S]
[--rounds N] [--connections N] [--robots N] [--postgres URL] [--backends
sqlite,postgresql]`. With both backends it also prints PostgreSQL's rate as a
fraction of SQLite's, the two measured side by side in the same rounds.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, load, machine_and_load, serving
from bench.run import QUERY
from gateway.store.open import open_store
from gateway.synthetic.fleet import synthetic_fleet
from policies.authserver import issue_token

ISSUER = "http://127.0.0.1:9/bench-issuer"
PARTY = "de-msa"


@contextmanager
def postgres_schema(server: str) -> Iterator[str]:
    """A URL of `server` whose search_path is a fresh schema, dropped afterwards."""
    import psycopg

    schema = f"robopass_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in server else "?"
    try:
        yield f"{server}{joiner}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def seed(db: str, robots: int) -> list[str]:
    """The same synthetic fleet in `db`; the codes stored."""
    store = open_store(db)
    try:
        store.import_histories(synthetic_fleet(robots, seed=1))
        return store.codes()
    finally:
        store.close()


def measure(code: Path, db: str, args: argparse.Namespace, auth: list[str], bodies: Path) -> dict:
    """One server over `code`'s packages and `db`: a warm-up, then `--seconds` of load."""
    server = ["--db", db, "--issuer", ISSUER, "--data-dir", args.data_dir]
    with serving("graphql-policies", server, code=code) as served:
        probe = httpx.get(f"http://127.0.0.1:{served.port}/healthz", timeout=5)
        probe.raise_for_status()
        common = {"connections": args.connections, "headers": auth, "bodies": bodies}
        load(served.port, b"", seconds=args.warmup, **common)
        cpu = served.cpu_seconds()
        result = load(served.port, b"", seconds=args.seconds, **common)
        result["cpu_s"] = served.cpu_seconds() - cpu
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--robots", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=8.0, help="per target and round")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds before each target")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--postgres", default="postgresql://127.0.0.1:5432/test")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    args = parser.parse_args()
    load_before = os.getloadavg()
    codes = {"this": ROOT}
    if args.baseline:
        codes = {"baseline": args.baseline.resolve(), **codes}

    with tempfile.TemporaryDirectory() as tmp, postgres_schema(args.postgres) as pg:
        args.data_dir = tmp
        token = issue_token(PARTY, Path(tmp), ISSUER)
        auth = [f"Authorization: Bearer {token}"]
        every = {"sqlite": str(Path(tmp) / "lookup.db"), "postgresql": pg}
        databases = {name: every[name] for name in args.backends.split(",")}
        stored = [seed(db, args.robots) for db in databases.values()]
        assert all(codes == stored[0] for codes in stored) and len(stored[0]) == args.robots
        bodies = Path(tmp) / "bodies.ndjson"
        lines = [orjson.dumps({"query": QUERY, "variables": {"code": c}}) for c in stored[0]]
        bodies.write_bytes(b"\n".join(lines) + b"\n")
        totals: dict[tuple[str, str], dict] = {}
        for turn in range(args.rounds):
            for backend, db in databases.items():
                # Every other round the other version goes first: neither always
                # inherits what the machine was doing just before.
                order = list(codes.items())
                for name, code in order if turn % 2 == 0 else order[::-1]:
                    r = measure(code, db, args, auth, bodies)
                    t = totals.setdefault((backend, name), dict.fromkeys(r, 0.0))
                    for k in ("requests", "errors", "seconds", "cpu_s"):
                        t[k] += r[k]
                    for k in ("p50_ms", "p99_ms"):
                        t.setdefault(f"all_{k}", []).append(r[k])

    print(machine_and_load(load_before))
    print(
        f"{args.robots} robots, {PARTY} token, demo policies; {args.connections} connections, "
        f"{args.rounds} rounds of {args.seconds}s per target"
    )
    print("p50 and p99: the worst round's")
    header = f"{'backend':<12}{'code':<10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}"
    print(header)
    for (backend, name), t in totals.items():
        rps = t["requests"] / t["seconds"]
        cpu = 1000 * t["cpu_s"] / max(t["requests"], 1)
        p50, p99 = max(t["all_p50_ms"]), max(t["all_p99_ms"])
        t["rps"], t["cpu_ms"] = rps, cpu
        print(f"{backend:<12}{name:<10}{rps:>9.1f}{p50:>9}{p99:>9}{cpu:>12.3f}")
        if t["errors"]:
            print(f"  non-200 answers: {int(t['errors'])}")
    if {"sqlite", "postgresql"} <= databases.keys():
        for name in codes:
            pg, lite = totals[("postgresql", name)], totals[("sqlite", name)]
            print(
                f"ratio postgresql / sqlite, {name}: req/s {pg['rps'] / lite['rps']:.3f}, "
                f"CPU per request {pg['cpu_ms'] / lite['cpu_ms']:.3f}"
            )
    if args.baseline:
        for backend in databases:
            now, then = totals[(backend, "this")], totals[(backend, "baseline")]
            print(
                f"ratio this / baseline, {backend}: req/s {now['rps'] / then['rps']:.3f}, "
                f"CPU per request {now['cpu_ms'] / then['cpu_ms']:.3f}"
            )


if __name__ == "__main__":
    main()
