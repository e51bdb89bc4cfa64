"""Documents per second through the adapters, next to the orjson floor of the same documents.

    PYTHONPATH=. python -m bench.adapters [--docs 300] [--seconds 2]

Each pipeline starts from cn-miit JSON bytes and ends with JSON bytes, so it is comparable
with the floor: orjson loads + dumps of the same cn-miit documents, measured in the same run.
"With validation" adds the input's JSON Schema check and the output's own check (aas-core3.0
verification for AAS, robopass's UNTP schema).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import orjson
from hypothesis import HealthCheck, Phase, given, settings

from adapters import aas, cn_miit, untp
from tests.strategies import passports


def generate(n: int, seed: int) -> list[bytes]:
    docs: list[bytes] = []

    @given(passports())
    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def collect(passport):
        docs.append(orjson.dumps(cn_miit.from_canonical(passport)))

    random.seed(seed)
    collect()
    return docs


def rate(fn: Callable[[bytes], bytes], docs: list[bytes], seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for doc in docs:
            fn(doc)
        done += len(docs)
    return done / (time.perf_counter() - started)


def floor(doc: bytes) -> bytes:
    return orjson.dumps(orjson.loads(doc))


def to_aas(doc: bytes) -> bytes:
    return orjson.dumps(aas.from_canonical(cn_miit.to_canonical(orjson.loads(doc), check=False)))


def to_aas_checked(doc: bytes) -> bytes:
    env = aas.from_canonical(cn_miit.to_canonical(orjson.loads(doc)))
    aas.validate(env)
    return orjson.dumps(env)


def to_untp(doc: bytes) -> bytes:
    return orjson.dumps(untp.from_canonical(cn_miit.to_canonical(orjson.loads(doc), check=False)))


def to_untp_checked(doc: bytes) -> bytes:
    credential = untp.from_canonical(cn_miit.to_canonical(orjson.loads(doc)))
    untp.validate(credential)
    return orjson.dumps(credential)


def to_aas_plain(doc: bytes) -> bytes:
    """Skips the Passport dataclasses: cn-miit -> canonical plain -> AAS."""
    return orjson.dumps(aas.encode(cn_miit.decode(orjson.loads(doc))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    docs = generate(args.docs, 7)
    size = sum(map(len, docs)) / len(docs)
    print(f"{len(docs)} generated cn-miit documents, mean {size:.0f} bytes\n")
    base = rate(floor, docs, args.seconds)
    rows = [("orjson loads+dumps (floor)", base)]
    for label, fn in [
        ("cn-miit -> canonical -> AAS", to_aas),
        ("cn-miit -> canonical plain -> AAS", to_aas_plain),
        ("cn-miit -> canonical -> UNTP", to_untp),
        ("cn-miit -> canonical -> AAS, validated", to_aas_checked),
        ("cn-miit -> canonical -> UNTP, validated", to_untp_checked),
    ]:
        rows.append((label, rate(fn, docs, args.seconds)))
    print(f"| {'pipeline':<42} | {'docs/s':>9} | {'x floor':>7} |")
    print(f"| {'-' * 42} | {'-' * 9} | {'-' * 7} |")
    for label, value in rows:
        print(f"| {label:<42} | {value:>9,.0f} | {value / base:>7.3f} |")


if __name__ == "__main__":
    main()
