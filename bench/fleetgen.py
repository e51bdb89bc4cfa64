"""Benchmark: the synthetic fleet generator before and after, side by side in one run.

"Before" is `gateway/synthetic/fleet.py` as it was at `--before` (a git revision, loaded
from git into a module of its own); "after" is the working tree. Both write the same
robots (seed 1, CN) as the NDJSON lines of a fleet file, in turns, `--rounds` times, in
this one process; the table gives the best round of each (CPU time, user+sys, per robot,
and wall robots/s) and checks that both wrote the same content (salts are fresh on every
run by design, so hashes differ; tests/gateway/synthetic/test_pinned.py pins the bytes).
Then `robopass registry fleet`'s writer (`fleet_lines`) with 1 and with `--workers`
processes: wall robots/s, the way a million-robot file or pipe is written.

Usage: `python -m bench.fleetgen [--robots 500] [--rounds 3] [--before REF]
[--stream-robots 2000] [--workers N]`. Not in CI.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator
from multiprocessing import forkserver
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.cli.registry.fleet import fleet_lines
from gateway.node.records import event_json
from gateway.synthetic import fleet as after
from schema.events import Event

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "08ac80a"  # the generator before issue 15's speed-up
SALTED = ("prevHash", "hash", "salt", "commitment")


def load_before(revision: str) -> types.ModuleType:
    """The generator module at `revision`, imported under a name of its own."""
    source = subprocess.run(
        ["git", "show", f"{revision}:gateway/synthetic/fleet.py"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    module = types.ModuleType("fleet_before")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:gateway/synthetic/fleet.py", "exec"), module.__dict__)
    return module


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def workers_cpu() -> float:
    """CPU seconds of the pool workers that have ended: they are the fork server's children,
    not ours, and it waits for them, so they count in its cutime and cstime."""
    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def lines(logs: Iterator[list[Event]]) -> list[bytes]:
    return [
        orjson.dumps({"code": log[0].code, "events": [event_json(e) for e in log]}) for log in logs
    ]


def timed(
    generate: Callable[[int], Iterator[list[Event]]], robots: int
) -> tuple[float, float, list[bytes]]:
    """(CPU s, wall s, lines) of writing `robots` robots."""
    c, w = cpu(), time.perf_counter()
    out = lines(generate(robots))
    return cpu() - c, time.perf_counter() - w, out


def content(out: list[bytes]) -> list[Any]:
    docs = [orjson.loads(line) for line in out]
    for doc in docs:
        for event in doc["events"]:
            for key in SALTED:
                event.pop(key)
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robots", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", default=BEFORE, help="git revision of the old generator")
    parser.add_argument("--stream-robots", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    before = load_before(args.before)
    generators = {
        f"before ({args.before})": lambda n: before.synthetic_fleet(n, seed=1),
        "after": lambda n: after.synthetic_fleet(n, seed=1),
    }
    print(f"{platform.machine()}, {os.cpu_count()} cores, CPython {platform.python_version()}")
    print(f"load average at start: {os.getloadavg()}")
    best: dict[str, tuple[float, float]] = {}
    outputs: dict[str, list[bytes]] = {}
    for _ in range(args.rounds):
        for name, generate in generators.items():
            spent, wall, out = timed(generate, args.robots)
            outputs[name] = out
            old = best.get(name, (float("inf"), float("inf")))
            best[name] = (min(old[0], spent), min(old[1], wall))
    [old_out, new_out] = outputs.values()
    same = content(old_out) == content(new_out)
    events = sum(line.count(b'"sequence":') for line in new_out)
    size = sum(len(line) + 1 for line in new_out)
    print(
        f"\n{args.robots} robots (seed 1, CN), {events / args.robots:.1f} events and"
        f" {size / args.robots / 1024:.1f} KB of NDJSON per robot; best of {args.rounds} rounds;"
        f" same content before and after: {same}\n"
    )
    print("| generator | CPU ms per robot | robots per CPU second | wall robots/s |")
    print("| --- | ---: | ---: | ---: |")
    for name, (spent, wall) in best.items():
        print(
            f"| {name} | {spent / args.robots * 1000:.3f} | {args.robots / spent:,.0f} |"
            f" {args.robots / wall:,.0f} |"
        )
    (old_cpu, _), (new_cpu, _) = best.values()
    print(f"\nCPU per robot, before / after: **{old_cpu / new_cpu:.2f}x**")

    print(f"\n`registry fleet`'s writer, {args.stream_robots} robots (seed 1, CN):\n")
    print(
        "| workers | wall s | robots/s | CPU s, writing process | CPU s, workers | CPU ms/robot |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for workers in sorted({1, args.workers}):
        c, w, written, k = cpu(), time.perf_counter(), 0, workers_cpu()
        for chunk in fleet_lines(
            (1, "CN", "cn-heis", after.NOW), 0, args.stream_robots, workers=workers
        ):
            written += chunk.count(b"\n")
        wall, spent, kids = time.perf_counter() - w, cpu() - c, workers_cpu() - k
        assert written == args.stream_robots
        per_robot = (spent + kids) / args.stream_robots * 1000
        print(
            f"| {workers} | {wall:.1f} | {args.stream_robots / wall:,.0f} | {spent:.1f} |"
            f" {kids:.1f} | {per_robot:.3f} |"
        )
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
