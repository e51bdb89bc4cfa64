"""Benchmarks: one robot lookup in process and over HTTP, against the ceiling.

Every figure is measured in the same run as its baseline and reported as a
ratio, since a shared 2-core machine is noisy. Run as a module: as a script,
`bench/adapters.py` would shadow the `adapters` package. Usage: `python -m bench.run`
(`--seconds` per HTTP measurement, `--connections` concurrent clients).
Over HTTP the lookup is also made as the `de-msa` authority with a token the
server verifies, policies and audit on, for one robot and round robin over
every robot of the fleet (no cache serves the same passport twice in a row),
through strawberry and through compiled execution.
`--stack` instead measures the server underneath: the static ceiling and the
audited lookup (strawberry and compiled) on uvicorn with asyncio + h11, uvloop +
h11 (`robopass serve`'s) and uvloop + httptools.

Every server is measured on the same uvicorn stack, by default `robopass serve`'s
(uvicorn's own loop choice, h11: `--loop` and `--http` choose another). Beside
each rate is the server process's CPU per request (user + system, from /proc),
which other tenants of a shared machine distort far less than the wall clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx

from bench.harness import Served
from gateway.endpoint.limits import Limits, limit_extensions
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from policies import PUBLIC, AuditLog, PolicySet
from policies.authserver import issue_token
from schema.graphql.query import PAGE_ARGUMENTS, build_schema

ROOT = Path(__file__).parents[1]
ISSUER = "http://127.0.0.1:9/bench-issuer"
PARTY = "de-msa"
QUERY = """query ($code: RobotCode!) { robot(code: $code) {
  code version
  identity { status homeRegistry registeredAt }
  manufacturer { name nameLocal registrationId country }
  model { designation category productionDate serial }
  hardware { degreesOfFreedom massKg heightMm battery { chemistry capacityWh } }
  software { firmwareVersion operatingSystem }
  condition { at operatingHours batteryHealthPct movementPrecisionMm chargeCycles }
  maintenance { at kind component performedBy }
  ownership { start end ownerKind jurisdiction }
} }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_process(
    store: SqliteStore, code: str, seconds: float, modes: dict[str, tuple]
) -> dict[str, dict]:
    """Operations per second of strawberry executing the query, caches on, per mode.

    A mode is (policy, audit log, limits on). Modes run in alternating batches
    of 20, so the machine's noise falls on all of them alike. With an audit log,
    each operation also appends its disclosure record, as the HTTP endpoint
    does; with limits, the query limits and cost analysis the gateway runs.
    """
    plain = build_schema()
    limited = build_schema(limit_extensions(Limits(), PAGE_ARGUMENTS))
    source = LocalSource(store)
    variables = {"code": code}
    spent = dict.fromkeys(modes, 0.0)
    done = dict.fromkeys(modes, 0)

    async def batch(name: str, policy: PolicySet | None, audit: AuditLog | None, limits: bool):
        schema = limited if limits else plain
        services = Services(source, policy, audit=audit)
        start = time.perf_counter()
        for _ in range(20):
            context = services.context(PUBLIC)
            result = await schema.execute(QUERY, variable_values=variables, context_value=context)
            assert result.data is not None, result.errors
            await context.record_disclosures()
        spent[name] += time.perf_counter() - start
        done[name] += 20

    async def loop() -> None:
        until = time.perf_counter() + seconds
        while time.perf_counter() < until:
            for name, mode in modes.items():
                await batch(name, *mode)

    asyncio.run(loop())
    return {n: {"ops": done[n], "ops_per_s": round(done[n] / spent[n], 1)} for n in modes}


