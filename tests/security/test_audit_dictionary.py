"""The owner's audit trail is no dictionary oracle for who asked.

The demo parties (policies/demo/clients.json) read a robot through the real
app with real RS256 tokens; the robot's owner then reads the trail, which
hides the requesters' subject, organisation and token id. An attacker holding
that trail tries every demo party as the hidden requester. The issuer here
numbers its tokens (`jti` 1, 2, 3...): RFC 7519 asks a `jti` only to be
unique, so a log must not rely on it being unguessable.

- Scheme 1 (the hash over the content itself, as the trail showed it before
  salted commitments): the attacker recovers every requester's organisation.
- Scheme 2: the trail's hash and commitment match no candidate, and the trail
  withholds any scheme-1 hash from the owner.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pytest

from policies import AuditLog, auditmigrate, auditscheme
from schema.codec import format_datetime
from schema.passport import Ownership
from tests.support import auditdb
from tests.support.audited import QUERY, Gateway, busy_robot, token
from tests.support.paths import ROOT

audit_url = auditdb.audit_url
CLIENTS = json.loads((ROOT / "policies/demo/clients.json").read_text())
PARTIES = [c for c in CLIENTS["clients"] if c["jurisdiction"] == "DE"]  # the test issuer's
JTIS = [str(n) for n in range(1, 50)]
TRAIL = """query ($code: RobotCode!) { auditTrail(code: $code, first: 100) { edges { node {
  id at role issuer subject organisation tokenId served denied purposes agreements
  policyVersion action scheme hash prevHash commitment salt } } } }"""


def ask_as_every_party(gateway: Gateway, code: str) -> None:
    for n, party in enumerate(PARTIES, start=1):
        claims = {
            "sub": party["client_id"],
            "client_id": party["client_id"],
            "org": party["organisation"],
            "role": party["role"],
            "purposes": " ".join(party["purposes"]),
            "jurisdiction": party["jurisdiction"],
        }
        if "organisation_id" in party:  # as the demo server's tokens carry it
            claims["org_id"] = party["organisation_id"]
        gateway.ask(QUERY, {"code": code}, token(str(n), **claims))


def owners_trail(gateway: Gateway, code: str, owner: Ownership) -> list[dict]:
    """The trail as the robot's current owner reads it: named, and identified by its id."""
    claims = {"org": owner.owner, "org_id": owner.owner_id}
    bearer = token(role="owner", purposes="fleet_management", **claims)
    body = gateway.ask(TRAIL, {"code": code}, bearer)
    assert "errors" not in body, body
    return [e["node"] for e in body["data"]["auditTrail"]["edges"]]


def candidates(entry: dict, code: str):
    """Every content the hidden requester could have had, with the visible rest."""
    seen = {
        "at": format_datetime(datetime.fromisoformat(entry["at"])),
        "issuer": entry["issuer"],
        "role": entry["role"],
        "code": code,
        "served": entry["served"],
        "denied": entry["denied"],
        "purposes": entry["purposes"],
        "agreements": entry["agreements"],
        "policy_version": entry["policyVersion"],
    }
    if entry["action"] is not None:
        seen["action"] = entry["action"]
    for party in CLIENTS["clients"]:
        for jti in JTIS:
            hidden = {
                "subject": party["client_id"],
                "organisation": party["organisation"],
                "token_id": jti,
            }
            yield party["organisation"], {**seen, **hidden}


def recover(entry: dict, code: str, shown_hash: str, prev: str) -> set[str]:
    """Organisations whose candidate content hashes to what the attacker was shown,
    under every computation open to one without the salt."""
    found = set()
    for organisation, content in candidates(entry, code):
        tries = {
            auditscheme.record_hash(entry["id"], content, prev),
            hashlib.sha256(auditscheme.canonical(content)).hexdigest(),
        }
        if shown_hash in tries or entry["commitment"] in tries:
            found.add(organisation)
    return found


