"""A dictionary attack on every digest a party can see must recover nothing (issue 13).

Each demo party (real signed tokens from the demo authorization server's key, and
the anonymous caller) reads a sample of robots from the real app over a real
store with an audit log: history with hashes, exports over REST, its change
feed, audit trails where allowed. The attacker (tests/support/dictionary.py) then hashes
candidate payloads built from the synthetic catalogue's names, the identifiers
the generator derives from them or from the public seed (WORLD), every enum
value and the visible times by minute, and looks them up among the digests shown.
Tokens carry each party's `org_id`, so owners are attacked through their own view.

Under the legacy scheme (the store re-committed with `rechain(..., scheme=1)`)
the attack must recover hidden owner names, which proves it bites; under the
salted scheme it must recover nothing for any party.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import orjson
import pytest

from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from gateway.web.app import create_app
from policies import AuditLog, PolicySet, TokenVerifier, TrustedIssuer
from policies.authserver import issue_token, signing_key
from policies.visibility import DEMO
from schema.codec import format_datetime, to_plain
from schema.events import Event, EventType, fold, rechain
from schema.passport import OwnerKind, Passport
from tests.support.attacker import Knowledge, Row, Sight, Spy
from tests.support.dictionary import Recovery, World, attack, commitment, self_check

CLIENTS = orjson.loads((DEMO / "clients.json").read_bytes())["clients"]
ISSUER = "http://127.0.0.1/auth"
FLEET_OWNER = next(c["organisation_id"] for c in CLIENTS if c["client_id"] == "fleet-owner")
"""The fleet owner's party identifier: what relates it to robots (its name only shows)."""
WORLD = World(seed=7, registry="cn-heis")
"""The fleet's public seed and registry, which the attacker may read as anyone may."""
SAMPLE = 9
PERSON = OwnerKind.NATURAL_PERSON.value


@pytest.fixture(scope="module")
def fleet() -> list[list[Event]]:
    return list(synthetic_fleet(60, seed=WORLD.seed, registry=WORLD.registry))


def sample(histories: list[list[Event]]) -> list[str]:
    """Robots the fleet owner owns, owned, operates; transfers to people; ends of life; others.

    Every party then has hidden events in the sample: the owner's own robots
    hide investigation findings, the others hide owners, telemetry or more.
    """
    passports = [p for p in (fold(h) for h in histories) if p is not None]

    def first(wanted, count: int = 1) -> list[Passport]:
        return [p for p in passports if wanted(p)][:count]

    picked = [
        *first(lambda p: p.current_owner.owner_id == FLEET_OWNER),
        *first(lambda p: any(o.owner_id == FLEET_OWNER for o in p.ownership[:-1])),
        *first(lambda p: any(d.operator_id == FLEET_OWNER for d in p.deployments)),
        *first(lambda p: any(o.owner_kind is OwnerKind.NATURAL_PERSON for o in p.ownership), 2),
        *first(lambda p: p.compliance.end_of_life is not None, 2),
        *first(lambda p: len(p.ownership) > 1 and bool(p.incidents), 2),
        *first(lambda p: len(p.ownership) == 1 and bool(p.maintenance), 2),
    ]
    return list(dict.fromkeys(p.code for p in picked))[:SAMPLE]


def parties() -> list[tuple[str, str | None]]:
    return [("anonymous", None), *((c["client_id"], c["client_id"]) for c in CLIENTS)]


def spy_on(store: SqliteStore, codes: list[str], data: Path) -> list[Knowledge]:
    """What each party is shown of `codes`; audit trails read after every party's reads."""
    key = signing_key(data)
    trusted = TrustedIssuer(
        ISSUER,
        "robopass",
        frozenset({"CN", "DE", "US", "CH"}),
        jwks={"keys": [key.as_dict(private=False)]},
        allow_http=True,
    )
    audit = AuditLog(str(data / "audit.db"))
    app = create_app(
        Services(
            LocalSource(store), PolicySet.demo(), verifier=TokenVerifier([trusted]), audit=audit
        )
    )
    wanted = frozenset(codes)

    async def run() -> list[Knowledge]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            spies = [
                Spy(client, name, issue_token(client_id, data, ISSUER) if client_id else None)
                for name, client_id in parties()
            ]
            for spy in spies:
                for code in codes:
                    await spy.robot(code)
                await spy.feed(wanted)
            for spy in spies:
                for code in codes:
                    await spy.trail(code)
            return [spy.known for spy in spies]

    try:
        return asyncio.run(run())
    finally:
        audit.close()


def hidden_events(known: Knowledge) -> int:
    return sum(row.hidden for sight in known.sights.values() for row in sight.rows.values())


