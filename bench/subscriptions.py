"""Benchmark: what 1,000 idle `passportChanged` subscriptions cost one replica.

A fleet's dashboards hold subscriptions open for hours and most of the time
nothing changes. Every waiting subscription shares the replica's one feed
watcher (`gateway.store.feedwatch`), so idle ones should cost next to nothing:
the issue's target is under 5% of a core for 1,000 of them.

One `bench.servers graphql-policies` replica (demo policies, verified tokens)
per backend; its CPU time (user + system, /proc) over `--seconds` with no
subscription, then again with `--subscriptions` open and acknowledged over
graphql-transport-ws, all idle (nothing is written meanwhile). What idle
subscriptions still do: each re-checks its token every
`schema.graphql.feed.IDLE_SECONDS` (5 s), and the websocket layer pings.

Then, with the same subscriptions still open, a busy registry: `--writes` per
second (4) appended by another process straight into the database (maintenance
records of robots the fleet owner does not own, so no subscription is sent
anything) while the server's CPU is measured again: what each write costs the
replica whose subscriptions it wakes. Before the shared feed tail
(`gateway.service.feedtail`) every woken subscription read the feed with its own
query; with `--baseline DIR` (a checkout of earlier code, e.g. `git archive main |
tar -x -C /tmp/before`) the same measurements run over DIR's packages too, side by
side in the same minutes.

Usage: `python -m bench.subscriptions [--subscriptions 1000] [--seconds 60]
[--writes 4] [--robots 200] [--baseline DIR] [--postgres URL] [--backends
sqlite,postgresql]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, Served, machine_and_load, serving
from bench.lookup import ISSUER, postgres_schema, seed
from gateway.store import EventRejected
from gateway.store.open import open_store
from policies.authserver import issue_token
from schema.codec import to_plain
from schema.events import EventType
from schema.passport import MaintenanceKind, MaintenanceRecord

CLIENT = "fleet-owner"
OWNER = "uscc:913205066HF31Y0124"  # the fleet owner's party identifier (its token's org_id)
SUBSCRIPTION = "subscription { passportChanged { code sequence hash type } }"
TARGET = 0.05
OPEN_AT_ONCE = 50


async def subscribe(url: str, token: str, n: int) -> ClientConnection:
    """One socket with one acknowledged subscription (the server has read the feed's head)."""
    socket = await connect(url, subprotocols=["graphql-transport-ws"], max_queue=None)  # type: ignore[list-item]
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    ack = json.loads(await asyncio.wait_for(socket.recv(), 60))
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"subscription {n} not acknowledged: {ack}")
    payload = {"query": SUBSCRIPTION}
    await socket.send(json.dumps({"id": str(n), "type": "subscribe", "payload": payload}))
    return socket


def cpu_share(served: Served, seconds: float) -> float:
    """The server's CPU seconds per wall second over `seconds` (1.0 is one core)."""
    cpu, wall = served.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return (served.cpu_seconds() - cpu) / (time.monotonic() - wall)


def others(db: str) -> list[str]:
    """Codes of the robots the fleet owner does not own: writes to them wake its
    subscriptions, which read the feed and find nothing for them."""
    store = open_store(db)
    try:
        found = []
        for code in store.codes():
            owner = store.record(code).passport.current_owner  # type: ignore[union-attr]
            if owner is None or owner.owner_id != OWNER:
                found.append(code)
        return found
    finally:
        store.close()


def writing(db: str, codes: list[str], rate: float, stop: threading.Event) -> int:
    """Append a maintenance record `rate` times a second, robot after robot, until `stop`."""
    store = open_store(db)
    written, n, start = 0, 0, time.monotonic()
    at = datetime.now(UTC) - timedelta(hours=1)
    try:
        while not stop.wait(max(0.0, start + written / rate - time.monotonic())):
            n += 1
            record = MaintenanceRecord(
                at, MaintenanceKind.INSPECTION, "left_knee", None, "Bench Care", 1000.0 + n, None
            )
            try:
                store.append(codes[n % len(codes)], EventType.MAINTENANCE_RECORDED,
                             to_plain(record), at)  # fmt: skip
            except EventRejected:  # a robot that takes no maintenance (end of life)
                continue
            written += 1
        return written
    finally:
        store.close()


