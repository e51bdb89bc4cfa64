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

Usage: `python -m bench.subscriptions [--subscriptions 1000] [--seconds 60]
[--robots 200] [--postgres URL] [--backends sqlite,postgresql]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Served, serving
from bench.lookup import ISSUER, postgres_schema, seed
from policies.authserver import issue_token

CLIENT = "fleet-owner"
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


async def idle_with(served: Served, token: str, count: int, seconds: float) -> float:
    """CPU share of the server while `count` subscriptions stay open and idle."""
    url = f"ws://127.0.0.1:{served.port}/graphql"
    sockets: list[ClientConnection] = []
    try:
        for start in range(0, count, OPEN_AT_ONCE):
            batch = range(start, min(start + OPEN_AT_ONCE, count))
            sockets += await asyncio.gather(*(subscribe(url, token, n) for n in batch))
        await asyncio.sleep(5)  # every subscription has read the head and waits
        return await asyncio.to_thread(cpu_share, served, seconds)
    finally:
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0, help="per measurement")
    parser.add_argument("--robots", type=int, default=200)
    parser.add_argument("--postgres", default="postgresql://127.0.0.1:5432/test")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, postgres_schema(args.postgres) as pg:
        every = {"sqlite": str(Path(tmp) / "subscriptions.db"), "postgresql": pg}
        token = issue_token(CLIENT, Path(tmp), ISSUER)
        for backend in args.backends.split(","):
            db = every[backend]
            seed(db, args.robots)
            flags = ["--db", db, "--issuer", ISSUER, "--data-dir", tmp]
            with serving("graphql-policies", flags) as served:
                none = cpu_share(served, args.seconds)
                held = asyncio.run(idle_with(served, token, args.subscriptions, args.seconds))
            rows.append((backend, none, held))

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, date {date.today()}"
    )
    print(
        "load average (1, 5, 15 min) before "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    print(
        f"one replica, {args.robots} robots, {args.subscriptions} idle passportChanged"
        f" subscriptions as {CLIENT}, {args.seconds:g} s per measurement"
    )
    print()
    print(f"| backend | no subscription | {args.subscriptions} idle | cost | target |")
    print("| --- | --- | --- | --- | --- |")
    for backend, none, held in rows:
        cost = held - none
        verdict = "within" if cost < TARGET else "OVER"
        print(
            f"| {backend} | {none:.2%} of a core | {held:.2%} | {cost:+.2%} |"
            f" {verdict} {TARGET:.0%} |"
        )


if __name__ == "__main__":
    main()
