"""Benchmark: condition samples ingested per second, SQLite and PostgreSQL, in one run.

Four ways in, each on a freshly seeded database, each against the same floor:
- floor: the samples' rows inserted with `executemany`, one transaction per
  batch, into a table shaped like `condition_samples` (what the database
  alone costs);
- store: `Store.ingest_conditions` (validate, digest, chain one event per
  batch, update the passport, insert the rows, one transaction);
- GraphQL: the `recordConditions` mutation through the gateway in process
  (HTTP over ASGI, a real RS256 token, the demo policies and an audit log);
- NDJSON: `POST /robots:conditions` over loopback HTTP to a registry node
  process (`robopass registry serve`), with a service token from the
  development authorization server in another process.
Each batch holds one robot's samples (two joints' wear each), robots in turn.
Usage: `python -m bench.ingest` (`--seconds`, `--batch`, `--robots`, `--postgres URL`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date, timedelta
from pathlib import Path

import httpx
import orjson
from joserfc import jwt
from joserfc.jwk import RSAKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, free_port
from bench.store import postgres_schema, sqlite_file
from gateway.store import Store
from gateway.store.open import open_store
from gateway.store.telemetry import INSERT_SAMPLE, micros, plain_sample
from gateway.synthetic.seeding import seed
from schema.passport import ConditionSnapshot, JointWear

FLOOR_TABLE = "CREATE TABLE floor_samples AS SELECT * FROM condition_samples WHERE 1 = 0"
FLOOR_KEY = "CREATE UNIQUE INDEX floor_samples_key ON floor_samples (code, at)"


class Clock:
    """Per robot: the next sample's time and counters, always after the last one stored."""

    def __init__(self, store: Store) -> None:
        self.state = {}
        for code in store.codes():
            passport = store.passport(code)
            last = passport.condition
            if last is None or passport.identity.status.value != "ACTIVE":
                continue
            self.state[code] = [
                last.at + timedelta(seconds=1),
                last.operating_hours,
                last.charge_cycles,
                last.abnormal_stress_events,
            ]
        self.codes = list(self.state)
        self.turn = 0

    def batch(self, size: int) -> tuple[str, list[ConditionSnapshot]]:
        code = self.codes[self.turn % len(self.codes)]
        self.turn += 1
        at, hours, cycles, stress = self.state[code]
        samples = []
        for i in range(size):
            at += timedelta(milliseconds=1)
            hours += 0.0001
            wear = [JointWear("left_knee", 10.0 + i * 1e-6), JointWear("right_knee", 9.0)]
            samples.append(ConditionSnapshot(at, hours, 91.5, cycles, 0.31, stress, wear))
        self.state[code] = [at, hours, cycles, stress]
        return code, samples


def seeded(db: str, robots: int) -> Store:
    store = open_store(db)
    seed(store, robots, seed_value=1, country="CN", quiet=True)
    return store


def timed(seconds: float, steps: list[Callable[[], int]]) -> float:
    """Run prepared `steps` (each returns samples done) until `seconds` pass or none is left.

    Inputs are built before the clock starts, so a way in is not charged for
    making up its samples.
    """
    done, start = 0, time.perf_counter()
    for step in steps:
        done += step()
        if time.perf_counter() - start >= seconds:
            break
    return done / (time.perf_counter() - start)


def prepared(store: Store, args: argparse.Namespace) -> list[tuple[str, list[ConditionSnapshot]]]:
    clock = Clock(store)
    return [clock.batch(args.batch) for _ in range(args.batches)]


def floor(db: str, args: argparse.Namespace) -> float:
    store = seeded(db, args.robots)
    with store._transaction() as conn:
        conn.execute(FLOOR_TABLE)
        conn.execute(FLOOR_KEY)
    sql = INSERT_SAMPLE.replace("condition_samples", "floor_samples")

    def step(rows: list[tuple]) -> Callable[[], int]:
        def insert() -> int:
            with store._transaction() as conn:
                conn.executemany(sql, rows)
            return len(rows)

        return insert

    batches = [
        [
            (code, 1, micros(s.at), s.operating_hours, s.battery_health_pct, s.charge_cycles,
             s.movement_precision_mm, s.abnormal_stress_events,
             orjson.dumps(plain_sample(s)["joint_wear"]).decode())
            for s in samples
        ]
        for code, samples in prepared(store, args)
    ]  # fmt: skip
    try:
        return timed(args.seconds, [step(rows) for rows in batches])
    finally:
        store.close()