def http(
    mode: str,
    port_args: list[str],
    body: bytes,
    args: argparse.Namespace,
    headers: list[str] | None = None,
    bodies: Path | None = None,
) -> dict:
    """`mode` of bench.servers under load; `headers` travel in the environment (a token
    on a command line is visible to every local user), `bodies` are taken in turn.
    Without `--loop`/`--http` in `port_args`, the server runs on `args`' stack."""
    if "--http" not in port_args:
        port_args = [*port_args, "--loop", args.loop, "--http", args.http]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.servers", mode, "--port", str(port), *port_args],
        cwd=ROOT,
        stderr=subprocess.DEVNULL if mode == "graphql-ops" else None,
    )
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/graphql", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        served = Served(port, server.pid)
        cpu = served.cpu_seconds()
        load = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.load",
                "--port",
                str(port),
                "--body",
                body.decode(),
                "--connections",
                str(args.connections),
                "--seconds",
                str(args.seconds),
                *(["--bodies", str(bodies)] if bodies else []),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "LOAD_HEADERS": json.dumps(headers or [])},
        )
        result = json.loads(load.stdout)
        spent = served.cpu_seconds() - cpu
        result["cpu_us"] = round(1e6 * spent / max(result["requests"], 1), 1)
        return result
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--robots", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--ops",
        action="store_true",
        help="only the operations layer: rate limits, metrics and JSON logs on vs off",
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="for --ops")
    parser.add_argument(
        "--stack", action="store_true", help="asyncio+h11, uvloop+h11 and uvloop+httptools only"
    )
    parser.add_argument("--loop", default="auto", help="uvicorn's loop (robopass serve's: auto)")
    parser.add_argument("--http", default="h11", help="uvicorn's parser (robopass serve's: h11)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        store = SqliteStore(db)
        store.import_histories(synthetic_fleet(args.robots, seed=1))
        code = store.codes(limit=1)[0]
        request = json.dumps({"query": QUERY, "variables": {"code": code}}).encode()
        result = asyncio.run(
            build_schema().execute(
                QUERY,
                variable_values={"code": code},
                context_value=Services(LocalSource(store), policy=None).context(),
            )
        )
        document = json.dumps({"data": result.data}).encode()
        if args.ops:
            operations(db, request, args)
            return
        body_file = Path(tmp) / "body.json"
        body_file.write_bytes(document)
        if args.stack:
            audit_db = str(Path(tmp) / "stack.audit.db")
            stacks(db, audit_db, str(body_file), request, len(document), args)
            return

        audit = AuditLog(Path(tmp) / "in-process.audit.db")
        audit_args = ["--db", db, "--audit-db", str(Path(tmp) / "http.audit.db")]
        policy = PolicySet.demo()
        modes = {
            "off": (None, None, False),
            "limits": (None, None, True),
            "policies": (policy, None, False),
            "audit": (policy, audit, False),
        }
        token = issue_token(PARTY, Path(tmp), ISSUER)
        party = [f"Authorization: Bearer {token}"]
        trusted = [*audit_args, "--issuer", ISSUER, "--data-dir", tmp]
        many = Path(tmp) / "bodies.ndjson"
        lines = [json.dumps({"query": QUERY, "variables": {"code": c}}) for c in store.codes()]
        many.write_text("\n".join(lines) + "\n")
        results = {
            **{
                f"in_process_{k}": v
                for k, v in in_process(store, code, args.seconds, modes).items()
            },
            "http_graphql": http("graphql", ["--db", db], request, args),
            "http_graphql_policies": http("graphql-policies", ["--db", db], request, args),
            "http_graphql_audit": http("graphql-audit", audit_args, request, args),
            "http_party_one": http("graphql-audit", trusted, request, args, party),
            "http_party_many": http("graphql-audit", trusted, request, args, party, many),
            "http_compiled_one": http(
                "graphql-audit", [*trusted, "--compiled"], request, args, party
            ),
            "http_compiled_many": http(
                "graphql-audit", [*trusted, "--compiled"], request, args, party, many
            ),
            "http_static": http("static", ["--body-file", str(body_file)], request, args),
        }
        audited = audit.head()[0]
        audit.close()
    g, s = results["http_graphql"], results["http_static"]
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, date {date.today()}"
    )
    print(f"load average {os.getloadavg()[0]:.1f}; uvicorn loop {args.loop}, http {args.http}")
    print(f"response: {len(document)} bytes; {args.connections} connections, {args.seconds}s each")
    print(f"{'measurement':<40}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU us/req':>12}")
    ip, ipp, ipa, ipl = (
        results[f"in_process_{k}"]["ops_per_s"] for k in ("off", "policies", "audit", "limits")
    )
    print(f"{'strawberry in process (no HTTP)':<40}{ip:>10}")
    print(f"{'  same, limits and cost analysis on':<40}{ipl:>10}")
    print(f"{'  same, demo policies on (anonymous)':<40}{ipp:>10}")
    print(f"{'  same, policies and audit log on':<40}{ipa:>10}")
    p, a = results["http_graphql_policies"], results["http_graphql_audit"]
    one, many = results["http_party_one"], results["http_party_many"]
    c_one, c_many = results["http_compiled_one"], results["http_compiled_many"]
    for name, r in (
        ("GraphQL over HTTP (uvicorn, loopback)", g),
        ("  same, demo policies on (anonymous)", p),
        ("  same, policies and audit log on", a),
        (f"  same, {PARTY} token, one robot", one),
        (f"  same, {PARTY} token, {args.robots} robots", many),
        (f"  same, {PARTY}, one robot, compiled", c_one),
        (f"  same, {PARTY}, {args.robots} robots, compiled", c_many),
        ("static bytes (ceiling)", s),
    ):
        print(f"{name:<40}{r['rps']:>10}{r['p50_ms']:>9}{r['p99_ms']:>9}{r['cpu_us']:>12}")
    print(f"ratio GraphQL / ceiling: {g['rps'] / s['rps']:.3f}")
    print(f"ratio {PARTY}, policies and audit, one robot / ceiling: {one['rps'] / s['rps']:.3f}")
    print(f"ratio {PARTY}, policies and audit, many robots / ceiling: {many['rps'] / s['rps']:.3f}")
    print(f"ratio {PARTY}, compiled, one robot / ceiling: {c_one['rps'] / s['rps']:.3f}")
    print(f"ratio {PARTY}, compiled, many robots / ceiling: {c_many['rps'] / s['rps']:.3f}")
    for name, r in (("one robot", c_one), ("many robots", c_many)):  # server CPU: ceiling's / ours
        print(f"CPU ratio {PARTY}, compiled, {name} / ceiling: {s['cpu_us'] / r['cpu_us']:.3f}")
    print(f"ratio policies on / off: {p['rps'] / g['rps']:.3f}")
    print(f"ratio limits on / off (in process): {ipl / ip:.3f}")
    print(f"ratio audit on / off (policies on), in process: {ipa / ipp:.3f}")
    print(f"  audit cost per request, in process: {1e6 / ipa - 1e6 / ipp:.0f} us")
    print(f"ratio audit on / off (policies on), HTTP: {a['rps'] / p['rps']:.3f}")
    print(f"records appended in process: {audited}")
    if g["errors"] or s["errors"]:
        print(f"errors: graphql {g['errors']}, static {s['errors']}")


