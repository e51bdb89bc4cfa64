"""Benchmarks: one robot lookup in process and over HTTP, against the ceiling.

Every figure is measured in the same run as its baseline and reported as a
ratio, since a shared 2-core machine is noisy. Usage: `python bench/run.py`
(`--seconds` per HTTP measurement, `--connections` concurrent clients).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx

from gateway.app import RequestContext
from gateway.limits import Limits, limit_extensions
from gateway.local import LocalSource
from gateway.store import RegistryStore
from gateway.synthetic import synthetic_fleet
from schema.graphql.query import PAGE_ARGUMENTS, build_schema

HERE = Path(__file__).parent
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


def in_process(store: RegistryStore, code: str, seconds: float, limits: bool = False) -> dict:
    """Operations per second of strawberry executing the query, caches on.

    `limits` adds the query limits and the cost analysis the gateway runs.
    """
    extensions = limit_extensions(Limits(), PAGE_ARGUMENTS) if limits else []
    schema, context = build_schema(extensions), RequestContext(LocalSource(store))
    variables = {"code": code}

    async def loop() -> int:
        count, until = 0, time.perf_counter() + seconds
        while time.perf_counter() < until:
            result = await schema.execute(QUERY, variable_values=variables, context_value=context)
            assert result.errors is None, result.errors
            count += 1
        return count

    start = time.perf_counter()
    count = asyncio.run(loop())
    return {"ops": count, "ops_per_s": round(count / (time.perf_counter() - start), 1)}


def http(mode: str, port_args: list[str], body: bytes, args: argparse.Namespace) -> dict:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(HERE / "servers.py"), mode, "--port", str(port), *port_args]
    )
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/graphql", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        load = subprocess.run(
            [
                sys.executable,
                str(HERE / "load.py"),
                "--port",
                str(port),
                "--body",
                body.decode(),
                "--connections",
                str(args.connections),
                "--seconds",
                str(args.seconds),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(load.stdout)
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--robots", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        store = RegistryStore(db)
        store.import_histories(synthetic_fleet(args.robots, seed=1))
        code = store.codes(limit=1)[0]
        request = json.dumps({"query": QUERY, "variables": {"code": code}}).encode()
        result = asyncio.run(
            build_schema().execute(
                QUERY,
                variable_values={"code": code},
                context_value=RequestContext(LocalSource(store)),
            )
        )
        document = json.dumps({"data": result.data}).encode()
        body_file = Path(tmp) / "body.json"
        body_file.write_bytes(document)

        results = {
            "in_process": in_process(store, code, args.seconds / 2),
            "in_process_limits": in_process(store, code, args.seconds / 2, limits=True),
            "http_graphql": http("graphql", ["--db", db], request, args),
            "http_graphql_policies": http("graphql-policies", ["--db", db], request, args),
            "http_static": http("static", ["--body-file", str(body_file)], request, args),
        }
    g, s = results["http_graphql"], results["http_static"]
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, date {date.today()}"
    )
    print(f"response: {len(document)} bytes; {args.connections} connections, {args.seconds}s each")
    print(f"{'measurement':<40}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    print(f"{'strawberry in process (no HTTP)':<40}{results['in_process']['ops_per_s']:>10}")
    limited = results["in_process_limits"]["ops_per_s"]
    print(f"{'  same, limits and cost analysis on':<40}{limited:>10}")
    p = results["http_graphql_policies"]
    for name, r in (
        ("GraphQL over HTTP (uvicorn, loopback)", g),
        ("  same, demo policies on (anonymous)", p),
        ("static bytes (ceiling)", s),
    ):
        print(f"{name:<40}{r['rps']:>10}{r['p50_ms']:>9}{r['p99_ms']:>9}")
    print(f"ratio GraphQL / ceiling: {g['rps'] / s['rps']:.3f}")
    print(f"ratio policies on / off: {p['rps'] / g['rps']:.3f}")
    print(f"ratio limits on / off (in process): {limited / results['in_process']['ops_per_s']:.3f}")
    if g["errors"] or s["errors"]:
        print(f"errors: graphql {g['errors']}, static {s['errors']}")


if __name__ == "__main__":
    main()
