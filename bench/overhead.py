"""The cost of policies, like for like (issue 4): one 100-robot query per party, on vs off.

Usage: `python -m bench.overhead [--rounds 4] [--seconds 8] [--connections 2]`.

Two servers run side by side over the same registry file: the demo policy set
with token verification, and `policy=None`. Each party (anonymous, buyer,
fleet owner, German market surveillance) sends the same query text to both,
with its token to the policy server and without one to the other, in
interleaved rounds whose order alternates, so drift in machine load falls on
both sides alike. Two queries: `mixed` (fields some parties may not see:
denied fields come back null with an error each, so answers differ in size)
and `public` (only fields every party may see: answers of equal size).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.harness import load, serving
from gateway.store import EventRejected, SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from policies.authserver import issue_token, load_clients
from schema.codec import to_plain
from schema.events import EventType, OwnershipTransfer
from schema.passport import OwnerKind

PARTIES = ("anonymous", "used-robot-buyer", "fleet-owner", "de-msa")
PUBLIC_FIELDS = """code version
  identity { status homeRegistry registeredAt }
  manufacturer { name nameLocal registrationId country }
  model { designation category productionDate serial }
  hardware { degreesOfFreedom massKg heightMm battery { chemistry capacityWh } }
  software { firmwareVersion operatingSystem }
  ownership { start end ownerKind jurisdiction }"""
MIXED_FIELDS = f"""{PUBLIC_FIELDS}
  condition {{ at operatingHours batteryHealthPct movementPrecisionMm chargeCycles }}
  maintenance {{ at kind component performedBy }}
  incidents {{ at severity status }}
  ownership {{ owner }}"""
QUERIES = {
    name: f"{{ robots(first: 100) {{ edges {{ node {{ {fields} }} }} }} }}"
    for name, fields in (("mixed", MIXED_FIELDS), ("public", PUBLIC_FIELDS))
}
ISSUER = "http://127.0.0.1:9/bench-issuer"
OWNER = "fleet-owner"


@dataclass(slots=True)
class Side:
    """One server's answers to one (query, party), summed over rounds."""

    bytes: int = 0
    requests: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    failed: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        """Server CPU per request, in milliseconds."""
        return 1000 * self.cpu / self.requests


@dataclass(slots=True)
class Pair:
    """One (query, party) against policies on and off."""

    query: str
    party: str
    on: Side = field(default_factory=Side)
    off: Side = field(default_factory=Side)
    errors: int = 0

    @property
    def overhead(self) -> float:
        """Extra wall time per request with policies on: off req/s over on req/s, minus 1."""
        return self.off.rps / self.on.rps - 1

    @property
    def cpu_overhead(self) -> float:
        """Extra server CPU per request with policies on."""
        return self.on.cpu_ms / self.off.cpu_ms - 1


def give_to_owner(db: str, every: int = 2) -> int:
    """Make the demo fleet owner the current owner of every `every`-th robot on the page.

    In a synthetic fleet it owns almost none of the first 100 robots, and its
    answer would be the public one; half owned, half not, it exercises both
    views. Returns how many robots it owns on the page (a retired robot
    cannot change hands).
    """
    store = SqliteStore(db)
    client = load_clients()[OWNER]
    owner, owner_id = client.organisation, client.organisation_id
    at = datetime.now(UTC).replace(microsecond=0)
    owned = 0
    for code in store.codes(limit=100)[::every]:
        transfer = OwnershipTransfer(at, owner, OwnerKind.ORGANISATION, "DE", owner_id)
        try:
            store.append(code, EventType.OWNERSHIP_TRANSFERRED, to_plain(transfer), at)
            owned += 1
        except EventRejected:
            continue
    store.close()
    return owned


def headers(token: str | None) -> list[str]:
    return [f"Authorization: Bearer {token}"] if token else []


def probe(port: int, body: bytes, token: str | None) -> tuple[int, int]:
    """Response size in bytes and number of GraphQL errors; the answer must be 200."""
    auth = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        content=body,
        headers={"content-type": "application/json", **auth},
        timeout=60,
    )
    response.raise_for_status()
    return len(response.content), len(response.json().get("errors", []))


def measure(db: str, data_dir: Path, rounds: int, seconds: float, connections: int) -> list[Pair]:
    tokens = {p: None if p == "anonymous" else issue_token(p, data_dir, ISSUER) for p in PARTIES}
    on_args = ["--db", db, "--issuer", ISSUER, "--data-dir", str(data_dir)]
    pairs = [Pair(q, p) for q in QUERIES for p in PARTIES]
    window = {"connections": connections, "seconds": seconds}
    with serving("graphql-policies", on_args) as on, serving("graphql", ["--db", db]) as off:
        for pair in pairs:
            body = json.dumps({"query": QUERIES[pair.query]}).encode()
            pair.on.bytes, pair.errors = probe(on.port, body, tokens[pair.party])
            pair.off.bytes, errors_off = probe(off.port, body, None)
            assert errors_off == 0, "policies off must answer every field"
        for r in range(rounds):
            for pair in pairs:
                body = json.dumps({"query": QUERIES[pair.query]}).encode()
                sides = [(pair.on, on, headers(tokens[pair.party])), (pair.off, off, [])]
                for side, served, extra in sides if r % 2 == 0 else reversed(sides):
                    cpu = served.cpu_seconds()
                    got = load(served.port, body, headers=extra, **window)
                    side.cpu += served.cpu_seconds() - cpu
                    side.requests += got["requests"]
                    side.seconds += got["seconds"]
                    side.failed += got["errors"]
    return pairs


def report(pairs: list[Pair], rounds: int, seconds: float, connections: int) -> None:
    print(
        f"policy overhead: robots(first: 100), {rounds} interleaved rounds of {seconds}s "
        f"per side, {connections} connections"
    )
    print(
        f"{'query':<8}{'party':<18}{'req/s on':>9}{'off':>7}{'overhead':>10}"
        f"{'CPU ms on':>11}{'off':>7}{'overhead':>10}{'bytes on':>10}{'off':>8}{'errors':>8}"
    )
    for p in pairs:
        print(
            f"{p.query:<8}{p.party:<18}{p.on.rps:>9.2f}{p.off.rps:>7.2f}{p.overhead:>10.1%}"
            f"{p.on.cpu_ms:>11.0f}{p.off.cpu_ms:>7.0f}{p.cpu_overhead:>10.1%}"
            f"{p.on.bytes:>10}{p.off.bytes:>8}{p.errors:>8}"
        )
        if p.on.failed or p.off.failed:
            print(f"  non-200 answers: {p.on.failed} on, {p.off.failed} off")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--robots", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=2)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        SqliteStore(db).import_histories(synthetic_fleet(args.robots, seed=1))
        owned = give_to_owner(db)
        print(f"{OWNER} owns {owned} of the 100 robots the query lists")
        pairs = measure(db, Path(tmp) / "auth", args.rounds, args.seconds, args.connections)
    report(pairs, args.rounds, args.seconds, args.connections)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
