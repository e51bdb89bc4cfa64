"""Benchmark: `robots(first: 100)` pages over HTTP on PostgreSQL, two versions side by side.

Until the count became lazy, every `robots` page started the exact count behind
`totalCount` whether the operation selected it or not, and a page that did not
select it sent its answer without waiting for that count: the count's price was
PostgreSQL's CPU and a pooled connection, paid by the next requests. So besides
the gateway's requests per second, latency and CPU per request (`bench.lookup`'s
measures), this measures PostgreSQL's CPU per request: the CPU of the server's own
backends (found by the `application_name` the server's URL gives them), read from
/proc on this machine. Counts run without parallel workers here
(`max_parallel_workers_per_gather=0` for the servers' connections, every target alike),
so all of a count's CPU is in a backend that can be found; in production a count over
many rows also uses parallel workers, faster but for about the same CPU.

The pages walk the store from its start, 100 robots each (a cursor per body), as the
`de-msa` regulator with a token the server verifies, through the demo policies and
compiled plans (`serve`'s defaults). Targets: this code's page without `totalCount`,
`--baseline DIR`'s (a checkout of earlier code, e.g. `git worktree add --detach
/tmp/before main`) the same page, and this code's page with `totalCount`, in `--rounds`
rounds, each in the opposite order to the last.

`--db` is a PostgreSQL URL holding the synthetic fleet (the pipe of bench.scale:
`robopass registry fleet --robots N --seed 1 | robopass registry import - --db URL`),
read, not written. Not in CI. Usage: `python -m bench.pages --db URL [--baseline DIR]
[--seconds S] [--rounds N] [--connections N] [--pages N]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, load, machine_and_load, serving
from gateway.store.open import open_store
from policies.authserver import issue_token
from schema.source import RobotFilter

ISSUER = "http://127.0.0.1:9/bench-issuer"
PARTY = "de-msa"
NODE = "edges { cursor node { code manufacturer { name } model { category } identity { status } } }"
PAGE = (
    "query ($after: String) { robots(first: 100, after: $after) { pageInfo { hasNextPage } %s } }"
)
PLAIN = PAGE % NODE
COUNTED = PAGE % ("totalCount " + NODE)


def cursors(db: str, pages: int) -> list[str | None]:
    """`after` of the store's first `pages` pages of 100 robots (None: the first)."""
    store = open_store(db)
    try:
        out: list[str | None] = [None]
        while len(out) < pages:
            page = store.page_codes(RobotFilter(), 100, out[-1])
            if not page.has_next_page:
                break
            out.append(page.end_cursor)
        return out
    finally:
        store.close()


def named(db: str, name: str) -> str:
    """`db` whose connections carry `name` and count without parallel workers."""
    serial = "-cmax_parallel_workers_per_gather%3D0"
    if "options=" in db:
        db = db.replace("options=", f"options={serial}%20", 1)
    else:
        db += ("&" if "?" in db else "?") + f"options={serial}"
    return f"{db}&application_name={name}"


def backend_cpu(db: str, name: str) -> dict[int, float]:
    """CPU seconds (user + system) of each PostgreSQL backend named `name`, from /proc."""
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchall()
    out = {}
    for (pid,) in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # not on this machine, or gone
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def measure(code: Path, args: argparse.Namespace, auth: list[str], bodies: Path) -> dict:
    name = f"robopass-bench-{uuid.uuid4().hex[:8]}"
    server = [
        "--db",
        named(args.db, name),
        "--issuer",
        ISSUER,
        "--data-dir",
        args.data_dir,
        "--compiled",
    ]
    with serving("graphql-policies", server, code=code) as served:
        httpx.get(f"http://127.0.0.1:{served.port}/healthz", timeout=5).raise_for_status()
        common = {"connections": args.connections, "headers": auth, "bodies": bodies}
        load(served.port, b"", seconds=args.warmup, **common)
        cpu, pg = served.cpu_seconds(), backend_cpu(args.db, name)
        result = load(served.port, b"", seconds=args.seconds, **common)
        result["cpu_s"] = served.cpu_seconds() - cpu
        after = backend_cpu(args.db, name)
        result["pg_s"] = sum(t - pg.get(pid, 0.0) for pid, t in after.items())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="a PostgreSQL URL holding the fleet")
    parser.add_argument("--baseline", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--seconds", type=float, default=8.0, help="per target and round")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before each target")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--pages", type=int, default=50, help="distinct pages asked in turn")
    args = parser.parse_args()
    load_before = os.getloadavg()
    targets = [("this", ROOT, COUNTED), ("this", ROOT, PLAIN)]
    if args.baseline:
        targets.append(("baseline", args.baseline.resolve(), PLAIN))
    store = open_store(args.db)
    try:
        robots = store.count()
    finally:
        store.close()
    afters = cursors(args.db, args.pages)
    totals: dict[tuple[str, str], dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        args.data_dir = tmp
        auth = [f"Authorization: Bearer {issue_token(PARTY, Path(tmp), ISSUER)}"]
        files = {}
        for query in (PLAIN, COUNTED):
            path = Path(tmp) / f"bodies-{len(files)}.ndjson"
            lines = [orjson.dumps({"query": query, "variables": {"after": a}}) for a in afters]
            path.write_bytes(b"\n".join(lines) + b"\n")
            files[query] = path
        for turn in range(args.rounds):
            for name, code, query in targets if turn % 2 == 0 else targets[::-1]:
                r = measure(code, args, auth, files[query])
                key = (name, "with totalCount" if query is COUNTED else "without")
                t = totals.setdefault(key, {"requests": 0, "errors": 0, "seconds": 0.0})
                for k in ("requests", "errors", "seconds", "cpu_s", "pg_s"):
                    t[k] = t.get(k, 0) + r[k]
                for k in ("p50_ms", "p99_ms"):
                    t.setdefault(f"all_{k}", []).append(r[k])

    print(machine_and_load(load_before))
    print(
        f"PostgreSQL, {robots} robots; robots(first: 100) over {len(afters)} pages, {PARTY}"
        f" token, demo policies, compiled plans; {args.connections} connections,"
        f" {args.rounds} rounds of {args.seconds}s per target; p50 and p99: the worst round's"
    )
    print(
        f"{'code':<10}{'page':<17}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'gateway CPU ms/req':>20}{'PostgreSQL CPU ms/req':>23}"
    )
    for (name, page), t in totals.items():
        n = max(t["requests"], 1)
        t["rps"] = t["requests"] / t["seconds"]
        t["cpu_ms"], t["pg_ms"] = 1000 * t["cpu_s"] / n, 1000 * t["pg_s"] / n
        p50, p99 = max(t["all_p50_ms"]), max(t["all_p99_ms"])
        print(
            f"{name:<10}{page:<17}{t['rps']:>8.1f}{p50:>8}{p99:>8}"
            f"{t['cpu_ms']:>20.2f}{t['pg_ms']:>23.2f}"
        )
        if t["errors"]:
            print(f"  non-200 answers: {int(t['errors'])}")
    if args.baseline:
        now, then = totals[("this", "without")], totals[("baseline", "without")]
        print(
            f"ratio this / baseline, page without totalCount: req/s {now['rps'] / then['rps']:.3f},"
            f" gateway CPU per request {now['cpu_ms'] / then['cpu_ms']:.3f},"
            f" PostgreSQL CPU per request {now['pg_ms'] / max(then['pg_ms'], 1e-9):.3f}"
        )


if __name__ == "__main__":
    main()
