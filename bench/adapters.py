"""Documents per second through the adapters, next to the orjson floor of the same documents.

    PYTHONPATH=. python -m bench.adapters [--docs 300] [--seconds 2]

Each pipeline starts from cn-miit JSON bytes and ends with JSON bytes, so it is comparable
with the floor: orjson loads + dumps of the same cn-miit documents, measured in the same run.
The pipelines are `adapters.translate.translate` (canonical plain data in the middle, loss
report included); "with validation" adds the input's JSON Schema check, the canonical check
(decoding into the Passport dataclasses) and the output's own check (aas-core3.0
verification for AAS, robopass's UNTP schema). The last row goes through the dataclasses
explicitly (`to_canonical` / `from_canonical`), as a consumer of `Passport` objects would.

Rates are per second of this process's CPU time (one core), so other processes on the
machine slow the run down less than they would a wall-clock rate; the load average is
printed with the figures. The set-up's objects are frozen out of garbage collection
(`gc.freeze()`) before measuring, as a long-running server would do after start-up.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import time
from collections.abc import Callable

import orjson
from hypothesis import HealthCheck, Phase, given, settings

from adapters import aas, cn_miit
from adapters.translate import translate
from tests.strategies import passports


def generate(n: int, seed: int) -> list[bytes]:
    docs: list[bytes] = []

    @given(passports())
    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def collect(passport):
        docs.append(orjson.dumps(cn_miit.from_canonical(passport)))

    random.seed(seed)
    collect()
    return docs


def rate(fn: Callable[[bytes], bytes], docs: list[bytes], seconds: float) -> float:
    done, started = 0, time.process_time()
    while time.process_time() - started < seconds:
        for doc in docs:
            fn(doc)
        done += len(docs)
    return done / (time.process_time() - started)


def floor(doc: bytes) -> bytes:
    return orjson.dumps(orjson.loads(doc))


def pipeline(target: str, validate: bool) -> Callable[[bytes], bytes]:
    def run(doc: bytes) -> bytes:
        return orjson.dumps(
            translate(orjson.loads(doc), "cn-miit", target, validate=validate).output
        )

    return run


def via_dataclasses(doc: bytes) -> bytes:
    """cn-miit -> Passport dataclasses -> AAS, without validation."""
    return orjson.dumps(aas.from_canonical(cn_miit.to_canonical(orjson.loads(doc), check=False)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    docs = generate(args.docs, 7)
    # What a server does once started: the collector stops re-scanning the objects the
    # set-up left (hypothesis, the documents), which would otherwise tax every pipeline.
    gc.collect()
    gc.freeze()
    size = sum(map(len, docs)) / len(docs)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{len(docs)} generated cn-miit documents, mean {size:.0f} bytes; load average {load}\n")
    base = rate(floor, docs, args.seconds)
    rows = [("orjson loads+dumps (floor)", base)]
    for label, fn in [
        ("cn-miit -> canonical -> AAS", pipeline("aas", False)),
        ("cn-miit -> canonical -> UNTP", pipeline("untp-dpp", False)),
        ("cn-miit -> canonical -> AAS, validated", pipeline("aas", True)),
        ("cn-miit -> canonical -> UNTP, validated", pipeline("untp-dpp", True)),
        ("cn-miit -> Passport -> AAS (dataclasses)", via_dataclasses),
    ]:
        rows.append((label, rate(fn, docs, args.seconds)))
    print(f"| {'pipeline':<42} | {'docs/s':>9} | {'x floor':>7} |")
    print(f"| {'-' * 42} | {'-' * 9} | {'-' * 7} |")
    for label, value in rows:
        print(f"| {label:<42} | {value:>9,.0f} | {value / base:>7.3f} |")


if __name__ == "__main__":
    main()
