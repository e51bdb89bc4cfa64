"""Benchmark: what the federation's passport cache saves, cache on against cache off.

Real processes on loopback: the development authorization server, a Chinese
node (cn-miit) and a European node (aas). The gateway side runs in this
process, over `FederatedSource`, in three shapes:

- `batch`: the current records of 100 robots, 50 per node (one
  `POST /robots:batchGet` each). Cached: the documents still travel, but a
  version already decoded skips validation and translation.
- `single`: one robot at a time, 20 robots in turn (`GET /robots/{code}`).
  Cached: `If-None-Match` with the known head, 304, no document at all.
- `graphql`: the gateway app in process with the demo policies, a query of
  100 robots by alias (`code version manufacturer { name } model
  { designation }`, a public caller): the whole request, masks included.

Off means `PassportCache(size=0)`: nothing kept, every document validated and
translated. Same nodes, same run, alternating rounds. Usage:
`python -m bench.federation_cache` (`--robots` per node, `--seconds` per case).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.endpoint.limits import Limits
from gateway.endpoint.options import GraphQLOptions
from gateway.federation.cache import PassportCache
from gateway.federation.config import registries_from
from gateway.federation.source import FederatedSource
from gateway.service.services import Services
from gateway.web.app import create_app
from policies import PolicySet
from tests.support.ports import free_port

ENV = {"BENCH_SECRET": "dev-secret-robopass-gateway"}


def spawn(*args: str, probe: str = "/healthz") -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", *args, "--port", str(port), "--log-level", "error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + probe, timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"robopass {args[0]} did not start")


def registries(cn: str, eu: str, issuer: str) -> list:
    credentials = {
        "token_url": issuer + "/token",
        "client_id": "robopass-gateway",
        "client_secret_env": "BENCH_SECRET",
    }
    entries = [
        {"id": "cn-heis", "format": "cn-miit", "base_url": cn, "countries": ["CN"]},
        {"id": "eu-dpp", "format": "aas", "base_url": eu, "countries": ["DE", "FR"]},
    ]
    for entry in entries:
        entry.update(timeout=30.0, credentials=credentials)
    return registries_from(entries, env=ENV)


async def timed(work: Callable[[], Awaitable[object]], seconds: float) -> list[float]:
    """Milliseconds per call of `work`, repeated for `seconds` (after one warm-up call)."""
    await work()
    samples: list[float] = []
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        started = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def measure(configs: list, codes: list[str], cached: bool, seconds: float) -> dict:
    cache = PassportCache() if cached else PassportCache(size=0)
    source = FederatedSource(configs, env=ENV, cache=cache)
    limits = Limits(max_aliases=200, max_root_fields=200, max_cost=100_000)
    app = create_app(Services(source, PolicySet.demo()), GraphQLOptions(limits=limits))
    fields = "code version manufacturer { name } model { designation }"
    query = " ".join(f'r{i}: robot(code: "{c}") {{ {fields} }}' for i, c in enumerate(codes))
    singles = codes[:10] + codes[-10:]

    async def batch() -> None:
        found = await source.load_current(codes)
        assert all(r is not None and not isinstance(r, Exception) for r in found)

    async def single() -> None:
        for code in singles:
            assert await source.robot(code) is not None

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:

        async def graphql() -> None:
            response = await client.post("/graphql", json={"query": "{ " + query + " }"})
            body = response.json()
            assert "errors" not in body, body["errors"][:2]

        results = {
            "batch": await timed(batch, seconds),
            "single": await timed(single, seconds),
            "graphql": await timed(graphql, seconds),
        }
    await source.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robots", type=int, default=50, help="robots per node")
    parser.add_argument("--seconds", type=float, default=5.0, help="per case and round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-federation-"))
    procs: list[subprocess.Popen] = []
    try:
        auth, issuer = spawn("auth-server", "--data-dir", str(work / "auth"), probe="/jwks.json")
        procs.append(auth)
        nodes = {}
        for fmt, name in (("cn-miit", "cn"), ("aas", "eu")):
            proc, base = spawn(
                "registry", "serve", "--format", fmt, "--robots", str(args.robots),
                "--trust-issuer", issuer, "--data-dir", str(work / name),
            )  # fmt: skip
            procs.append(proc)
            nodes[name] = base
        configs = registries(nodes["cn"], nodes["eu"], issuer)
        codes = asyncio.run(all_codes(configs))
        rounds: dict[str, dict[str, list[float]]] = {"on": {}, "off": {}}
        for _ in range(args.rounds):
            for mode in ("off", "on"):
                found = asyncio.run(measure(configs, codes, mode == "on", args.seconds))
                for case, samples in found.items():
                    rounds[mode].setdefault(case, []).extend(samples)
        report(rounds, len(codes), args)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


async def all_codes(configs: list) -> list[str]:
    from schema.source import RobotFilter

    source = FederatedSource(configs, env=ENV)
    try:
        page = await source.robots(RobotFilter(), 100, None)
        return [r.passport.code for r in page.items]
    finally:
        await source.aclose()


def report(rounds: dict, robots: int, args: argparse.Namespace) -> None:
    print(f"federation cache, {robots} robots over 2 nodes, {platform.processor() or 'cpu'}")
    print(f"{os.cpu_count()} cores, {args.rounds} rounds x {args.seconds:.0f} s per case\n")
    print("| case | cache off, ms (median) | cache on, ms (median) | off / on |")
    print("| --- | --- | --- | --- |")
    for case in ("batch", "single", "graphql"):
        off = statistics.median(rounds["off"][case])
        on = statistics.median(rounds["on"][case])
        print(f"| {case} | {off:.1f} | {on:.1f} | {off / on:.1f}x |")


if __name__ == "__main__":
    main()