def busy_share(served: Served, db: str, codes: list[str], rate: float, seconds: float):
    """(CPU share, writes) of the server while another process writes `rate` times a second."""
    stop = threading.Event()
    result: list[int] = []
    writer = threading.Thread(target=lambda: result.append(writing(db, codes, rate, stop)))
    writer.start()
    try:
        share = cpu_share(served, seconds)
    finally:
        stop.set()
        writer.join()
    return share, result[0]


async def idle_with(
    served: Served, token: str, count: int, seconds: float, busy: tuple[str, list[str], float]
) -> tuple[float, float, int]:
    """CPU share of the server while `count` subscriptions stay open and idle, then while
    they stay open and writes arrive (share and writes made)."""
    url = f"ws://127.0.0.1:{served.port}/graphql"
    sockets: list[ClientConnection] = []
    try:
        for start in range(0, count, OPEN_AT_ONCE):
            batch = range(start, min(start + OPEN_AT_ONCE, count))
            sockets += await asyncio.gather(*(subscribe(url, token, n) for n in batch))
        await asyncio.sleep(5)  # every subscription has read the head and waits
        idle = await asyncio.to_thread(cpu_share, served, seconds)
        share, writes = await asyncio.to_thread(busy_share, served, *busy, seconds)
        return idle, share, writes
    finally:
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0, help="per measurement")
    parser.add_argument("--writes", type=float, default=4.0, help="per second, when busy")
    parser.add_argument("--robots", type=int, default=200)
    parser.add_argument("--baseline", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--postgres", default="postgresql://127.0.0.1:5432/test")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    args = parser.parse_args()
    load_before = os.getloadavg()
    trees = {"this": ROOT}
    if args.baseline:
        trees = {"baseline": args.baseline.resolve(), **trees}
    rows = []
    with tempfile.TemporaryDirectory() as tmp, postgres_schema(args.postgres) as pg:
        every = {"sqlite": str(Path(tmp) / "subscriptions.db"), "postgresql": pg}
        token = issue_token(CLIENT, Path(tmp), ISSUER)
        for backend in args.backends.split(","):
            db = every[backend]
            seed(db, args.robots)
            busy = (db, others(db), args.writes)
            for tree, code in trees.items():
                flags = ["--db", db, "--issuer", ISSUER, "--data-dir", tmp]
                with serving("graphql-policies", flags, code=code) as served:
                    none = cpu_share(served, args.seconds)
                    held, share, writes = asyncio.run(
                        idle_with(served, token, args.subscriptions, args.seconds, busy)
                    )
                rows.append((backend, tree, none, held, share, writes))

    print(machine_and_load(load_before))
    print(
        f"one replica, {args.robots} robots, {args.subscriptions} passportChanged"
        f" subscriptions as {CLIENT}, {args.seconds:g} s per measurement; busy: another"
        f" process writes {args.writes:g}/s to robots {CLIENT} does not own"
    )
    print()
    print(
        f"| backend | code | no subscription | {args.subscriptions} idle | idle cost | target"
        f" | {args.subscriptions} while busy | CPU per write |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for backend, tree, none, held, share, writes in rows:
        cost = held - none
        verdict = "within" if cost < TARGET else "OVER"
        per_write = (share - held) * args.seconds / writes if writes else float("nan")
        print(
            f"| {backend} | {tree} | {none:.2%} of a core | {held:.2%} | {cost:+.2%} |"
            f" {verdict} {TARGET:.0%} | {share:.2%} ({writes} writes) |"
            f" {per_write * 1000:.1f} ms |"
        )


if __name__ == "__main__":
    main()
