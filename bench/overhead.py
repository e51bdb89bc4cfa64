"""The cost of policies, like for like (issue 4): one 100-robot query per party, on vs off.

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

import json
from dataclasses import dataclass
from pathlib import Path

import httpx
from harness import load, serving

from policies.authserver import issue_token

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


@dataclass(slots=True)
class Pair:
    """One (query, party): requests and seconds summed over rounds, on and off."""

    query: str
    party: str
    bytes_on: int = 0
    bytes_off: int = 0
    errors_on: int = 0
    requests_on: int = 0
    seconds_on: float = 0.0
    requests_off: int = 0
    seconds_off: float = 0.0
    failed: int = 0

    @property
    def ratio(self) -> float:
        """Policies-on throughput over policies-off throughput."""
        return (self.requests_on / self.seconds_on) / (self.requests_off / self.seconds_off)


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
    with serving("graphql-policies", on_args) as on, serving("graphql", ["--db", db]) as off:
        for pair in pairs:
            body = json.dumps({"query": QUERIES[pair.query]}).encode()
            pair.bytes_on, pair.errors_on = probe(on, body, tokens[pair.party])
            pair.bytes_off, errors_off = probe(off, body, None)
            assert errors_off == 0, "policies off must answer every field"
        for r in range(rounds):
            for pair in pairs:
                body = json.dumps({"query": QUERIES[pair.query]}).encode()
                sides = [("on", on, headers(tokens[pair.party])), ("off", off, [])]
                for side, port, extra in sides if r % 2 == 0 else reversed(sides):
                    got = load(port, body, connections=connections, seconds=seconds, headers=extra)
                    pair.failed += got["errors"]
                    if side == "on":
                        pair.requests_on += got["requests"]
                        pair.seconds_on += got["seconds"]
                    else:
                        pair.requests_off += got["requests"]
                        pair.seconds_off += got["seconds"]
    return pairs


def report(pairs: list[Pair], rounds: int, seconds: float, connections: int) -> None:
    print(
        f"policy overhead: robots(first: 100), {rounds} interleaved rounds of {seconds}s "
        f"per side, {connections} connections"
    )
    print(
        f"{'query':<8}{'party':<18}{'on req/s':>10}{'off req/s':>10}{'on/off':>8}"
        f"{'overhead':>10}{'bytes on':>10}{'bytes off':>10}{'errors':>8}"
    )
    for p in pairs:
        on, off = p.requests_on / p.seconds_on, p.requests_off / p.seconds_off
        print(
            f"{p.query:<8}{p.party:<18}{on:>10.1f}{off:>10.1f}{p.ratio:>8.3f}"
            f"{1 / p.ratio - 1:>10.1%}{p.bytes_on:>10}{p.bytes_off:>10}{p.errors_on:>8}"
        )
        if p.failed:
            print(f"  {p.failed} non-200 answers")
