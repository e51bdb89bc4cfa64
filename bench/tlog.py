"""Benchmark: what the transparency log costs the node and the gateway, side by side.

In one process, over one SQLite store of `--robots` synthetic robots:

- the node: building its log from the store on start (every event hashed
  once), then a signed checkpoint and an inclusion proof per request once the
  tree is built;
- the gateway: single-robot reads through `FederatedSource` over the node app
  in process (real tokens, HTTP semantics through ASGI, `freshness = 0` so
  every read asks the node), with the log check off and on, in alternating
  rounds: the first read of each version (checkpoint, consistency and
  inclusion calls) and a repeated read (the proven version is remembered);
- the gateway: a `robots(first: 100)` page through `FederatedSource.robots`, off
  and on in the same alternating rounds, from a fresh source (every version new:
  one checkpoint and one batch call for the page's 100 proofs, each verified),
  then with the documents cached but a fresh log check (what the check itself
  costs a page of new versions), and again (the versions are remembered: no call);
- the check alone on a page's 100 versions: batched, as the gateway does it,
  against one proof call per version.

Usage: `python -m bench.tlog [--robots N] [--rounds N] [--clock wall|cpu]`
(`cpu`: process CPU time, node and gateway together, as both run here).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.credentials.logkey import event_log_origin
from gateway.edge.auth import demo_issuer
from gateway.federation.config import RegistryConfig
from gateway.federation.source import FederatedSource
from gateway.federation.transparency import LogMonitor
from gateway.node import create_node_app
from gateway.service.transparency import EventLog
from gateway.store import SqliteStore
from gateway.synthetic.seeding import seed
from policies import TokenVerifier
from policies.authserver import issue_token
from schema.source import RobotFilter
from schema.tlog.note import Signer

ISSUER = "http://127.0.0.1/auth"
PAGE = 100
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
"""`--clock cpu` counts the process's CPU time (every thread: the node app's worker
threads too), which a loaded machine distorts far less than wall time."""
clock = time.perf_counter


class WithToken(httpx.AsyncBaseTransport):
    def __init__(self, app: object, token: str) -> None:
        self.inner = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        self.token = token

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["authorization"] = f"Bearer {self.token}"
        return await self.inner.handle_async_request(request)


async def reads(source: FederatedSource, codes: list[str]) -> float:
    """Seconds per single-robot read over `codes`."""
    started = clock()
    for code in codes:
        record = await source.robot(code)
        assert record is not None
    return (clock() - started) / len(codes)


async def pages(source: FederatedSource, times: int) -> float:
    """Seconds per `robots(first: 100)` page, the first page each time."""
    started = clock()
    for _ in range(times):
        page = await source.robots(RobotFilter(), PAGE, None)
        assert len(page.items) == PAGE and not page.unavailable, page.unavailable
    return (clock() - started) / times


async def gateway_round(
    app: object, token: str, codes: list[str], log: EventLog | None
) -> tuple[float, float, float, float, float]:
    config = RegistryConfig(
        "cn-heis", "cn-miit", "http://node", ("CN",), ("CN",), freshness=0, timeout=30.0,
        log_key=log.signer.verifier if log is not None else None,
    )  # fmt: skip
    source = FederatedSource([config], transports={"cn-heis": WithToken(app, token)})
    try:
        first = await reads(source, codes)
        again = await reads(source, codes)
    finally:
        await source.aclose()
    lister = FederatedSource([config], transports={"cn-heis": WithToken(app, token)})
    try:
        cold = await pages(lister, 1)
        unproven = 0.0
        for _ in range(5):
            # the documents are cached; the versions are new to the log check
            lister.logs = {k: LogMonitor(k, m.log_key, m.witnesses) for k, m in lister.logs.items()}
            unproven += await pages(lister, 1) / 5
        warm = await pages(lister, 5)
    finally:
        await lister.aclose()
    return first, again, cold, unproven, warm


async def check_alone(app: object, token: str, log: EventLog) -> tuple[float, float]:
    """Seconds to prove a page's 100 versions: batched (one checkpoint, one call for
    all proofs) and one version at a time (a proof call each), each on a fresh check."""
    config = RegistryConfig(
        "cn-heis", "cn-miit", "http://node", ("CN",), ("CN",), freshness=0, timeout=30.0,
        log_key=log.signer.verifier,
    )  # fmt: skip
    source = FederatedSource([config], transports={"cn-heis": WithToken(app, token)})
    try:
        page = await source.robots(RobotFilter(), PAGE, None)
        versions = [(r.passport.code, r.head) for r in page.items]
        client = source.clients["cn-heis"]
        batched = LogMonitor("cn-heis", log.signer.verifier, ())
        started = clock()
        await batched.check_many(client, versions)
        together = clock() - started
        single = LogMonitor("cn-heis", log.signer.verifier, ())
        started = clock()
        for code, head in versions:
            await single.check(client, code, head, time.monotonic())
        apart = clock() - started
    finally:
        await source.aclose()
    return together, apart


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robots", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        store = SqliteStore(data / "node.db")
        seed(store, args.robots, seed_value=0, country="CN", quiet=True)
        events = len(store.log_rows(0, 10**9))
        signer = Signer.generate(event_log_origin("cn-heis"))

        started = clock()
        log = EventLog(store, signer)
        log.refresh()
        build = clock() - started
        codes = store.codes()
        started = clock()
        for _ in range(200):
            log.checkpoint()
        checkpoint = (clock() - started) / 200
        started = clock()
        for code in codes[:200]:
            log.inclusion(code, 1)
        inclusion = (clock() - started) / min(200, len(codes))

        verifier = TokenVerifier([demo_issuer(ISSUER, data)])
        app = create_node_app(store, format="cn-miit", verifier=verifier, log=log)
        token = issue_token("robopass-gateway", data, ISSUER)
        sample = codes[:100]
        off: list[tuple[float, float, float, float, float]] = []
        on: list[tuple[float, float, float, float, float]] = []
        for round_ in range(args.rounds):
            order = [None, log] if round_ % 2 == 0 else [log, None]
            for which in order:
                result = asyncio.run(gateway_round(app, token, sample, which))
                (on if which is not None else off).append(result)
        alone = [asyncio.run(check_alone(app, token, log)) for _ in range(args.rounds)]
        store.close()

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:.2f}"

    print(f"{platform.machine()}, {os.cpu_count()} cores, CPython {platform.python_version()}")
    print(f"{args.robots} robots, {events} events in the log, {args.clock} clock\n")
    print("| node | ms |\n| --- | --- |")
    print(f"| build the log from the store (once, at start) | {build * 1000:.1f} |")
    print(f"| signed checkpoint (tree built) | {checkpoint * 1000:.3f} |")
    print(f"| inclusion proof (tree built) | {inclusion * 1000:.3f} |\n")
    print("| gateway, single-robot read | log check off ms | on ms | on/off |")
    print("| --- | --- | --- | --- |")
    for label, index in (("first read of a version", 0), ("repeated read", 1)):
        a, b = [r[index] for r in off], [r[index] for r in on]
        ratio = statistics.median(b) / statistics.median(a)
        print(f"| {label} | {ms(a)} | {ms(b)} | {ratio:.2f} |")
    print(f"\n| gateway, `robots(first: {PAGE})` page | log check off ms | on ms | on/off |")
    print("| --- | --- | --- | --- |")
    labels = (
        ("first page (documents parsed, versions new)", 2),
        ("documents cached, versions new (one batch of proofs)", 3),
        ("versions proven (remembered)", 4),
    )
    for label, index in labels:
        a, b = [r[index] for r in off], [r[index] for r in on]
        ratio = statistics.median(b) / statistics.median(a)
        print(f"| {label} | {ms(a)} | {ms(b)} | {ratio:.2f} |")
    together, apart = [a[0] for a in alone], [a[1] for a in alone]
    print(f"\n| proving a page's {PAGE} new versions, the check alone | ms |")
    print("| --- | --- |")
    print(f"| batched: one checkpoint, one POST /log/proof/inclusions | {ms(together)} |")
    print(f"| one version at a time: a GET /log/proof/inclusion each | {ms(apart)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