def direct(db: str, args: argparse.Namespace) -> float:
    store = seeded(db, args.robots)

    def step(i: int, code: str, samples: list[ConditionSnapshot]) -> Callable[[], int]:
        def ingest() -> int:
            store.ingest_conditions({code: samples}, idempotency_key=f"direct-{i}")
            return len(samples)

        return ingest

    steps = [step(i, code, samples) for i, (code, samples) in enumerate(prepared(store, args))]
    try:
        rate = timed(args.seconds, steps)
        assert all(store.verify_chain(c).verified for c in store.codes())
        return rate
    finally:
        store.close()


def graphql(db: str, args: argparse.Namespace) -> float:
    from gateway.service.local import LocalSource
    from gateway.service.services import Services
    from gateway.web.app import create_app
    from policies import AuditLog, PolicySet, TokenVerifier, TrustedIssuer

    store = seeded(db, args.robots)
    batches = prepared(store, args)
    owners = {c: store.passport(c).current_owner.owner_id for c, _ in batches}
    tokens = {c: _owner_token(owner) for c, owner in owners.items()}
    issuer = TrustedIssuer(
        ISSUER, "robopass", frozenset({"DE", "CN"}), jwks={"keys": [KEY.as_dict(private=False)]}
    )
    with tempfile.TemporaryDirectory() as tmp:
        audit = AuditLog(Path(tmp) / "audit.db")
        source = LocalSource(store)
        app = create_app(
            Services(
                source,
                PolicySet.demo(),
                verifier=TokenVerifier([issuer]),
                audit=audit,
                writer=source,
            )
        )
        query = """mutation ($s: [ConditionSampleInput!]!, $k: String!) {
          recordConditions(samples: $s, idempotencyKey: $k) { samples events { sequence } } }"""

        bodies = [
            (code, len(samples), orjson.dumps(
                {"query": query, "variables": {"s": _inputs(code, samples), "k": f"g-{i}"}}
            ))
            for i, (code, samples) in enumerate(batches)
        ]  # fmt: skip

        async def run() -> float:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                done, start = 0, time.perf_counter()
                for code, count, body in bodies:
                    response = await client.post(
                        "/graphql",
                        content=body,
                        headers={
                            "authorization": f"Bearer {tokens[code]}",
                            "content-type": "application/json",
                        },
                    )
                    answer = response.json()
                    assert "errors" not in answer, answer["errors"]
                    done += count
                    if time.perf_counter() - start >= args.seconds:
                        break
                return done / (time.perf_counter() - start)

        try:
            return asyncio.run(run())
        finally:
            audit.close()
            store.close()


ISSUER = "https://as.bench.example"
KEY = RSAKey.generate_key(2048, parameters={"kid": "bench-ingest"}, private=True)


def _owner_token(owner: str) -> str:
    """An RS256 access token of the robot's owner (its party identifier) with the write
    scope, as an issuer signs it."""
    now = int(time.time())
    claims = {
        "iss": ISSUER, "sub": f"owner:{owner}", "aud": "robopass", "iat": now - 5,
        "exp": now + 3600, "jti": f"bench-{owner}", "scope": "robopass:read robopass:write",
        "client_id": "bench", "jurisdiction": "DE", "role": "owner", "org_id": owner,
    }  # fmt: skip
    return jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": KEY.kid}, claims, KEY)


def _inputs(code: str, samples: list[ConditionSnapshot]) -> list[dict]:
    out = []
    for s in samples:
        plain = plain_sample(s)
        out.append(
            {
                "code": code,
                "at": plain["at"],
                "operatingHours": s.operating_hours,
                "batteryHealthPct": s.battery_health_pct,
                "chargeCycles": s.charge_cycles,
                "movementPrecisionMm": s.movement_precision_mm,
                "abnormalStressEvents": s.abnormal_stress_events,
                "jointWear": [{"joint": w.joint, "wearPct": w.wear_pct} for w in s.joint_wear],
            }
        )
    return out


