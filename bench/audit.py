"""Benchmark: audit records committed per second, one transaction per request vs group commit.

Each simulated request appends one disclosure record and waits until it is
committed, as `RequestContext.record_disclosures` does before an answer goes
out. "per request" is the path before group commit (its own transaction; on
the loop for SQLite, in a worker thread for PostgreSQL); "group" is
`AuditLog.record`, where concurrent requests share a transaction. Both run in
the same process, alternating in short rounds so the machine's noise falls on
both alike, with `--concurrency` requests in flight and with one (the latency
group commit adds to a lone request). The chain is verified afterwards.
Usage: `python -m bench.audit` (`--seconds` per measurement, `--concurrency`,
`--postgres URL`, `--no-postgres`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from policies import AuditLog, AuditRecord

AT = datetime(2026, 12, 1, 8, tzinfo=UTC)
ROUNDS = 6


def record(i: int) -> AuditRecord:
    return AuditRecord(
        at=AT,
        issuer="https://as.example",
        subject=f"client-{i % 7}",
        organisation="KBA",
        role="regulator",
        token_id=f"tok-{i}",
        code=f"DE{i % 1000:04d}",
        served=("identity.status", "model.designation"),
        denied=("ownership.owner",),
        purposes=("incident_investigation",),
        agreements=(),
        policy_version="bench",
    )


def per_request(log: AuditLog) -> Callable[[list[AuditRecord]], Awaitable[object]]:
    async def commit(records: list[AuditRecord]) -> object:
        if log.remote:
            return await asyncio.to_thread(log.append_many, records)
        return log.append_many(records)

    return commit


async def load(
    commit: Callable[[list[AuditRecord]], Awaitable[object]], concurrency: int, seconds: float
) -> tuple[int, list[float]]:
    """Records committed and each request's wait, `concurrency` requests for `seconds`."""
    latencies: list[float] = []
    until = time.perf_counter() + seconds

    async def client(n: int) -> None:
        i = n
        while time.perf_counter() < until:
            start = time.perf_counter()
            await commit([record(i)])
            latencies.append(time.perf_counter() - start)
            i += concurrency

    await asyncio.gather(*(client(n) for n in range(concurrency)))
    return len(latencies), latencies


async def measure(log: AuditLog, concurrency: int, seconds: float) -> dict[str, dict]:
    modes = {"per request": per_request(log), "group": log.record}
    totals = {m: [0, 0.0, []] for m in modes}
    for _ in range(ROUNDS):
        for name, commit in modes.items():
            start = time.perf_counter()
            count, latencies = await load(commit, concurrency, seconds / ROUNDS)
            totals[name][0] += count
            totals[name][1] += time.perf_counter() - start
            totals[name][2].extend(latencies)
    out = {}
    for name, (count, spent, latencies) in totals.items():
        latencies.sort()
        out[name] = {
            "records/s": count / spent,
            "p50 ms": statistics.median(latencies) * 1000,
            "p99 ms": latencies[int(len(latencies) * 0.99)] * 1000,
        }
    return out


@contextmanager
def sqlite_log() -> Iterator[AuditLog]:
    with tempfile.TemporaryDirectory() as tmp:
        log = AuditLog(Path(tmp) / "audit.db")
        try:
            yield log
        finally:
            log.close()


@contextmanager
def postgres_log(url: str) -> Iterator[AuditLog]:
    """A log in a fresh schema of the server, dropped afterwards."""
    import psycopg

    name = f"fast_path_audit_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {name}")
        sep = "&" if "?" in url else "?"
        log = AuditLog(f"{url}{sep}options=-csearch_path%3D{name}")
        try:
            yield log
        finally:
            log.close()
            admin.execute(f"DROP SCHEMA {name} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--postgres", default="postgresql://127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    backends: dict[str, Callable[[], object]] = {"SQLite (WAL)": sqlite_log}
    if not args.no_postgres:
        backends["PostgreSQL"] = lambda: postgres_log(args.postgres)
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores, date {date.today()}, "
        f"{args.seconds}s per measurement, load average {os.getloadavg()[0]:.1f}"
    )
    head = f"{'backend, requests in flight, mode':<46}{'records/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
    print(head)
    for backend, opened in backends.items():
        with opened() as log:  # type: ignore[attr-defined]
            for concurrency in (1, args.concurrency):
                result = asyncio.run(measure(log, concurrency, args.seconds))
                for mode, r in result.items():
                    label = f"{backend}, {concurrency}, {mode}"
                    print(
                        f"{label:<46}{r['records/s']:>10.0f}{r['p50 ms']:>9.2f}{r['p99 ms']:>9.2f}"
                    )
                g, p = result["group"]["records/s"], result["per request"]["records/s"]
                print(f"{'':<46}{'group / per request: ' + format(g / p, '.2f') + 'x':>28}")
            print(f"{backend}: chain verified afterwards: {log.verify() is None}")


if __name__ == "__main__":
    main()
