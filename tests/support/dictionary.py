"""The obvious dictionaries, and a structured search of hidden events against shown digests.

An attacker who can read the synthetic demo's generator (it is open source) knows
how its owners, lessors, people and facilities are named, every enum value, and
the formats of payloads. For each event whose payload the party may not see it
builds candidate payloads from those dictionaries, the generator's identifiers
(an organisation's register number from its country and name, a person's
pseudonymous id from the public seed, registry, robot and moment) and the
values the party does
see (times, kinds, jurisdictions, visible neighbours), hashes each candidate
under every formula it knows and looks the result up in the set of digests the
party received anywhere (history, feed, cursors, ETags, audit trail):

- scheme 1: SHA-256 of canonical JSON of (code, sequence, at, type, payload, prev);
- scheme 2: the commitment SHA-256(salt || canonical JSON of (at, type, payload)),
  with the salts an attacker can guess (none, all zeros) or was shown.

The search is bounded per event type, to the types whose payloads are low in
entropy once the visible values are known (OWNERSHIP_TRANSFERRED: an owner name,
whose identifier follows from it or from the public seed;
END_OF_LIFE: a facility name; the software-update maintenance record that follows
a visible SOFTWARE_UPDATED: the hours at service). Condition snapshots, incidents,
deployments and the REGISTERED passport carry several independent numbers or
random serials each; a bounded search of them is out of reach even without a salt.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import orjson

from gateway.synthetic.catalogue import COUNTRIES, MAKERS, organisation_id
from gateway.synthetic.fleet import _SECTORS
from schema.passport import OwnerKind, RobotStatus

from .attacker import Knowledge, Row, Sight

MINUTE = timedelta(minutes=1)
GUESSED_SALTS = (b"", bytes(16))
"""Salts an attacker tries when it was shown none: no salt, and a constant one."""


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(value: str | int) -> bytes:
    return orjson.dumps(value)


def scheme1_frame(code: str, row: Row, at: str, type: str) -> tuple[bytes, bytes]:
    """The canonical JSON of a scheme-1 hash body around its payload (keys sorted)."""
    head = b'{"at":%s,"code":%s,"payload":' % (_json(at), _json(code))
    tail = b',"prev":%s,"sequence":%s,"type":%s}' % (
        _json(row.prev_hash),
        _json(row.sequence),
        _json(type),
    )
    return head, tail


def commitment_frame(at: str, type: str) -> tuple[bytes, bytes]:
    """The canonical JSON of a scheme-2 commitment body around its payload."""
    return b'{"at":%s,"payload":' % _json(at), b',"type":%s}' % _json(type)


def scheme1_hash(code: str, row: Row, at: str, type: str, payload: dict[str, Any]) -> str:
    head, tail = scheme1_frame(code, row, at, type)
    return sha256(head + canonical(payload) + tail)


def commitment(salt: bytes, at: str, type: str, payload: dict[str, Any]) -> str:
    head, tail = commitment_frame(at, type)
    return sha256(salt + head + canonical(payload) + tail)


# -- dictionaries -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class World:
    """The synthetic fleet's public inputs: the seed and registry it was generated with.

    The demo publishes both (the CLI seeds with a given seed into a named
    registry), so an attacker reading the generator may use them.
    """

    seed: int
    registry: str


def person_id(world: World, code: str, at: datetime) -> str:
    """The generator's pseudonymous id of the person who bought robot `code` at `at`:
    derived from the public seed, registry, robot and moment alone, never from the name."""
    digest = hashlib.sha256(f"{world.seed}|{world.registry}|{code}|{at.isoformat()}".encode())
    return "person:" + base64.b32encode(digest.digest()[:15]).decode().lower()


@cache
def organisation_names(jurisdiction: str) -> tuple[str, ...]:
    """Companies of a country (stem x sector, with and without its legal suffix), its
    rental firms, every maker's leasing arm there, and the makers themselves."""
    sectors = sorted({s for names in _SECTORS.values() for s in names})
    makers = [m for ms in MAKERS.values() for m in ms]
    country = COUNTRIES[jurisdiction]
    suffix = country.suffix
    names = {m.name for m in makers} | {f"{m.short} Sales & Leasing {suffix}" for m in makers}
    for stem in country.stems:
        names.add(f"{stem} Robot Rental {suffix}")
        for sector in sectors:
            names.update({f"{stem} {sector}", f"{stem} {sector} {suffix}"})
    return tuple(sorted(names))


@cache
def person_names(jurisdiction: str) -> tuple[str, ...]:
    """Every given x family name of a country, in both orders."""
    country = COUNTRIES[jurisdiction]
    pairs = [(g, f) for g in country.given for f in country.family]
    return tuple(sorted({f"{g} {f}" for g, f in pairs} | {f"{f} {g}" for g, f in pairs}))


@cache
def facility_names() -> tuple[str | None, ...]:
    makers = [m for ms in MAKERS.values() for m in ms]
    names = {f"{m.name} Refurbishment Center" for m in makers}
    for country in COUNTRIES.values():
        names.update(f"{stem} Resource Recycling {country.suffix}" for stem in country.stems)
    return (None, *sorted(names))