@contextmanager
def node_process(db: str, data_dir: Path) -> Iterator[tuple[str, str]]:
    """An authorization server and a registry node on loopback: (node URL, service token)."""
    auth_port, node_port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{auth_port}"
    cli = [sys.executable, "-m", "gateway.cli"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": ROOT}
    auth = subprocess.Popen(
        [*cli, "auth-server", "--port", str(auth_port), "--data-dir", str(data_dir)], **quiet
    )
    node = subprocess.Popen(
        [*cli, "registry", "serve", "--format", "cn-miit", "--db", db, "--port", str(node_port),
         "--trust-issuer", issuer, "--data-dir", str(data_dir), "--log-level", "warning"],
        **quiet,
    )  # fmt: skip
    base = f"http://127.0.0.1:{node_port}"
    try:
        _wait(f"{issuer}/.well-known/oauth-authorization-server")
        _wait(f"{base}/healthz")
        answer = httpx.post(
            f"{issuer}/token",
            data={"grant_type": "client_credentials"},
            auth=("robopass-gateway", "dev-secret-robopass-gateway"),
        )
        yield base, answer.json()["access_token"]
    finally:
        for process in (node, auth):
            process.terminate()
            process.wait()


def _wait(url: str) -> None:
    for _ in range(300):
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def ndjson(db: str, args: argparse.Namespace) -> float:
    store = seeded(db, args.robots)
    bodies = [
        (len(samples), b"\n".join(orjson.dumps({"code": code, **plain_sample(s)}) for s in samples))
        for code, samples in prepared(store, args)
    ]
    with tempfile.TemporaryDirectory() as tmp, node_process(db, Path(tmp)) as (base, bearer):
        headers = {"authorization": f"Bearer {bearer}", "content-type": "application/x-ndjson"}
        with httpx.Client(base_url=base, timeout=30) as client:

            def step(i: int, count: int, body: bytes) -> Callable[[], int]:
                def send() -> int:
                    response = client.post(
                        "/robots:conditions",
                        content=body,
                        headers={**headers, "idempotency-key": f"nd-{i}"},
                    )
                    assert response.status_code == 201, response.text
                    return count

                return send

            rate = timed(args.seconds, [step(i, *b) for i, b in enumerate(bodies)])
    assert all(store.verify_chain(c).verified for c in store.codes())
    store.close()
    return rate


def measure(databases: Callable[[], AbstractContextManager[str]], args: argparse.Namespace) -> dict:
    results = {}
    for name, way in (
        ("floor", floor),
        ("store", direct),
        ("graphql", graphql),
        ("ndjson", ndjson),
    ):
        with databases() as db:
            results[name] = way(db, args)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=1000, help="samples per request")
    parser.add_argument("--robots", type=int, default=20)
    parser.add_argument(
        "--batches",
        type=int,
        default=150,
        help="batches prepared per way (stops early at --seconds)",
    )
    parser.add_argument("--postgres", default="postgresql://127.0.0.1:5432/test")
    args = parser.parse_args()
    results = {
        "SQLite": measure(sqlite_file, args),
        "PostgreSQL": measure(lambda: postgres_schema(args.postgres), args),
    }
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, date {date.today()}, {args.robots} robots, "
        f"{args.batch} samples per batch, {args.seconds}s per measurement, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'database':<12}{'way in':<44}{'samples/s':>11}{'/ floor':>9}")
    labels = {
        "floor": "executemany insert (floor)",
        "store": "Store.ingest_conditions",
        "graphql": "recordConditions, gateway in process",
        "ndjson": "POST /robots:conditions, node over HTTP",
    }
    for db, r in results.items():
        for key, label in labels.items():
            print(f"{db:<12}{label:<44}{r[key]:>11.0f}{r[key] / r['floor']:>9.2f}")


if __name__ == "__main__":
    main()