def test_legacy_hashes_give_the_requesters_away_and_the_trail_withholds_them(store, audit_url: str):
    code, _ = busy_robot(store)
    owner = store.passport(code).current_owner
    log = AuditLog(audit_url, scheme=1)
    gateway = Gateway(store, log)
    ask_as_every_party(gateway, code)
    trail = owners_trail(gateway, code, owner)
    rows = log.trail(code)
    assert len(trail) == len(PARTIES) == len(rows)
    for entry, row in zip(trail, rows, strict=True):
        assert entry["organisation"] is None and entry["subject"] is None
        assert entry["tokenId"] is None and entry["salt"] is None
        # What the trail showed the owner before salted commitments: the row's own hash.
        assert recover(entry, code, row.hash, row.prev_hash) == {row.record.organisation}
        assert entry["scheme"] == 1 and entry["hash"] is None and entry["commitment"] is None
    assert trail[0]["prevHash"] == "0" * 64  # the genesis: nothing hidden in it
    assert all(e["prevHash"] is None for e in trail[1:])
    log.close()


def test_salted_commitments_give_nothing_away(store, audit_url: str):
    code, _ = busy_robot(store)
    owner = store.passport(code).current_owner
    log = AuditLog(audit_url)
    gateway = Gateway(store, log)
    ask_as_every_party(gateway, code)
    trail = owners_trail(gateway, code, owner)
    assert len(trail) == len(PARTIES)
    shown = json.dumps(trail)
    for party in PARTIES:
        assert party["organisation"] not in shown and party["client_id"] not in shown
    for entry, row in zip(trail, log.trail(code), strict=True):
        assert entry["scheme"] == 2 and entry["salt"] is None
        assert (entry["hash"], entry["prevHash"]) == (row.hash, row.prev_hash)
        assert entry["commitment"] == row.commitment
        assert (
            auditscheme.salted_hash(entry["id"], entry["commitment"], entry["prevHash"])
            == (entry["hash"])
        ), "the owner can still check every link"
        assert recover(entry, code, entry["hash"], entry["prevHash"]) == set()
        assert row.salt not in shown
    log.close()


def test_the_authority_gets_the_salt_and_opens_each_commitment(store, audit_url: str):
    code, _ = busy_robot(store)
    log = AuditLog(audit_url)
    gateway = Gateway(store, log)
    ask_as_every_party(gateway, code)
    cn = token(role="regulator", org="SAMR", jurisdiction="CN", purposes="supervision")
    body = gateway.ask(TRAIL, {"code": code}, cn)
    for entry in (e["node"] for e in body["data"]["auditTrail"]["edges"]):
        content = {
            "at": format_datetime(datetime.fromisoformat(entry["at"])),
            "issuer": entry["issuer"],
            "subject": entry["subject"],
            "organisation": entry["organisation"],
            "role": entry["role"],
            "token_id": entry["tokenId"],
            "code": code,
            "served": entry["served"],
            "denied": entry["denied"],
            "purposes": entry["purposes"],
            "agreements": entry["agreements"],
            "policy_version": entry["policyVersion"],
        }
        assert auditscheme.commitment(entry["salt"], content) == entry["commitment"]
        assert entry["organisation"] in {p["organisation"] for p in PARTIES}
    log.close()


@pytest.mark.parametrize("salted_after", [0, 2])
def test_after_the_migration_the_owner_sees_every_link_and_no_requester(
    store, audit_url: str, salted_after: int
):
    code, _ = busy_robot(store)
    owner = store.passport(code).current_owner
    log = AuditLog(audit_url, scheme=1)
    ask_as_every_party(Gateway(store, log), code)
    log.close()
    log = AuditLog(audit_url)
    gateway = Gateway(store, log)
    for _ in range(salted_after):
        gateway.ask(QUERY, {"code": code})
    mixed = owners_trail(gateway, code, owner)
    first_salted = mixed[len(PARTIES)] if salted_after else None
    if first_salted:  # its prevHash is the last legacy row's hash: an oracle, withheld
        assert first_salted["hash"] and first_salted["prevHash"] is None
    assert auditmigrate.recommit(log) is not None
    trail = owners_trail(gateway, code, owner)
    assert all(e["scheme"] == 2 and e["hash"] and e["prevHash"] for e in trail)
    for entry in trail[: len(PARTIES)]:
        assert recover(entry, code, entry["hash"], entry["prevHash"]) == set()
    log.close()
