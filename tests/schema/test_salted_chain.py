"""Hash scheme 2 end to end: stored salted commitments, tampering caught, salts masked.

Real stores on SQLite and PostgreSQL, hand edits over a connection of their
own; a real app in process with real RS256 tokens for the GraphQL checks.
"""

from __future__ import annotations

import pytest

from gateway.store import Store
from policies import AuditLog
from schema.codec import parse_datetime
from schema.events import (
    SCHEME,
    EventType,
    commitment_of,
    link_hash,
    rechain,
)
from tests.support.audited import BUYER, Gateway, audit_url, busy_robot, token
from tests.support.stores import empty_store, store

__all__ = ["audit_url", "empty_store", "store"]

HISTORY = """query ($code: RobotCode!) { robot(code: $code) { history(first: 100) {
  edges { node { sequence hash prevHash scheme commitment salt at type payload } } } } }"""
CHANGES = """query ($ownerId: String) { fleetChanges(ownerId: $ownerId, first: 500) {
  edges { node { code sequence hash prevHash scheme commitment salt at type payload } } } }"""


@pytest.fixture
def log(audit_url: str):
    audit = AuditLog(audit_url)
    yield audit
    audit.close()


def test_stored_events_are_scheme_2_with_distinct_salts(store: Store, fleet):
    code = fleet[0][0].code
    events = store.events(code)
    assert [e.hash for e in events] == [e.hash for e in fleet[0]]
    assert all(e.scheme == SCHEME and e.salt and e.commitment for e in events)
    salts = [e.salt for h in fleet for e in h]
    assert len(set(salts)) == len(salts)
    assert store.verify_chain(code).verified
    assert store.legacy_count() == 0


@pytest.mark.parametrize(
    "column, value",
    [
        ("at", "'2020-01-01T00:00:00Z'"),
        ("type", "'STATUS_CHANGED'"),
        ("payload", "'{}'"),
        ("salt", "'00000000000000000000000000000000'"),
        ("commitment", "'" + "0" * 64 + "'"),
    ],
)
def test_tampering_with_a_committed_part_is_caught_at_its_sequence(
    store: Store, fleet, column, value
):
    from tests.support.stores import outside

    history = max(fleet, key=len)
    code, k = history[0].code, len(history) // 2
    outside(
        store, f"UPDATE events SET {column} = {value} WHERE code = ? AND sequence = ?", (code, k)
    )
    report = store.verify_chain(code)
    assert (report.verified, report.first_bad) == (False, k)
    assert report.reason


def test_an_append_onto_a_legacy_chain_is_scheme_2_and_verifies(empty_store: Store, fleet):
    from tests.support.stores import record

    legacy = rechain(fleet[3], 1)
    empty_store.import_histories([legacy])
    code = legacy[0].code
    assert empty_store.legacy_count() == 1
    event = empty_store.append(
        code, EventType.MAINTENANCE_RECORDED, record(), parse_datetime("2026-10-30T08:00:00Z")
    )
    assert event.scheme == SCHEME and event.prev_hash == legacy[-1].hash
    assert empty_store.verify_chain(code).verified


def _check_nodes(nodes: list[dict], code: str, errors: list[dict], where: tuple) -> tuple[int, int]:
    """Every link verifies from public parts; every shown payload against its commitment."""
    denied = {tuple(e["path"]) for e in errors}
    prev, shown, hidden = "0" * 64, 0, 0
    for i, node in enumerate(nodes):
        assert node["scheme"] == SCHEME and len(node["commitment"]) == 64
        assert node["prevHash"] == prev
        assert link_hash(code, node["sequence"], node["commitment"], prev) == node["hash"]
        prev = node["hash"]
        if node["payload"] is None:
            hidden += 1
            assert node["salt"] is None and node["at"] is None
            assert (*where, i, "node", "salt") in denied
            assert (*where, i, "node", "payload") in denied
        else:
            shown += 1
            at, kind = parse_datetime(node["at"]), EventType(node["type"])
            assert commitment_of(node["salt"], at, kind, node["payload"]) == node["commitment"]
            changed = {**node["payload"], "tampered": 1}
            assert commitment_of(node["salt"], at, kind, changed) != node["commitment"]
    return shown, hidden


def refusal(error: dict) -> tuple[str, dict]:
    """An error's words without the field it names, and its extensions."""
    asked = error["path"][-1]
    message = error["message"].replace(f"Unauthorized field: {asked}", "Unauthorized field: _", 1)
    return message, error["extensions"]


def test_history_shows_salts_with_payloads_and_denies_them_with_payloads(store: Store, log):
    code, _ = busy_robot(store)
    gateway = Gateway(store, log)
    seen = {}
    for who, bearer in (("buyer", token(**BUYER)), ("anonymous", None)):
        body = gateway.ask(HISTORY, {"code": code}, bearer)
        errors = body.get("errors", [])
        assert {e["extensions"]["code"] for e in errors} <= {"UNAUTHORIZED_FIELD_OR_TYPE"}
        salt_errors = [e for e in errors if e["path"][-1] == "salt"]
        payload_errors = [e for e in errors if e["path"][-1] == "payload"]
        # A salt is refused exactly as its payload is: same policy path, same words but for
        # the name of the field asked for, which the caller wrote itself.
        assert [refusal(e) for e in salt_errors] == [refusal(e) for e in payload_errors]
        nodes = [e["node"] for e in body["data"]["robot"]["history"]["edges"]]
        seen[who] = _check_nodes(nodes, code, errors, ("robot", "history", "edges"))
    assert seen["buyer"][0] > 0 and seen["buyer"][1] > 0, "the buyer sees some payloads, not all"
    assert seen["anonymous"][1] > seen["buyer"][1]
    assert store.verify_chain(code).verified


def test_the_feed_masks_salts_as_history_does(store: Store, log):
    code, owner = busy_robot(store)
    owner_id = store.passport(code).current_owner.owner_id
    gateway = Gateway(store, log)
    bearer = token(role="owner", org=owner, org_id=owner_id, purposes="fleet_management")
    body = gateway.ask(CHANGES, {"ownerId": owner_id}, bearer)
    errors = body.get("errors", [])
    edges = body["data"]["fleetChanges"]["edges"]
    by_code: dict[str, list[tuple[int, dict]]] = {}
    for i, edge in enumerate(edges):
        by_code.setdefault(edge["node"]["code"], []).append((i, edge["node"]))
    hidden = 0
    denied = {tuple(e["path"]) for e in errors}
    for robot, items in by_code.items():
        nodes = [n for _, n in sorted(items, key=lambda x: x[1]["sequence"])]
        assert nodes[0]["sequence"] == 1
        prev = "0" * 64
        for node in nodes:
            assert link_hash(robot, node["sequence"], node["commitment"], prev) == node["hash"]
            prev = node["hash"]
        for i, node in items:
            if node["payload"] is None:
                hidden += 1
                assert node["salt"] is None
                assert ("fleetChanges", "edges", i, "node", "salt") in denied
            else:
                at, kind = parse_datetime(node["at"]), EventType(node["type"])
                assert commitment_of(node["salt"], at, kind, node["payload"]) == node["commitment"]
    assert hidden, "an owner may not see restricted incident findings"
