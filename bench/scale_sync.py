"""bench.scale's fleet sync: one organisation's fleet of N robots mirrored out of a large store.

The synthetic fleet's largest owner holds about 2% of the robots, so a 50,000-robot
fleet out of a million has to be made: the organisation of the demo `fleet-owner`
client gets N robots by ownership transfers through the gateway's own write path
(`gateway.service.writes.Writes`: the current owner's offer, then the new owner's
acceptance, each checked by `schema.writes` and appended by the store under its row
and feed locks, re-keying the robot's events to the new owner's feed), in trusted
mode. The robots are picked by a seeded shuffle of every code, skipping robots that
left service (they take no transfer). Each write carries an idempotency key derived
from the robot's code and the transfers have one fixed time, so a run killed half way
is resumed by running it again: robots the organisation owns already are skipped, and
an offer made but not accepted is replayed by its key, not offered twice.

Then a `bench.servers graphql-policies` process (the demo policies, tokens verified as
in production) serves the store on loopback, and a real `robopass sync --owner ORG`
process with the organisation's own token mirrors the fleet into a fresh SQLite file;
then `--sync-appends` maintenance records are appended to the fleet's robots and the
sync runs again, incrementally. Each sync reports its seconds, its CPU (user + system)
and peak RSS (`ru_maxrss` of os.wait4, taken by a small launcher process: see LAUNCHER),
the server's CPU over the same span, and the mirror's size.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from tqdm import tqdm

from bench.harness import ROOT, serving
from gateway.service.local import LocalSource
from gateway.service.writes import Writes
from gateway.store.base import Store
from gateway.store.open import open_store
from gateway.synthetic.fleet import NOW
from policies import WRITE_SCOPE, Principal
from policies.authserver import issue_token
from policies.principal import Role
from schema.codec import to_plain
from schema.events import EventType, TransferOffer
from schema.passport import MaintenanceKind, MaintenanceRecord, OwnerKind

CLIENT = "fleet-owner"  # the demo client whose token syncs; its org_id is ORG
ORG = "uscc:913205066HF31Y0124"
ORG_NAME = "Zhulong Sales & Leasing Co., Ltd."
ISSUER = "http://127.0.0.1:9/bench-issuer"
AT = NOW + timedelta(days=1)  # after every synthetic event; fixed, so a retried key replays
SEED = 15
CONCURRENT = 4  # transfers in flight: the store's feed lock orders their appends anyway
KEY = "bench.scale fleet {step} {code}"


@dataclass(frozen=True, slots=True)
class Prepared:
    """The fleet made: what the organisation owned before, what was transferred, the cost."""

    owned_before: int
    transferred: int
    seconds: float
    cpu: float  # this process's user + system seconds (the store's SQL runs elsewhere on PG)

    @property
    def appends_per_second(self) -> float:
        return 2 * self.transferred / self.seconds if self.transferred else 0.0


@dataclass(frozen=True, slots=True)
class SyncRun:
    """One `robopass sync` process."""

    summary: str
    seconds: float
    cpu: float  # the sync process's user + system seconds
    rss_mb: float
    server_cpu: float  # the gateway process's user + system seconds over the same span


@dataclass(frozen=True, slots=True)
class FleetSync:
    robots: int
    prepared: Prepared
    scratch: SyncRun
    appends: int
    incremental: SyncRun
    mirror_bytes: int


def pick(store: Store, size: int, org: str = ORG, seed: int = SEED) -> tuple[int, list[str]]:
    """How many robots `org` owns now, and the robots to transfer to make its fleet `size`.

    Every code in a seeded shuffle (the same order on every run over the same store),
    keeping those in service and owned by someone else: a re-run after some transfers
    picks exactly the ones the first run had not reached.
    """
    with store._reading() as db:
        rows = db.execute(
            "SELECT code, CASE WHEN owner_id = ? THEN 1 ELSE 0 END,"
            " CASE WHEN status IN ('DECOMMISSIONED', 'SCRAPPED') THEN 1 ELSE 0 END"
            " FROM robots ORDER BY code",
            (org,),
        ).fetchall()
    owned = sum(row[1] for row in rows)
    random.Random(seed).shuffle(rows)
    candidates = [row[0] for row in rows if not row[1] and not row[2]]
    need = max(0, size - owned)
    if need > len(candidates):
        raise SystemExit(
            f"bench.scale: --sync {size} asks for more robots than the store can give {org}"
            f" ({owned} owned, {len(candidates)} more in service); use a smaller --sync"
        )
    return owned, candidates[:need]


def prepare(db: str, size: int) -> Prepared:
    """Give ORG a fleet of `size` robots by transfers through `Writes`; idempotent."""
    store = open_store(db)
    store.decoded = type(store.decoded)(64)  # each robot is read once or twice: keep few
    try:
        owned, codes = pick(store, size)
        print(f"fleet of {ORG}: {owned} robots owned, {len(codes)} to transfer", file=sys.stderr)
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        asyncio.run(_transfer_all(store, codes))
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        return Prepared(owned, len(codes), seconds, cpu)
    finally:
        store.close()


async def _transfer_all(store: Store, codes: list[str]) -> None:
    source = LocalSource(store)
    writes = Writes(source, source, None)  # trusted: the rules and the append, no policy table
    principal = Principal(
        issuer=ISSUER,
        subject="bench.scale",
        role=Role.OWNER,
        client_id=CLIENT,
        organisation_id=ORG,
        scopes=frozenset({WRITE_SCOPE}),
    )
    offer = TransferOffer(AT, ORG_NAME, OwnerKind.ORGANISATION, "CN", ORG)
    todo = iter(codes)

    async def worker(bar: tqdm) -> None:
        for code in todo:
            await writes.offer_transfer(principal, code, offer, KEY.format(step="offer", code=code))
            await writes.accept_transfer(principal, code, AT, KEY.format(step="accept", code=code))
            bar.update(1)

    bar = tqdm(total=len(codes), desc="transfers", unit="robot", file=sys.stderr, mininterval=2)
    with bar:
        await asyncio.gather(*(worker(bar) for _ in range(CONCURRENT)))


def append_maintenance(db: str, count: int) -> None:
    """`count` new events on the fleet's robots, for the incremental sync to follow."""
    store = open_store(db)
    try:
        with store._reading() as conn:
            codes = [
                r[0] for r in conn.execute("SELECT code FROM robots WHERE owner_id = ?", (ORG,))
            ]
        rng = random.Random(count)
        for i in range(count):
            payload = MaintenanceRecord(
                AT, MaintenanceKind.INSPECTION, "left_knee", None, "bench.scale", float(i), None
            )
            store.append(rng.choice(codes), EventType.MAINTENANCE_RECORDED, to_plain(payload), AT)
    finally:
        store.close()


