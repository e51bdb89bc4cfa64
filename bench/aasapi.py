"""The AAS HTTP API against the GraphQL export of the same robot, over loopback.

One gateway process (demo policies and the audit log, as `robopass serve` runs), one
anonymous caller, one robot. Measured in alternating rounds so the machine's noise falls
on every target alike, reported as requests per second and as a ratio to the baseline:
`robot(code) { export(format: AAS) }` over GraphQL, the whole environment in one call.
Usage: `python -m bench.aasapi [--seconds S] [--rounds N] [--connections C]`.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from adapters import aas
from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet

from .harness import ROOT, serving

EXPORT = "query ($code: RobotCode!) { robot(code: $code) { export(format: AAS) } }"


def b64(identifier: str) -> str:
    return base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")


def targets(code: str) -> dict[str, tuple[str, bytes]]:
    """Name -> (path, POST body or b'' for GET)."""
    graphql = json.dumps({"query": EXPORT, "variables": {"code": code}}).encode()
    api = "/aas/api/v3.0"
    return {
        "graphql export(format: AAS)": ("/graphql", graphql),
        "GET /robots/{code}/export/aas": (f"/robots/{code}/export/aas", b""),
        "GET /shells/{id}": (f"{api}/shells/{b64(aas.shell_id(code))}", b""),
        "GET /submodels/{id} (Nameplate)": (
            f"{api}/submodels/{b64(aas.submodel_id('Nameplate', code))}",
            b"",
        ),
    }


def load(port: int, path: str, body: bytes, connections: int, seconds: float) -> dict:
    argv = [sys.executable, "-m", "bench.load", "--port", str(port), "--path", path]
    argv += ["--body", body.decode(), "--connections", str(connections)]
    argv += ["--seconds", str(seconds)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--robots", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "registry.db")
        store = SqliteStore(db)
        store.import_histories(synthetic_fleet(args.robots, seed=1))
        code = max(store.codes(), key=lambda c: len(store.record(c).passport.maintenance))
        store.close()
        audit = str(Path(tmp) / "audit.db")
        runs: dict[str, list[dict]] = {name: [] for name in targets(code)}
        with serving("graphql-audit", ["--db", db, "--audit-db", audit]) as served:
            for _ in range(args.rounds):
                for name, (path, body) in targets(code).items():
                    result = load(served.port, path, body, args.connections, args.seconds)
                    if result["errors"]:
                        raise SystemExit(f"{name}: {result['errors']} non-200 answers")
                    runs[name].append(result)
    base = sum(r["rps"] for r in runs["graphql export(format: AAS)"]) / args.rounds
    print(
        f"# AAS API vs GraphQL export, {date.today()}, {platform.python_version()}, "
        f"{os.cpu_count()} cores, {args.rounds} rounds x {args.seconds}s, "
        f"{args.connections} connections, anonymous caller, demo policies + audit log"
    )
    print("| target | req/s | p50 ms | ratio to GraphQL export |")
    print("| --- | ---: | ---: | ---: |")
    for name, results in runs.items():
        rps = sum(r["rps"] for r in results) / args.rounds
        p50 = sum(r["p50_ms"] for r in results) / args.rounds
        print(f"| {name} | {rps:,.0f} | {p50:.2f} | {rps / base:.2f}x |")


if __name__ == "__main__":
    main()
