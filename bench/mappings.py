"""The UNTP DPP mapping document against the built-in UNTP adapter, on the same documents.

    PYTHONPATH=. python -m bench.mappings [--docs 300] [--seconds 2] [--source synthetic]

Both rows start from canonical plain data (read once from the cn-miit corpus of
`bench.adapters`) and end with the credential as Python data: what differs between them is
only the mapping step, `adapters.untp.encode` against the compiled rules of
`samples/mappings/untp/untp-dpp.mapping.yaml` (`Program.run`, bounds included). Before
measuring, every document's two outputs are compared, and the count of equal ones printed:
a speed of a mapping that gives other output would mean nothing. Rates are per second of
this process's CPU time (one core); the load average is printed with them.

The last two rows run the same document as the gateway serves it, in one capped worker
process of `gateway.workbench.pool` (passports sent as JSON down a pipe, outputs back):
one document a round trip (a single download) and a bulk export's page a round trip. Their
rates are per CPU second of this process and the worker together, so they are the cost on
one core; the wall-clock rates, with the two processes overlapping on two cores, are
printed below the table.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from adapters import untp
from adapters.translate import translate
from bench.adapters import generated, synthetic
from gateway.service.mapdocs import load_mapping
from gateway.web.bulk import BULK_PAGE
from gateway.workbench.pool import WorkerPool

DOCUMENT = Path(__file__).parents[1] / "samples" / "mappings" / "untp" / "untp-dpp.mapping.yaml"


def rate(fn: Callable[[Any], Any], docs: list[Any], seconds: float) -> tuple[float, float]:
    """(docs per CPU second of this process, docs per wall-clock second)."""
    return pooled_rates(fn, [], docs, seconds)


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pooled_rates(run: Callable[[Any], Any], pids: list[int], docs: list[Any], seconds: float):
    """(docs per CPU second of this process and the workers, docs per wall second)."""
    done, wall, cpu = 0, time.perf_counter(), time.process_time()
    workers = sum(_cpu_seconds(pid) for pid in pids)
    while time.perf_counter() - wall < seconds:
        for doc in docs:
            run(doc)
        done += len(docs)
    wall = time.perf_counter() - wall
    used = time.process_time() - cpu + sum(_cpu_seconds(pid) for pid in pids) - workers
    return done / used, done / wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--source", choices=["generated", "synthetic"], default="generated")
    args = parser.parse_args()
    raw = (generated if args.source == "generated" else synthetic)(args.docs, 7)
    plains = [translate(orjson.loads(d), "cn-miit", "canonical").output for d in raw]
    program = load_mapping(DOCUMENT).compiled.forward
    equal = sum(untp.encode(p) == program.run(p) for p in plains)
    gc.collect()
    gc.freeze()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{len(plains)} {args.source} passports; load average {load}")
    print(f"outputs equal to the built-in adapter's: {equal} of {len(plains)}\n")
    pool = WorkerPool({"untp": program}, 256, 1)
    pooled = pool.runners()["untp"].run
    assert all(pooled(p) == program.run(p) for p in plains), "the pool gives the same output"
    pages = [plains[i : i + BULK_PAGE] for i in range(0, len(plains), BULK_PAGE)]
    many = pool.runners()["untp"].run_many
    page_cpu, page_wall = pooled_rates(many, pool.pids(), pages, args.seconds)
    rows = [
        ("built-in adapter (adapters.untp.encode)", *rate(untp.encode, plains, args.seconds)),
        ("mapping document in process", *rate(program.run, plains, args.seconds)),
        (
            "... in a capped worker, one a trip",
            *pooled_rates(pooled, pool.pids(), plains, args.seconds),
        ),
        (
            f"... in a capped worker, {BULK_PAGE} a trip",
            page_cpu * BULK_PAGE,
            page_wall * BULK_PAGE,
        ),
    ]
    pool.close()
    print(f"| {'canonical -> UNTP DPP':<40} | {'docs/CPU-s':>10} | {'docs/wall-s':>11} |")
    print(f"| {'-' * 40} | {'-' * 10} | {'-' * 11} |")
    for label, cpu, wall in rows:
        print(f"| {label:<40} | {cpu:>10,.0f} | {wall:>11,.0f} |")
    print(f"\nmapping document / built-in (CPU): {rows[1][1] / rows[0][1]:.3f}")
    print(
        f"capped worker / in process (CPU): {rows[2][1] / rows[1][1]:.3f} one a trip, "
        f"{rows[3][1] / rows[1][1]:.3f} a page a trip"
    )


if __name__ == "__main__":
    main()