def haul(histories: list[list[Event]], data: Path) -> tuple[SqliteStore, list[Knowledge]]:
    data.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(data / "registry.db", registry=WORLD.registry)
    store.import_histories(histories)
    codes = sample(histories)
    knowledge = spy_on(store, codes, data)
    bare = [k.party for k in knowledge if not hidden_events(k)]
    assert not bare, f"the sample hides nothing from {bare}: the attack would prove nothing"
    owners_view(store, codes, {k.party: k for k in knowledge}["fleet-owner"])
    return store, knowledge


def owners_view(store: SqliteStore, codes: list[str], owner: Knowledge) -> None:
    """The fleet owner's token relates it to its robots: it is shown its own robot's
    owner and most of its history (a caller it does not relate to, one or two events of
    each robot). Otherwise every party
    would be attacking the public view, and the test would prove less than it says."""
    own = next(c for c in codes if store.passport(c).current_owner.owner_id == FLEET_OWNER)
    sight = owner.sights[own]
    assert sight.view["ownership"][-1].get("owner_id") == FLEET_OWNER, sight.view["ownership"]
    shown = [row for row in sight.rows.values() if not row.hidden]
    assert len(shown) > len(sight.rows) // 2, "the owner is shown little of its own robot"


def formulas_hold(knowledge: list[Knowledge]) -> int:
    """The attacker's formulas re-derive every digest of an event shown in full."""
    checks = [self_check(k) for k in knowledge]
    assert all(checked == agreed for checked, agreed in checks), checks
    return sum(checked for checked, _ in checks)


@pytest.mark.slow
def test_the_attack_recovers_hidden_owners_under_the_legacy_scheme(fleet, tmp_path):
    legacy = [rechain(history, scheme=1) for history in fleet]
    store, knowledge = haul(legacy, tmp_path / "legacy")
    try:
        assert formulas_hold(knowledge) > 0
        found = [r for k in knowledge for r in attack(k, CLIENTS, WORLD)]
        assert found, "the attack recovered nothing under scheme 1: it no longer bites"
        truth = {
            (e.code, e.sequence): e for code in {r.code for r in found} for e in store.events(code)
        }
        for r in found:
            if r.type != "AUDIT":
                assert truth[(r.code, r.sequence)].payload == r.payload, r
        owners = [r for r in found if r.type == EventType.OWNERSHIP_TRANSFERRED.value]
        assert owners, [(r.party, r.type) for r in found]
        views = {k.party: k for k in knowledge}
        for r in owners:  # the name was hidden from the party that recovered it
            shown = orjson.dumps(views[r.party].sights[r.code].view).decode()
            assert r.payload["owner"] not in shown, r
        people = {r.payload["owner"] for r in owners if r.payload["owner_kind"] == PERSON}
        assert people, "no natural person's name was recovered"
        assert {r.party for r in owners} == set(views), "some party recovered no hidden owner"
    finally:
        store.close()


@pytest.mark.slow
def test_the_attack_recovers_nothing_under_the_salted_scheme(fleet, tmp_path):
    store, knowledge = haul(fleet, tmp_path / "salted")
    try:
        for code in sample(fleet):  # the attacker's commitment is the registry's
            for e in store.events(code):
                at = format_datetime(e.at)
                salt = bytes.fromhex(e.salt)
                assert commitment(salt, at, e.type.value, e.payload) == e.commitment, e
        schemes = {
            row.scheme for k in knowledge for s in k.sights.values() for row in s.rows.values()
        }
        assert schemes == {2}, f"the default store should be salted throughout, got {schemes}"
        assert formulas_hold(knowledge) > 0, "no party was shown a salt to check formulas by"
        found: dict[str, list[Recovery]] = {k.party: attack(k, CLIENTS, WORLD) for k in knowledge}
        assert not any(found.values()), {p: r[:3] for p, r in found.items() if r}
    finally:
        store.close()


def test_the_attack_would_catch_a_commitment_without_a_secret_salt(fleet):
    """The scheme-2 side can fail: a commitment salted with nothing secret falls to it."""
    history = next(h for h in fleet if any(o.owner_kind.value == PERSON for o in fold(h).ownership))
    passport = fold(history)
    transfer = next(e for e in history if e.type is EventType.OWNERSHIP_TRANSFERRED)
    shown = orjson.loads(orjson.dumps(to_plain(passport)))
    for entry in shown["ownership"]:  # the owner hidden: its name and its identifier
        entry.pop("owner")
        entry.pop("owner_id")
    at = format_datetime(transfer.at)
    for salt, found in ((b"", True), (bytes(16), True), (bytes.fromhex(transfer.salt), False)):
        digest = commitment(salt, at, transfer.type.value, transfer.payload)
        row = Row(transfer.sequence, transfer.hash, transfer.prev_hash, None, None, None, 2, digest)
        known = Knowledge("test", {passport.code: Sight(passport.code, {row.sequence: row}, shown)})
        known.digests.add(digest)
        recovered = attack(known, CLIENTS, WORLD)
        assert bool(recovered) is found, salt
        assert all(r.payload == transfer.payload for r in recovered)
