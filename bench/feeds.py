"""Benchmark: the change feed, bulk export and `robopass sync`, against baselines of the same run.

- `fleetChanges` paged over HTTP (500 a page), changes/s, against `Store.changes`
  read in process (the floor: SQL and row decoding only), without policies and
  for the demo fleet owner with them.
- `/export/fleet.ndjson` robots/s per format for the fleet owner's robots, against
  `export_document` in process for the same robots and masks.
- `robopass sync` of the whole fleet from scratch, then incremental after
  `--appends` new events, with each sync process's peak RSS (os.wait4), which must
  stay under 300 MB.

The fleet (`--robots`, 50,000 by default) is seeded once with `gateway.synthetic.seeding.seed` into
`bench/.cache/` and reused; seeding 50,000 robots takes several minutes and about
3.5 GB. Usage: `python -m bench.feeds [--robots N] [--appends N] [--feed-pages N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, serving
from gateway.edge.auth import demo_issuer
from gateway.service.export import EXPORT_FORMATS, export_document
from gateway.store.open import open_store
from gateway.synthetic.seeding import seed
from policies import PolicySet, Principal, TokenVerifier, relationship_of
from policies.authserver import issue_token
from schema.codec import to_plain
from schema.events import EventType
from schema.graphql.objects import DENIED_CODE
from schema.passport import MaintenanceKind, MaintenanceRecord
from schema.source import RobotFilter

CACHE = ROOT / "bench" / ".cache"
ISSUER = "http://127.0.0.1:9/bench-issuer"
CLIENT = "fleet-owner"
OWNER = "uscc:913205066HF31Y0124"  # the fleet owner's party identifier (its token's org_id)
PAGE = 500
RSS_LIMIT_MB = 300
AT = datetime(2026, 11, 20, 8, tzinfo=UTC)
CHANGES = """query ($owner: String, $after: String) {
  fleetChanges(ownerId: $owner, first: 500, after: $after) {
    edges { cursor node { code sequence hash type at payload } }
    pageInfo { hasNextPage endCursor } } }"""


def fleet(robots: int) -> str:
    """The cached registry file with `robots` synthetic robots, seeded on first use."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"feeds-cn-{robots}.db"
    store = open_store(str(path))
    try:
        if store.count() < robots:
            print(f"seeding {robots} robots into {path} (once; reused afterwards)", file=sys.stderr)
            seed(store, robots, seed_value=0, country="CN")
    finally:
        store.close()
    return str(path)


def store_changes(db: str, limit: int) -> tuple[int, float]:
    """The floor: rows read from `Store.changes` in process, a page of 500 at a time."""
    store = open_store(db)
    try:
        rows, after, start = 0, 0, time.perf_counter()
        while rows < limit:
            page = store.changes(after, PAGE)
            if not page:
                break
            rows += len(page)
            after = page[-1].position
        return rows, time.perf_counter() - start
    finally:
        store.close()


def feed_over_http(port: int, token: str, owner: str | None, limit: int) -> tuple[int, float]:
    """Changes read through `fleetChanges` over HTTP, until `limit` or the feed's end."""
    url = f"http://127.0.0.1:{port}/graphql"
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    rows, after, start = 0, None, time.perf_counter()
    with httpx.Client(timeout=120) as client:
        while rows < limit:
            body = orjson.dumps({"query": CHANGES, "variables": {"owner": owner, "after": after}})
            answer = orjson.loads(client.post(url, content=body, headers=headers).content)
            unexpected = [
                e for e in answer.get("errors", ()) if e["extensions"]["code"] != DENIED_CODE
            ]
            if unexpected or answer.get("data") is None:
                raise RuntimeError(str(unexpected or answer))
            page = answer["data"]["fleetChanges"]
            rows += len(page["edges"])
            after = page["pageInfo"]["endCursor"] or after
            if not page["pageInfo"]["hasNextPage"]:
                break
    return rows, time.perf_counter() - start


def bulk_export(port: int, token: str, fmt: str) -> tuple[int, float]:
    """Lines of `/export/fleet.ndjson` for the owner's fleet, streamed and counted."""
    url = f"http://127.0.0.1:{port}/export/fleet.ndjson"
    params = {"format": fmt, "owner_id": OWNER}
    lines, start = 0, time.perf_counter()
    headers = {"authorization": f"Bearer {token}"}
    with httpx.stream("GET", url, params=params, headers=headers, timeout=300) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            lines += chunk.count(b"\n")
    return lines, time.perf_counter() - start


def export_floor(db: str, data_dir: Path, fmt: str) -> tuple[int, float]:
    """The same documents made in process: the policy's mask and the adapter, no HTTP.

    The passports are read (and decoded) before the clock starts, as the server
    has them decoded in its cache by then too.
    """
    principal = _principal(data_dir)
    policy = PolicySet.demo()
    store = open_store(db)
    try:
        records, after = [], None
        while True:
            page = store.page(RobotFilter(owner_id=OWNER), 100, after)
            records += page.items
            after = page.end_cursor
            if not page.has_next_page:
                break
    finally:
        store.close()
    start = time.perf_counter()
    for record in records:
        passport = record.passport
        mask = policy.decide(principal, relationship_of(principal, passport), "CN").mask
        orjson.dumps(export_document(passport, fmt, mask))
    return len(records), time.perf_counter() - start


