"""The UNTP DPP mapping document against the built-in UNTP adapter, on the same documents.

    PYTHONPATH=. python -m bench.mappings [--docs 300] [--seconds 2] [--source synthetic]

Both rows start from canonical plain data (read once from the cn-miit corpus of
`bench.adapters`) and end with the credential as Python data: what differs between them is
only the mapping step, `adapters.untp.encode` against the compiled rules of
`samples/mappings/untp/untp-dpp.mapping.yaml` (`Program.run`, bounds included). Before
measuring, every document's two outputs are compared, and the count of equal ones printed:
a speed of a mapping that gives other output would mean nothing. Rates are per second of
this process's CPU time (one core); the load average is printed with them.
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

DOCUMENT = Path(__file__).parents[1] / "samples" / "mappings" / "untp" / "untp-dpp.mapping.yaml"


def rate(fn: Callable[[Any], Any], docs: list[Any], seconds: float) -> float:
    done, started = 0, time.process_time()
    while time.process_time() - started < seconds:
        for doc in docs:
            fn(doc)
        done += len(docs)
    return done / (time.process_time() - started)


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
    rows = [
        ("built-in adapter (adapters.untp.encode)", rate(untp.encode, plains, args.seconds)),
        ("mapping document (jsonatapy)", rate(program.run, plains, args.seconds)),
    ]
    print(f"| {'canonical -> UNTP DPP':<40} | {'docs/s':>9} |")
    print(f"| {'-' * 40} | {'-' * 9} |")
    for label, value in rows:
        print(f"| {label:<40} | {value:>9,.0f} |")
    print(f"\nmapping document / built-in: {rows[1][1] / rows[0][1]:.3f}")


if __name__ == "__main__":
    main()