STACKS = {
    "asyncio + h11": ["--loop", "asyncio", "--http", "h11"],
    "uvloop + h11": ["--loop", "uvloop", "--http", "h11"],
    "uvloop + httptools": ["--loop", "uvloop", "--http", "httptools"],
}
"""uvicorn's loops and parsers; the middle one is `robopass serve`'s (its header cap needs
h11's buffer), so the loop's and the parser's shares are measured apart."""


def stacks(
    db: str, audit_db: str, body_file: str, request: bytes, size: int, args: argparse.Namespace
) -> None:
    """The static ceiling and the audited lookup on each uvicorn stack, alternating, one run."""
    servers = {
        "static bytes (ceiling)": ["static", "--body-file", body_file],
        "lookup, policies and audit on": ["graphql-audit", "--db", db, "--audit-db", audit_db],
        "lookup, compiled, policies and audit on": [
            "graphql-audit",
            "--compiled",
            "--db",
            db,
            "--audit-db",
            audit_db,
        ],
    }
    results: dict[tuple[str, str], list[dict]] = {}
    for _ in range(2):  # two alternating rounds: the machine's noise falls on every pair
        for name, (mode, *rest) in servers.items():
            for stack, flags in STACKS.items():
                r = http(mode, [*rest, *flags], request, args)
                results.setdefault((name, stack), []).append(r)
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, date {date.today()}, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"response: {size} bytes; {args.connections} connections, 2 x {args.seconds}s each")
    print(f"{'server, stack':<58}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU us/req':>12}")
    best: dict[tuple[str, str], float] = {}
    for (name, stack), runs in results.items():
        rps = sum(r["rps"] for r in runs) / len(runs)
        p50 = max(r["p50_ms"] for r in runs)
        p99 = max(r["p99_ms"] for r in runs)
        cpu = sum(r["cpu_us"] for r in runs) / len(runs)
        best[(name, stack)] = rps
        print(f"{name + ', ' + stack:<58}{rps:>10.0f}{p50:>9}{p99:>9}{cpu:>12.1f}")
    slow, *faster = STACKS
    for name in servers:
        for fast in faster:
            ratio = best[(name, fast)] / best[(name, slow)]
            print(f"ratio {fast} / {slow}, {name}: {ratio:.2f}")
        loop, parser = faster
        print(f"ratio {parser} / {loop}, {name}: {best[(name, parser)] / best[(name, loop)]:.2f}")
    errors = {f"{k[0]}, {k[1]}": [r["errors"] for r in v] for k, v in results.items()}
    if any(any(e) for e in errors.values()):
        print(f"non-200 answers: {errors}")


def operations(db: str, request: bytes, args: argparse.Namespace) -> None:
    """Rate limits + metrics + JSON logs on a lookup over HTTP, against the same app without."""
    results = {
        "off": http("graphql-policies", ["--db", db], request, args),
        "memory": http("graphql-ops", ["--db", db], request, args),
        "redis": http("graphql-ops", ["--db", db, "--redis", args.redis], request, args),
    }
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, date {date.today()}"
    )
    print(f"{args.connections} connections, {args.seconds}s each, demo policies on, anonymous")
    print(f"{'measurement':<52}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    names = {
        "off": "lookup over HTTP, operations layer off",
        "memory": "  rate limits (memory) + metrics + JSON logs",
        "redis": "  rate limits (Redis) + metrics + JSON logs",
    }
    for key, name in names.items():
        r = results[key]
        print(f"{name:<52}{r['rps']:>10}{r['p50_ms']:>9}{r['p99_ms']:>9}")
    off = results["off"]["rps"]
    print(f"ratio on (memory) / off: {results['memory']['rps'] / off:.3f}")
    print(f"ratio on (Redis) / off: {results['redis']['rps'] / off:.3f}")
    errors = {k: r["errors"] for k, r in results.items() if r["errors"]}
    if errors:
        print(f"non-200 answers: {errors}")


if __name__ == "__main__":
    main()