def _principal(data_dir: Path) -> Principal:
    """The fleet owner's principal, from a token verified as the server verifies it."""
    verifier = TokenVerifier([demo_issuer(ISSUER, data_dir)])
    token = issue_token(CLIENT, data_dir, ISSUER)
    return asyncio.run(verifier.authenticate(f"Bearer {token}"))


def run_sync(port: int, token: str, out: Path) -> tuple[str, float, float]:
    """One `robopass sync` process: its summary line, seconds, and peak RSS in MB."""
    argv = [sys.executable, "-m", "gateway.cli", "sync", "--quiet", "--out", str(out)]
    argv += ["--gateway", f"http://127.0.0.1:{port}"]
    env = {**os.environ, "ROBOPASS_TOKEN": token}  # not on the command line: ps shows it
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    summary = proc.stdout.read().strip()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"sync failed with {proc.returncode}: {summary}")
    return summary, seconds, usage.ru_maxrss / 1024


def append_events(db: str, count: int) -> None:
    store = open_store(db)
    try:
        codes = store.codes()
        rng = random.Random(count)
        for i in range(count):
            payload = MaintenanceRecord(
                AT, MaintenanceKind.INSPECTION, "left_knee", None, "bench", float(i), None
            )
            store.append(rng.choice(codes), EventType.MAINTENANCE_RECORDED, to_plain(payload), AT)
    finally:
        store.close()


def row(*cells: object) -> None:
    print("| " + " | ".join(str(c) for c in cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--robots", type=int, default=50_000)
    parser.add_argument("--appends", type=int, default=1_000, help="events before the rerun")
    parser.add_argument("--feed-pages", type=int, default=100, help="pages of 500 changes")
    args = parser.parse_args()
    db = fleet(args.robots)
    limit = args.feed_pages * PAGE
    print(f"# robopass change feed, bulk export and sync (Python {platform.python_version()})")
    print(f"fleet: {args.robots} robots ({Path(db).stat().st_size / 1e9:.1f} GB)\n")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        token = issue_token(CLIENT, data_dir, ISSUER)
        server = ["--db", db, "--issuer", ISSUER, "--data-dir", str(data_dir)]
        audited = [*server, "--audit-db", str(data_dir / "audit.db")]

        rows, seconds = store_changes(db, limit)
        floor = rows / seconds
        row("change feed", "changes", "changes/s", "vs Store.changes")
        row("---", "---", "---", "---")
        row("Store.changes in process (baseline)", rows, f"{floor:,.0f}", "1.00")
        with serving("graphql-trusted", server) as trusted:
            rows, seconds = feed_over_http(trusted.port, token, None, limit)
            rate = rows / seconds
            row("fleetChanges over HTTP, no policies", rows, f"{rate:,.0f}", f"{rate / floor:.2f}")
            with serving("graphql-audit", audited) as on:
                rows, seconds = feed_over_http(on.port, token, OWNER, limit)
                rate = rows / seconds
                row(
                    "fleetChanges over HTTP, fleet owner, policies + audit",
                    rows,
                    f"{rate:,.0f}",
                    f"{rate / floor:.2f}",
                )
                print()
                row(
                    "bulk export, fleet owner, policies + audit",
                    "robots",
                    "robots/s",
                    "export_document in process (floor)",
                    "vs floor",
                )
                row("---", "---", "---", "---", "---")
                for fmt in EXPORT_FORMATS:
                    lines, seconds = bulk_export(on.port, token, fmt)
                    count, floor_seconds = export_floor(db, data_dir, fmt)
                    assert lines == count, (lines, count)
                    rate, base = lines / seconds, count / floor_seconds
                    row(fmt, lines, f"{rate:,.0f}", f"{base:,.0f}", f"{rate / base:.2f}")

            out = data_dir / "mirror.db"
            print()
            row("sync, no policies, whole fleet", "seconds", "per second", "peak RSS MB")
            row("---", "---", "---", "---")
            summary, seconds, rss = run_sync(trusted.port, token, out)
            row(
                f"from scratch: {summary}",
                f"{seconds:.1f}",
                f"{args.robots / seconds:,.0f} robots",
                f"{rss:.0f}",
            )
            assert rss < RSS_LIMIT_MB, f"sync peaked at {rss:.0f} MB"
            append_events(db, args.appends)
            summary, seconds, rss = run_sync(trusted.port, token, out)
            row(
                f"incremental: {summary}",
                f"{seconds:.1f}",
                f"{args.appends / seconds:,.0f} changes",
                f"{rss:.0f}",
            )
            assert rss < RSS_LIMIT_MB, f"sync peaked at {rss:.0f} MB"
            print(f"\nmirror: {out.stat().st_size / 1e9:.2f} GB; peak RSS limit {RSS_LIMIT_MB} MB")


if __name__ == "__main__":
    main()
