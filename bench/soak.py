"""Soak run: two gateway replicas on one PostgreSQL under a fixed rate of mixed traffic.

What a registry operator running replicas needs to know before trusting them
for days: that nothing fails under steady load, that neither process grows
(a leak shows as resident memory climbing minute after minute), and that the
slowest requests do not get slower as the run goes on.

- Two `bench.servers graphql-policies --writable` processes (demo policies,
  verified tokens) over one fresh PostgreSQL schema, seeded with `--robots`
  synthetic robots; requests, writes among them, alternate between them.
- Open loop at `--rate` requests/s: a request is queued on its schedule whether
  or not earlier ones have answered, 16 keep-alive connections per replica
  take them in turn, and its latency counts from that schedule, so a stalled
  server shows in p99 instead of slowing the load.
- 90% reads: `bench/run.py`'s lookup as `de-msa`, round robin over every robot.
  10% idempotent writes: `reportIncident` as the fleet owner on its active
  robots; one write in four repeats an earlier key on the other replica and
  must return the same event (a different hash counts as an error).
- Every minute: requests, errors (non-200, GraphQL errors, replay mismatches,
  timeouts), p50/p99, each replica's resident memory (/proc VmRSS).

Usage: `python -m bench.soak [--minutes 10] [--rate 40] [--robots 1000]
[--postgres URL]`. Not in CI: it takes the whole `--minutes`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import random
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Served, serving
from bench.load import request_bytes
from bench.lookup import ISSUER, postgres_schema, seed
from bench.run import QUERY
from policies.authserver import issue_token

READER = "de-msa"
WRITER = "fleet-owner"
INCIDENT = """mutation ($code: RobotCode!, $input: IncidentInput!, $key: String!) {
  reportIncident(code: $code, input: $input, idempotencyKey: $key) { sequence hash } }"""
TIMEOUT_S = 10.0
CONNECTIONS = 16
"""Keep-alive connections per replica: requests queue for the next free one."""
GROWTH_LIMIT = 0.10


@dataclass
class Minute:
    """What one minute of the run saw."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    writes: int = 0
    replays: int = 0
    rss_mb: tuple[float, ...] = ()
    load: float = 0.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def owned_active(url: str, owner_id: str) -> list[str]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT code FROM robots WHERE owner_id = %s AND status = 'ACTIVE' ORDER BY code",
            (owner_id,),
        ).fetchall()
    return [r[0] for r in rows]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[int(p * (len(ordered) - 1))] * 1000 if ordered else 0.0


