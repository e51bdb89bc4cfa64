"""Benchmark: `robopass registry verify` of a whole store, one code base against another.

Runs the command as a real process on an existing store (built beforehand, e.g.
`robopass registry fleet --robots 20000 --seed 1 | robopass registry import -
--db URL`), alternating the variants round by round: `before` is the command of
another source tree (`--before DIR`, e.g. `git archive main | tar -x -C DIR`),
run from that folder; `after-wN` is this tree's with `--workers N`. For each
run: wall time, robots/s, the CPU seconds of the command and every process it
started (this process is their subreaper, so the forkserver's workers are
counted when they are reaped) and, on PostgreSQL, of the server's backends
serving it (sampled from /proc by application_name every 0.2 s: the server is
on this machine). The machine is shared, so the CPU figures are the ones to
compare; from them, the time for a million robots on two idle cores.

Not in CI. Usage: `python -m bench.verify --db URL [--before DIR] [--workers 1,2]
[--rounds 2]`.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import machine_and_load
from gateway.store.open import is_postgres

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
PR_SET_CHILD_SUBREAPER = 36
VERIFIED = re.compile(r"^(\d+) of (\d+) chains verified$", re.MULTILINE)


@dataclass
class Run:
    wall: float
    robots: int
    client_cpu: float
    server_cpu: float


def with_application(url: str, name: str) -> str:
    if not is_postgres(url):
        return url
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


class BackendSampler(threading.Thread):
    """The largest CPU time seen of each server backend serving `application`."""

    def __init__(self, url: str, application: str) -> None:
        super().__init__(daemon=True)
        self.url, self.application = url, application
        self.seen: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.done.is_set():
                pids = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                    (self.application,),
                ).fetchall()
                for (pid,) in pids:
                    try:
                        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    except FileNotFoundError:
                        continue
                    cpu = (int(fields[11]) + int(fields[12])) / TICKS
                    self.seen[pid] = max(self.seen.get(pid, 0.0), cpu)
                time.sleep(0.2)

    def total(self) -> float:
        self.done.set()
        self.join()
        return sum(self.seen.values())


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def reap_orphans() -> None:
    """Wait for the descendants the command left (its fork server): their CPU then counts."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def measure(variant: str, db: str, before: Path | None) -> Run:
    name = f"bench-verify-{os.getpid()}-{variant}"
    url = with_application(db, name)
    if variant == "before":
        assert before is not None
        command, cwd = ["registry", "verify", "--db", url], before
    else:
        workers = variant.removeprefix("after-w")
        command = ["registry", "verify", "--db", url, "--workers", workers, "--quiet"]
        cwd = ROOT
    sampler = BackendSampler(db, name) if is_postgres(db) else None
    if sampler:
        sampler.start()
    cpu, started = children_cpu(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    reap_orphans()
    client = children_cpu() - cpu
    server = sampler.total() if sampler else 0.0
    found = VERIFIED.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{variant} failed ({done.returncode}): {done.stdout[-500:]}")
    return Run(wall, int(found.group(2)), client, server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="an existing store: sqlite:///PATH or URL")
    parser.add_argument("--before", type=Path, help="a source tree whose verify to compare")
    parser.add_argument("--workers", default="1,2", help="after's --workers, comma-separated")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    variants = ([] if args.before is None else ["before"]) + [
        f"after-w{n}" for n in args.workers.split(",")
    ]
    load = os.getloadavg()
    runs: dict[str, list[Run]] = {v: [] for v in variants}
    for round_ in range(args.rounds):
        for variant in variants:
            run = measure(variant, args.db, args.before)
            runs[variant].append(run)
            print(
                f"round {round_ + 1} {variant}: {run.wall:.1f} s wall, {run.robots} robots,"
                f" CPU {run.client_cpu:.1f} s command + {run.server_cpu:.1f} s server",
                file=sys.stderr,
            )
    print(machine_and_load(load))
    print(f"store: {args.db.split('?')[0]}, rounds: {args.rounds} (medians)")
    print(
        "| variant | wall s | robots/s | CPU s command | CPU s server | CPU ms/robot"
        " | 1M robots at this rate | 1M on 2 idle cores (CPU) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for variant, done in runs.items():
        wall = statistics.median(r.wall for r in done)
        robots = done[0].robots
        client = statistics.median(r.client_cpu for r in done)
        server = statistics.median(r.server_cpu for r in done)
        per_robot = (client + server) / robots
        parallel = 1 if variant == "before" else min(2, int(variant.removeprefix("after-w")))
        # A checking process and its backend take turns (query, then check), so each
        # pair is one core's worth: the floor is the CPU over the pairs running at once.
        floor = (client + server) / parallel / robots
        print(
            f"| {variant} | {wall:.1f} | {robots / wall:.0f} | {client:.1f} | {server:.1f}"
            f" | {1000 * per_robot:.2f} | {_hours(1e6 * wall / robots)}"
            f" | {_hours(1e6 * floor)} |"
        )


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


if __name__ == "__main__":
    main()