# Forks the sync from a small process and prints its exit code, seconds, CPU and peak RSS:
# Linux carries the spawning process's resident size into its child's ru_maxrss across
# the exec, so a sync spawned straight from this process (holding a million codes)
# would report this process's size, not its own.
LAUNCHER = """import os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:])
_, status, use = os.wait4(child.pid, 0)
seconds = time.perf_counter() - started
code = os.waitstatus_to_exitcode(status)
print(code, seconds, use.ru_utime + use.ru_stime, use.ru_maxrss)
"""


def run_sync(port: int, server_pid: int, token: str, out: Path) -> SyncRun:
    """One `robopass sync --owner ORG` process, measured whole."""
    argv = [sys.executable, "-c", LAUNCHER, sys.executable, "-m", "gateway.cli", "sync"]
    argv += ["--quiet", "--out", str(out), "--gateway", f"http://127.0.0.1:{port}", "--owner", ORG]
    env = {**os.environ, "ROBOPASS_TOKEN": token}  # not on the command line: ps shows it
    server_before = _cpu(server_pid)
    done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    server = _cpu(server_pid) - server_before
    *lines, usage = done.stdout.strip().splitlines() or [""]
    code, seconds, cpu, rss_kb = usage.split() if done.returncode == 0 else ("?", 0, 0, 0)
    if code != "0":
        raise RuntimeError(f"sync failed with {code}: {' '.join(lines)}")
    summary = " ".join(lines).split(": ", 1)[-1]
    return SyncRun(summary, float(seconds), float(cpu), int(rss_kb) / 1024, server)


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fleet_sync(db: str, size: int, appends: int) -> FleetSync:
    """Prepare the fleet, then sync it from scratch and after `appends` new events."""
    prepared = prepare(db, size)
    with tempfile.TemporaryDirectory(prefix="robopass-scale-sync-") as tmp:
        data_dir = Path(tmp)
        token = issue_token(CLIENT, data_dir, ISSUER)
        server = ["--db", db, "--issuer", ISSUER, "--data-dir", str(data_dir)]
        out = data_dir / "mirror.db"
        with serving("graphql-policies", server) as served:
            scratch = run_sync(served.port, served.pid, token, out)
            append_maintenance(db, appends)
            incremental = run_sync(served.port, served.pid, token, out)
        mirror = sum(p.stat().st_size for p in data_dir.glob("mirror.db*"))
    return FleetSync(size, prepared, scratch, appends, incremental, mirror)
