"""A node's transparency log over HTTP, in process: real store, real tokens, real keys."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from gateway.credentials.logkey import event_log_origin
from gateway.edge.auth import demo_issuer
from gateway.federation.config import RegistryConfig
from gateway.federation.source import FederatedSource
from gateway.node import create_node_app
from gateway.service.transparency import EventLog
from gateway.store import SqliteStore
from policies import TokenVerifier
from schema.codec import format_datetime
from schema.events import Event, EventType, rechain
from schema.source import RegistryUntrusted
from schema.tlog.leaves import event_leaf
from schema.tlog.merkle import leaf_hash, verify_consistency, verify_inclusion
from schema.tlog.note import Checkpoint, Signer, Verifier, open_note
from tests.support.node import ISSUER, Node, WithToken


@pytest.fixture
def logged(store: SqliteStore, tmp_path: Path) -> Node:
    node = Node(store, "cn-miit", tmp_path / "data")
    log = EventLog(store, Signer.generate(event_log_origin("cn-heis")))
    verifier = TokenVerifier([demo_issuer(ISSUER, node.data_dir)])
    node.app = create_node_app(store, format="cn-miit", verifier=verifier, log=log)
    return node


def checkpoint(node: Node) -> Checkpoint:
    key = Verifier.from_vkey(node.get("/log/key", token=None).text)
    answer = node.get("/log/checkpoint", token=None)
    assert answer.headers["content-type"].startswith("text/plain")
    text, _ = open_note(answer.text, [key])
    return Checkpoint.parse(text)


def test_checkpoint_covers_every_event_and_each_inclusion_proof_verifies(
    logged: Node, store: SqliteStore
) -> None:
    cp = checkpoint(logged)
    assert cp.origin == "robopass.registry/cn-heis/events"
    assert cp.size == len(store.log_rows(0, 10**6))
    for code in store.codes()[:5]:
        for event in store.events(code):
            answer = logged.get(
                "/log/proof/inclusion",
                params={"code": code, "sequence": event.sequence, "size": cp.size},
            ).json()
            leaf = leaf_hash(event_leaf(code, event.sequence, event.commitment, event.hash))
            hashes = [base64.b64decode(h) for h in answer["hashes"]]
            assert verify_inclusion(answer["index"], cp.size, leaf, hashes, cp.root)


def test_a_new_event_grows_the_log_consistently(logged: Node, store: SqliteStore) -> None:
    before = checkpoint(logged)
    code = store.codes()[0]
    last = store.events(code)[-1]
    payload = {"at": format_datetime(last.at), "kind": "INSPECTION", "component": "hip",
               "part_number": None, "performed_by": "Care", "hours_at_service": 1.0,
               "notes": None}  # fmt: skip
    store.append(code, EventType.MAINTENANCE_RECORDED, payload, last.at)
    after = checkpoint(logged)
    assert after.size == before.size + 1
    proof = logged.get(
        "/log/proof/consistency", params={"from": before.size, "to": after.size}, token=None
    ).json()
    hashes = [base64.b64decode(h) for h in proof["hashes"]]
    assert verify_consistency(before.size, after.size, before.root, after.root, hashes)


def test_bad_requests_are_named(logged: Node, store: SqliteStore) -> None:
    code = store.codes()[0]
    assert logged.get("/log/proof/inclusion", params={"code": code, "sequence": 1},
                      token=None).status_code == 401  # fmt: skip
    missing = logged.get("/log/proof/inclusion", params={"code": code, "sequence": 999})
    assert (missing.status_code, missing.json()["code"]) == (404, "NOT_FOUND")
    beyond = logged.get("/log/proof/consistency", params={"from": 1, "to": 10**9}, token=None)
    assert beyond.status_code == 404 and "from <= to" in beyond.json()["detail"]
    typo = logged.get("/log/proof/consistency", params={"form": 1}, token=None)
    assert typo.status_code == 400 and "form" in typo.json()["detail"]


def test_an_unsalted_store_has_no_log_until_recommitted(
    tmp_path: Path, fleet: list[list[Event]]
) -> None:
    legacy = SqliteStore(tmp_path / "legacy.db")
    try:
        legacy.import_histories([rechain(history, scheme=1) for history in fleet[:2]])
        node = Node(legacy, "cn-miit", tmp_path / "data")
        log = EventLog(legacy, Signer.generate(event_log_origin("cn-heis")))
        verifier = TokenVerifier([demo_issuer(ISSUER, node.data_dir)])
        node.app = create_node_app(legacy, format="cn-miit", verifier=verifier, log=log)
        answer = node.get("/log/checkpoint", token=None)
        assert (answer.status_code, answer.json()["code"]) == (503, "LOG_UNAVAILABLE")
        assert "recommit" in answer.json()["detail"]
    finally:
        legacy.close()


def test_the_gateway_refuses_a_version_rewritten_under_a_running_node(
    logged: Node, store: SqliteStore
) -> None:
    key = Verifier.from_vkey(logged.get("/log/key", token=None).text)
    config = RegistryConfig(
        "cn-heis", "cn-miit", "http://node", ("CN",), ("CN",), freshness=0, timeout=30.0,
        log_key=key,
    )  # fmt: skip
    code = store.codes()[0]

    async def read() -> object:
        source = FederatedSource([config], transports={"cn-heis": WithToken(logged)})
        try:
            first = await source.robot(code)
            # the operator re-chains the robot's history with fresh salts, in place
            events = store.events(code)
            again = rechain(events)
            with store._transaction() as db:
                for new in again:
                    db.execute(
                        "UPDATE events SET prev_hash = ?, hash = ?, salt = ?, commitment = ?"
                        " WHERE code = ? AND sequence = ?",
                        (new.prev_hash, new.hash, new.salt, new.commitment, code, new.sequence),
                    )
                db.execute("UPDATE robots SET head_hash = ? WHERE code = ?", (again[-1].hash, code))
            with pytest.raises(RegistryUntrusted, match="inclusion proof fails"):
                await source.robot(code)
            (status,) = source.registries()
            assert status.untrusted is not None and "inclusion proof fails" in status.untrusted
            # sticky: even the versions that were proven before are refused now
            with pytest.raises(RegistryUntrusted):
                await source.robot(store.codes()[1])
            return first
        finally:
            await source.aclose()

    assert asyncio.run(read()) is not None