class Connection:
    """One keep-alive HTTP/1.1 connection to a replica, one request at a time (as
    `bench/load.py`'s), reopened after a failure."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: dict, headers: list[str]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(request_bytes("127.0.0.1", "/graphql", orjson.dumps(body), headers))
        status = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if not status:
            raise ConnectionError("the server closed the connection")
        return int(status.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Traffic:
    """The mixed requests: 9 lookups, then a write, over and over."""

    def __init__(self, codes: list[str], owned: list[str], tokens: dict[str, str]) -> None:
        self.codes = itertools.cycle(codes)
        self.owned = owned
        self.read_auth = [f"Authorization: Bearer {tokens[READER]}"]
        self.write_auth = [f"Authorization: Bearer {tokens[WRITER]}"]
        self.written: list[tuple[dict, str]] = []  # (variables, hash) of first writes
        self.random = random.Random(15)
        self.keys = itertools.count()

    async def one(self, connection: Connection, n: int, minute: Minute) -> None:
        if n % 10 != 9:
            body = {"query": QUERY, "variables": {"code": next(self.codes)}}
            await self._post(connection, body, self.read_auth, minute)
            return
        minute.writes += 1
        if self.written and self.random.random() < 0.25:
            variables, expected = self.random.choice(self.written[-200:])
            minute.replays += 1
            body = {"query": INCIDENT, "variables": variables}
            data = await self._post(connection, body, self.write_auth, minute)
            if data is not None and data["reportIncident"]["hash"] != expected:
                minute.errors += 1
                print("  a replayed key answered another event", file=sys.stderr)
            return
        at = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        variables = {
            "code": self.random.choice(self.owned),
            "key": f"soak-{next(self.keys)}",
            "input": {"at": at, "severity": "MINOR", "category": "OTHER", "description": "soak"},
        }
        body = {"query": INCIDENT, "variables": variables}
        data = await self._post(connection, body, self.write_auth, minute)
        if data is not None:
            self.written.append((variables, data["reportIncident"]["hash"]))

    async def _post(
        self, connection: Connection, body: dict, headers: list[str], minute: Minute
    ) -> dict | None:
        try:
            status, raw = await asyncio.wait_for(connection.post(body, headers), TIMEOUT_S)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            connection.close()
            minute.errors += 1
            print(f"  request failed: {type(exc).__name__}", file=sys.stderr)
            return None
        payload = orjson.loads(raw) if status == 200 else {}
        if status != 200 or payload.get("errors") or not payload.get("data"):
            minute.errors += 1
            print(f"  error {status}: {raw[:200]!r}", file=sys.stderr)
            return None
        return payload["data"]


async def drive(traffic: Traffic, servers: list[Served], rate: float, minutes: int) -> list[Minute]:
    """Put `rate` requests/s on the replicas' queues for `minutes`, on schedule, each
    served by the next free connection; one `Minute` per minute."""
    timeline: list[Minute] = [Minute() for _ in range(minutes)]
    queues: list[asyncio.Queue] = [asyncio.Queue() for _ in servers]
    start = time.perf_counter()
    end = start + 60 * minutes

    async def worker(queue: asyncio.Queue, port: int) -> None:
        connection = Connection(port)
        try:
            while (item := await queue.get()) is not None:
                n, due, minute = item
                await traffic.one(connection, n, minute)
                minute.latencies.append(time.perf_counter() - due)
        finally:
            connection.close()

    workers = [
        asyncio.create_task(worker(queue, server.port))
        for queue, server in zip(queues, servers, strict=True)
        for _ in range(CONNECTIONS)
    ]
    sampled = 0  # minutes whose memory and load are taken
    for n in itertools.count():
        due = start + n / rate
        if due >= end:
            break
        now = time.perf_counter()
        while sampled < minutes - 1 and now >= start + 60 * (sampled + 1):
            sample(timeline[sampled], servers)  # the minute that just ended
            sampled += 1
            report_minute(sampled, timeline[sampled - 1])
        if due > now:
            await asyncio.sleep(due - now)
        minute = timeline[min(int((due - start) // 60), minutes - 1)]
        # Alternate replicas, shifting by one every ten requests so that the writes
        # (every tenth request) alternate too.
        queues[(n + n // 10) % len(queues)].put_nowait((n, due, minute))
    for queue in queues:
        for _ in range(CONNECTIONS):
            queue.put_nowait(None)
    await asyncio.gather(*workers)
    sample(timeline[-1], servers)
    report_minute(minutes, timeline[-1])
    return timeline


def sample(minute: Minute, servers: list[Served]) -> None:
    minute.rss_mb = tuple(rss_mb(s.pid) for s in servers)
    minute.load = os.getloadavg()[0]


def report_minute(number: int, m: Minute) -> None:
    rss = " / ".join(f"{x:.1f}" for x in m.rss_mb)
    print(
        f"  minute {number}: {len(m.latencies)} requests, {m.errors} errors,"
        f" p99 {percentile(m.latencies, 0.99):.1f} ms, RSS {rss} MB, load {m.load:.2f}",
        file=sys.stderr,
        flush=True,
    )


def table(timeline: list[Minute], args: argparse.Namespace, load_before: tuple) -> None:
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, date {date.today()}"
    )
    print(f"load average (1, 5, 15 min) before {', '.join(f'{x:.2f}' for x in load_before)}")
    print(
        f"two replicas on one PostgreSQL, {args.robots} robots, {args.rate} requests/s for"
        f" {args.minutes} min (90% lookups as {READER}, 10% reportIncident as {WRITER},"
        " a quarter of them replayed keys)"
    )
    print()
    print(
        "| minute | requests | errors | writes (replays) | p50 ms | p99 ms "
        "| RSS A MB | RSS B MB | load 1 min |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for i, m in enumerate(timeline, 1):
        a, b = m.rss_mb
        print(
            f"| {i} | {len(m.latencies)} | {m.errors} | {m.writes} ({m.replays}) |"
            f" {percentile(m.latencies, 0.5):.1f} | {percentile(m.latencies, 0.99):.1f} |"
            f" {a:.1f} | {b:.1f} | {m.load:.2f} |"
        )
    errors = sum(m.errors for m in timeline)
    print()
    print(f"errors: {errors} of {sum(len(m.latencies) for m in timeline)} requests")
    if len(timeline) >= 3:
        for name, index in (("A", 0), ("B", 1)):
            first, last = timeline[1].rss_mb[index], timeline[-1].rss_mb[index]
            growth = (last - first) / first
            verdict = "within" if growth < GROWTH_LIMIT else "OVER"
            print(
                f"replica {name}: RSS {first:.1f} MB at minute 2 -> {last:.1f} MB at minute"
                f" {len(timeline)}: {growth:+.1%} ({verdict} the {GROWTH_LIMIT:.0%} limit)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--rate", type=float, default=40.0, help="requests per second, both")
    parser.add_argument("--robots", type=int, default=1000)
    parser.add_argument("--postgres", default="postgresql://127.0.0.1:5432/test")
    args = parser.parse_args()
    if args.minutes < 1 or args.rate <= 0:
        parser.error("--minutes must be at least 1 and --rate above 0")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, postgres_schema(args.postgres) as db:
        print(f"seeding {args.robots} robots", file=sys.stderr)
        codes = seed(db, args.robots)
        from policies.authserver import load_clients

        owned = owned_active(db, load_clients()[WRITER].organisation_id)
        if not owned:
            raise SystemExit(f"the seeded fleet has no active robot of {WRITER}: raise --robots")
        tokens = {p: issue_token(p, Path(tmp), ISSUER) for p in (READER, WRITER)}
        flags = ["--db", db, "--issuer", ISSUER, "--data-dir", tmp, "--writable"]
        with ExitStack() as stack:
            servers = [stack.enter_context(serving("graphql-policies", flags)) for _ in range(2)]
            traffic = Traffic(codes, owned, tokens)
            print(f"{args.minutes} min at {args.rate}/s", file=sys.stderr)
            timeline = asyncio.run(drive(traffic, servers, args.rate, args.minutes))
    table(timeline, args, load_before)


if __name__ == "__main__":
    main()
