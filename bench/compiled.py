"""Benchmark: strawberry vs compiled execution, per query shape, in one run.

Each shape is a query the compiler covers: single robots, and a `robots(first:
100)` page of full passports (every passport field the compiler covers,
written out from the schema). Both executors answer it for the same caller
(the `de-msa` authority, demo policies, masks computed per request) over the
same SQLite store, many robots round robin, in alternating batches so the
machine's noise falls on both alike. The answers are compared byte for byte as
they run. Reported: operations per second, microseconds per resolved field
(wall clock, and CPU time of this process, which a shared machine's load
inflates less), and the ratio. Usage: `python -m bench.compiled` (`--seconds`
per shape, `--robots`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import orjson
from graphql import get_named_type, is_non_null_type, is_object_type
from strawberry.http import process_result

from bench.run import QUERY
from gateway.endpoint.compiled import compile_plan, run_plan
from gateway.endpoint.options import GraphQLOptions
from gateway.endpoint.view import passport_schema
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from policies import PolicySet, Principal, Role
from schema.source import RobotFilter

MSA = Principal(
    issuer="http://127.0.0.1:9/bench-issuer",
    subject="de-msa",
    role=Role.MARKET_SURVEILLANCE,
    client_id="de-msa",
    organisation="Bundesnetzagentur",
    jurisdiction="DE",
    purposes=frozenset({"market_surveillance"}),
)
SHAPES = {
    "small (4 fields)": (
        "query ($code: RobotCode!) { robot(code: $code) { code manufacturer { name } "
        "model { designation } } }"
    ),
    "lookup (bench.run, 45 fields)": QUERY,
    "fragments and aliases": """query ($code: RobotCode!) { r: robot(code: $code) {
      ...Ident m: manufacturer { ...Maker } maintenance { at kind component performedBy }
      ownership { start end ownerKind owner jurisdiction } incidents { at severity findings } }
    } fragment Ident on Robot { code version identity { status homeRegistry registeredAt } }
    fragment Maker on Manufacturer { name nameLocal registrationId country }""",
}
COVERED_NOT = ("history", "export", "integrity", "conditionHistory", "codeSegments", "campaigns")
"""Robot fields with their own resolvers, which plans leave to strawberry."""


def full_selection(type_name: str, depth: int = 0) -> str:
    """Every field of `type_name` the compiler covers, nested objects written out."""
    core = passport_schema(GraphQLOptions())._schema
    parent = core.type_map[type_name]
    parts = []
    for name, field in parent.fields.items():  # type: ignore[attr-defined]  # an object type
        if name in COVERED_NOT or any(is_non_null_type(a.type) for a in field.args.values()):
            continue
        inner = get_named_type(field.type)
        parts.append(
            f"{name} {{ {full_selection(inner.name, depth + 1)} }}"
            if is_object_type(inner)
            else name
        )
    return " ".join(parts)


PAGE = (
    "query ($after: String) { robots(first: 100, after: $after) { totalCount"
    " pageInfo { hasNextPage endCursor } edges { cursor node { "
    + full_selection("Robot")
    + " } } } }"
)
BATCH = 20
PAGE_BATCH = 2
ROUNDS = 5
"""At least this many batches of each executor, however long they take: on a loaded
machine a few seconds hold one batch of pages, too few to read a figure from."""


def fields_of(data: object) -> int:
    """Resolved fields in an answer: every key of every object."""
    if isinstance(data, dict):
        return len(data) + sum(fields_of(v) for v in data.values())
    if isinstance(data, list):
        return sum(fields_of(v) for v in data)
    return 0


async def measure(
    services: Services, variables: list[dict], query: str, seconds: float, size: int
) -> dict:
    """Both executors over `variables` round robin, `size` operations a batch each."""
    schema = passport_schema(GraphQLOptions())
    plan = compile_plan(schema, query, None)
    assert plan is not None, query
    spent = {"strawberry": 0.0, "compiled": 0.0}
    cpu = dict.fromkeys(spent, 0.0)
    done = dict.fromkeys(spent, 0)
    fields = 0
    turn = 0
    until = time.perf_counter() + seconds
    rounds = 0
    while time.perf_counter() < until or rounds < ROUNDS:
        rounds += 1
        batch = [variables[(turn + i) % len(variables)] for i in range(size)]
        turn += size
        answers: dict[str, list[bytes]] = {}
        for name in spent:
            out = answers[name] = []
            gc.collect()  # the other executor's garbage is not charged to this one
            start, started = time.perf_counter(), time.process_time()
            for given in batch:
                context = services.context(MSA)
                if name == "strawberry":
                    result = await schema.execute(
                        query, variable_values=given, context_value=context
                    )
                else:
                    planned = await run_plan(plan, schema, context, given)
                    assert planned is not None, "the plan declined"
                    result = planned
                assert not (result.errors and result.data is None), result.errors
                out.append(orjson.dumps(process_result(result)))
            spent[name] += time.perf_counter() - start
            cpu[name] += time.process_time() - started
            done[name] += len(batch)
        assert answers["strawberry"] == answers["compiled"], "the executors disagree"
        fields = fields_of(orjson.loads(answers["compiled"][-1])["data"])
    return {
        n: {"ops_per_s": done[n] / spent[n], "cpu_us": 1e6 * cpu[n] / done[n], "fields": fields}
        for n in spent
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--robots", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "bench.db")
        store.import_histories(synthetic_fleet(args.robots, seed=1))
        codes = [{"code": code} for code in store.codes()]
        services = Services(LocalSource(store), PolicySet.demo())
        results = {
            shape: asyncio.run(measure(services, codes, query, args.seconds, BATCH))
            for shape, query in SHAPES.items()
        }
        # pages of 100 from different starts, so no two in a row are the same
        whole = asyncio.run(services.source.robots(RobotFilter(), 100, None)).cursors
        starts = [{"after": None}] + [{"after": c} for c in whole[: max(0, args.robots - 100)]]
        results["robots(first: 100), full passports"] = asyncio.run(
            measure(services, starts, PAGE, args.seconds, PAGE_BATCH)
        )
        store.close()
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores, date {date.today()}, "
        f"load average {os.getloadavg()[0]:.1f}; {args.robots} robots, {args.seconds}s per shape"
    )
    head = f"{'shape':<38}{'fields':>7}{'strawberry/s':>14}{'compiled/s':>12}{'ratio':>7}"
    print(head + f"{'us/field s':>12}{'us/field c':>12}{'cpu us/f s':>12}{'cpu us/f c':>12}")
    for shape, r in results.items():
        s, c = r["strawberry"]["ops_per_s"], r["compiled"]["ops_per_s"]
        n = r["compiled"]["fields"]
        print(
            f"{shape:<38}{n:>7}{s:>14.1f}{c:>12.1f}{c / s:>7.2f}"
            f"{1e6 / s / n:>12.1f}{1e6 / c / n:>12.1f}"
            f"{r['strawberry']['cpu_us'] / n:>12.1f}{r['compiled']['cpu_us'] / n:>12.1f}"
        )
    print("answers compared byte for byte on every operation: identical")


if __name__ == "__main__":
    main()