def owners_of(
    world: World, code: str, at: datetime, kind: str, jurisdiction: str
) -> list[tuple[str, str]]:
    """(name, identifier) of every owner the generator could have named: people or
    companies of its jurisdiction, each with the identifier the generator gives it."""
    if jurisdiction not in COUNTRIES:
        return []
    if kind == OwnerKind.NATURAL_PERSON.value:
        person = person_id(world, code, at)
        return [(name, person) for name in person_names(jurisdiction)]
    return list(organisations(jurisdiction))


@cache
def organisations(jurisdiction: str) -> tuple[tuple[str, str], ...]:
    """Every organisation name of a country with its register identifier."""
    return tuple(
        (name, organisation_id(jurisdiction, name)) for name in organisation_names(jurisdiction)
    )


# -- times ----------------------------------------------------------------------------


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def render(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def neighbours(text: str, minutes: int = 1) -> list[datetime]:
    """A visible time and the minutes either side of it (a clock rounded differently)."""
    at = parse(text)
    return [at + k * MINUTE for k in range(-minutes, minutes + 1)]


@dataclass(frozen=True, slots=True)
class Window:
    """A hidden event lies between the times of the nearest events shown around it."""

    row: Row
    after: datetime | None
    before: datetime | None

    def holds(self, at: datetime) -> bool:
        return (self.after is None or self.after <= at) and (
            self.before is None or at <= self.before
        )


def windows(sight: Sight) -> list[Window]:
    rows = [sight.rows[s] for s in sorted(sight.rows)]
    out = []
    for i, row in enumerate(rows):
        if not row.hidden:
            continue
        earlier = [parse(r.at) for r in rows[:i] if r.at]
        later = [parse(r.at) for r in rows[i + 1 :] if r.at]
        out.append(Window(row, max(earlier, default=None), min(later, default=None)))
    return out


# -- the search ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recovery:
    """A hidden event whose payload a candidate matched, and how."""

    party: str
    code: str
    sequence: int
    type: str
    at: str
    payload: dict[str, Any]
    matched: str
    """Which formula matched: "scheme 1", "commitment" or "audit"."""


@dataclass(frozen=True, slots=True)
class Candidate:
    type: str
    at: str
    payload: dict[str, Any]


class Batch:
    """Candidates of one type at one time, their payloads encoded once for every window."""

    def __init__(self, at: datetime, candidates: list[Candidate]) -> None:
        self.at = at
        self.candidates = candidates
        self.encoded = [canonical(c.payload) for c in candidates]

    def committed(self, shown: set[bytes], salts: Iterable[bytes]) -> Candidate | None:
        """A candidate whose commitment under a guessed salt was shown anywhere."""
        for salt in salts:
            for candidate, payload in zip(self.candidates, self.encoded, strict=True):
                head, tail = commitment_frame(candidate.at, candidate.type)
                if hashlib.sha256(salt + head + payload + tail).digest() in shown:
                    return candidate
        return None

    def chained(self, code: str, row: Row, shown: set[bytes]) -> Candidate | None:
        """A candidate whose scheme-1 hash at this row's place in the chain was shown."""
        frames: dict[tuple[str, str], tuple[Any, bytes]] = {}
        for candidate, payload in zip(self.candidates, self.encoded, strict=True):
            key = (candidate.at, candidate.type)
            if key not in frames:
                head, tail = scheme1_frame(code, row, *key)
                frames[key] = (hashlib.sha256(head), tail)
            start, tail = frames[key]
            digest = start.copy()
            digest.update(payload)
            digest.update(tail)
            if digest.digest() in shown:
                return candidate
        return None


def recovery(party: Knowledge, code: str, row: Row, c: Candidate, how: str) -> Recovery:
    return Recovery(party.party, code, row.sequence, c.type, c.at, c.payload, how)


def transfers(sight: Sight, world: World) -> Iterator[Batch]:
    """OWNERSHIP_TRANSFERRED: owner (and its id) x ownerKind x jurisdiction x the shown
    start by minute."""
    for entry in (sight.view.get("ownership") or [])[1:]:  # the first is the REGISTERED one
        if not entry.get("start") or entry.get("owner"):
            continue
        kinds = [entry["owner_kind"]] if entry.get("owner_kind") else [k.value for k in OwnerKind]
        places = [entry["jurisdiction"]] if entry.get("jurisdiction") else sorted(COUNTRIES)
        for at in neighbours(entry["start"]):
            text = render(at)
            yield Batch(
                at,
                [
                    Candidate(
                        "OWNERSHIP_TRANSFERRED",
                        text,
                        {
                            "at": text,
                            "owner": owner,
                            "owner_kind": kind,
                            "jurisdiction": place,
                            "owner_id": owner_id,
                        },
                    )
                    for kind in kinds
                    for place in places
                    for owner, owner_id in owners_of(world, sight.code, at, kind, place)
                ],
            )


def ends_of_life(sight: Sight, world: World) -> Iterator[Batch]:
    """END_OF_LIFE: the facility, at the shown end-of-life time by minute."""
    end = (sight.view.get("compliance") or {}).get("end_of_life") or {}
    if not end.get("at") or end.get("facility"):
        return
    shown = end.get("disposition")
    dispositions = [shown] if shown else [s.value for s in RobotStatus]
    for at in neighbours(end["at"]):
        text = render(at)
        yield Batch(
            at,
            [
                Candidate("END_OF_LIFE", text, {"at": text, "disposition": d, "facility": facility})
                for d in dispositions
                for facility in facility_names()
            ],
        )


SEARCHES = (transfers, ends_of_life)


AUDIT_HIDDEN = ("subject", "organisation", "tokenId")
AUDIT_LISTS = ("served", "denied", "purposes", "agreements")


def audit_records(party: Knowledge, clients: list[dict[str, Any]]) -> list[Recovery]:
    """Audit entries whose requester was withheld: each demo client, token id unknown (None).

    The hash covers the record's plain form with its id and the previous hash;
    a token's jti is random, so only a record without one could fall to this.
    """
    found = []
    requesters = [(c["client_id"], c["organisation"]) for c in clients]
    for code, sight in party.sights.items():
        for entry in sight.audit:
            if entry["role"] == "public" or any(entry.get(k) for k in AUDIT_HIDDEN):
                continue  # the anonymous requester is no secret; a shown one needs no search
            plain = {
                "at": render(parse(entry["at"])),
                "issuer": entry["issuer"],
                "role": entry["role"],
                "token_id": None,
                "code": code,
                "policy_version": entry["policyVersion"],
                **{k: entry[k] for k in AUDIT_LISTS},
            }
            if entry.get("action") is not None:
                plain["action"] = entry["action"]
            salts = GUESSED_SALTS + ((bytes.fromhex(entry["salt"]),) if entry.get("salt") else ())
            for subject, organisation in requesters:
                guess = {**plain, "subject": subject, "organisation": organisation}
                chained = {**guess, "id": entry["id"], "prev": entry["prevHash"]}
                digests = {sha256(canonical(chained))}
                digests.update(sha256(s + canonical(guess)) for s in salts)
                if digests & party.digests:
                    at, id_ = plain["at"], entry["id"]
                    found.append(Recovery(party.party, code, id_, "AUDIT", at, guess, "audit"))
                    break
    return found


def attack(party: Knowledge, clients: list[dict[str, Any]], world: World) -> list[Recovery]:
    """Every hidden event of every robot the party saw, tried against every search."""
    shown = {bytes.fromhex(d) for d in party.digests}
    found: dict[tuple[str, int], Recovery] = {}
    for code, sight in party.sights.items():
        hidden = windows(sight)
        for search in SEARCHES:
            for batch in search(sight, world):
                rows = [w.row for w in hidden if w.holds(batch.at)]
                if not rows:
                    continue
                # A commitment does not depend on the place in the chain: one try for all.
                hit = batch.committed(shown, GUESSED_SALTS)
                for row in rows:
                    key = (code, row.sequence)
                    if key in found:
                        continue
                    if hit is not None:
                        found[key] = recovery(party, code, row, hit, "commitment")
                        continue
                    shown_salt = (bytes.fromhex(row.salt),) if row.salt else ()
                    salted = batch.committed(shown, shown_salt) if shown_salt else None
                    if salted is not None:
                        found[key] = recovery(party, code, row, salted, "commitment")
                    elif (chained := batch.chained(code, row, shown)) is not None:
                        found[key] = recovery(party, code, row, chained, "scheme 1")
    return [*found.values(), *audit_records(party, clients)]


def scheme2_hash(code: str, row: Row) -> str:
    body = {
        "scheme": 2,
        "code": code,
        "sequence": row.sequence,
        "commitment": row.commitment,
        "prev": row.prev_hash,
    }
    return sha256(canonical(body))


def self_check(party: Knowledge) -> tuple[int, int]:
    """(checked, agreed): the formulas re-derive the digests of the events shown in full.

    Without this, "recovers nothing" could mean the attacker hashes the wrong bytes.
    A scheme-2 link is checked for every event, hidden or not: it is public data.
    """
    checked = agreed = 0
    for code, sight in party.sights.items():
        for row in sight.rows.values():
            if row.scheme == 2 and row.commitment:
                checked += 1
                agreed += scheme2_hash(code, row) == row.hash
            if row.hidden or row.at is None or row.type is None:
                continue
            at = render(parse(row.at))
            if row.scheme in (None, 1):
                checked += 1
                agreed += scheme1_hash(code, row, at, row.type, row.payload) == row.hash
            elif row.salt and row.commitment:
                checked += 1
                salt = bytes.fromhex(row.salt)
                agreed += commitment(salt, at, row.type, row.payload) == row.commitment
    return checked, agreed
