"""Where the embedded single lookup's time goes, by part of the request (issue 16).

The app `robopass serve` builds (demo policies, the `de-msa` authority's token
verified and its principal cached, the SQLite audit log with group commits,
compiled execution on) is called in process through ASGI, `--concurrency`
requests at a time, round robin over `--robots` robots, first without and then
under `cProfile` counting the main thread's CPU time. Each part is the
cumulative time of the functions that do it:

- request parsing: reading the body and its JSON (`read_params`);
- auth: the bearer token to a principal (`Authenticated._principal`);
- policy: the caller's decision and mask per robot (`RequestContext.view`);
- store read: `LocalSource.robot` on the event loop's side (the SQLite read
  itself runs in a worker thread, counted under "other threads");
- plan: `run_plan` less the store read and the policy inside it;
- audit: `record_disclosures` (its commit is another thread's);
- serialisation: the result to JSON bytes (`process_result` less the audit,
  and `encode_json`);
- ASGI stack: the rest (Starlette's routing and middleware, the header cap).

The profiled shares are scaled to the unprofiled CPU time per request. What
uvicorn adds (the HTTP parser and the loop) is not in process: `python -m
bench.run --stack` measures it. Usage: `python -m bench.profile` (`--requests`,
`--robots`, `--concurrency`).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import platform
import pstats
import tempfile
import time
from datetime import date
from pathlib import Path

import orjson

from bench.run import ISSUER, PARTY, QUERY
from gateway.edge.auth import demo_issuer
from gateway.edge.headerlimit import HeaderLimit
from gateway.endpoint.options import GraphQLOptions
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from gateway.web.app import create_app
from policies import AuditLog, PolicySet, TokenVerifier
from policies.authserver import issue_token

PARTS = {
    "request parsing (body, JSON)": ["read_params"],
    "auth (token to principal, cached)": ["_principal"],
    "policy (decision and mask)": ["view"],
    "store read (event loop's side)": ["robot"],
    "plan (projection, less policy and store)": ["run_plan"],
    "audit (records, waiting for the commit)": ["record_disclosures"],
    "serialisation (result to JSON bytes)": ["process_result", "encode_json"],
}
FILES = {
    "read_params": "endpoint/http.py",
    "_principal": "edge/auth.py",
    "view": "service/context.py",
    "robot": "service/local.py",
    "run_plan": "endpoint/compiled.py",
    "record_disclosures": "service/context.py",
    "process_result": "endpoint/view.py",
    "encode_json": "endpoint/http.py",
    "answer": "endpoint/view.py",
}


async def lookups(app, bodies: list[bytes], token: str, count: int, concurrency: int) -> None:
    headers = [
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"application/json"),
        (b"accept", b"application/json"),
        (b"host", b"127.0.0.1"),
    ]

    async def one(body: bytes) -> None:
        sent = False

        async def receive() -> dict:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        status = []

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        await app(scope, receive, send)
        assert status == [200], status

    async def worker(start: int) -> None:
        for i in range(start, count, concurrency):
            await one(bodies[i % len(bodies)])

    await asyncio.gather(*(worker(n) for n in range(concurrency)))


def cumulative(stats: pstats.Stats, name: str) -> float:
    """The cumulative time of the function `name` in the file `FILES[name]`."""
    total = 0.0
    for (filename, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        if function == name and filename.endswith(FILES[name]):
            total += row[3]
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--robots", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "bench.db")
        store.import_histories(synthetic_fleet(args.robots, seed=1))
        bodies = [orjson.dumps({"query": QUERY, "variables": {"code": c}}) for c in store.codes()]
        token = issue_token(PARTY, Path(tmp), ISSUER)
        audit = AuditLog(Path(tmp) / "audit.db")
        services = Services(
            LocalSource(store),
            PolicySet.demo(),
            audit=audit,
            verifier=TokenVerifier([demo_issuer(ISSUER, tmp)]),
        )
        app = HeaderLimit(create_app(services, GraphQLOptions(compiled=True)), 16384)
        asyncio.run(lookups(app, bodies, token, 200, args.concurrency))  # warm: plans, caches
        wall, cpu, main = time.perf_counter(), time.process_time(), time.thread_time()
        asyncio.run(lookups(app, bodies, token, args.requests, args.concurrency))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        main = time.thread_time() - main
        profile = cProfile.Profile(time.thread_time)
        profile.runcall(asyncio.run, lookups(app, bodies, token, args.requests, args.concurrency))
        audit.close()
        store.close()
    stats = pstats.Stats(profile)
    total = stats.total_tt  # type: ignore[attr-defined]
    c = {name: cumulative(stats, name) for names in PARTS.values() for name in names}
    c["answer"] = cumulative(stats, "answer")
    shares = {
        "request parsing (body, JSON)": c["read_params"],
        "auth (token to principal, cached)": c["_principal"],
        "policy (decision and mask)": c["view"],
        "store read (event loop's side)": c["robot"],
        "plan (projection, less policy and store)": c["run_plan"] - c["view"] - c["robot"],
        "audit (records, waiting for the commit)": c["record_disclosures"],
        "serialisation (result to JSON bytes)": c["process_result"]
        - c["answer"]
        + c["encode_json"],
    }
    shares["ASGI stack (Starlette, middleware, the rest)"] = total - sum(shares.values())
    per = 1e6 * main / args.requests
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores, date {date.today()}, "
        f"load average {os.getloadavg()[0]:.1f}; {args.requests} lookups, {args.robots} robots,"
        f" {args.concurrency} at a time"
    )
    print(
        f"unprofiled: {args.requests / wall:.0f} lookups/s in process; CPU per lookup"
        f" {1e6 * cpu / args.requests:.0f} us, of which the event loop's thread {per:.0f} us"
        f" and other threads (store reads, audit commits) {1e6 * (cpu - main) / args.requests:.0f}"
        " us"
    )
    print(f"{'part (event loop thread)':<46}{'share':>8}{'us/lookup':>11}")
    for part, seconds in shares.items():
        print(f"{part:<46}{seconds / total:>8.1%}{per * seconds / total:>11.0f}")


if __name__ == "__main__":
    main()
