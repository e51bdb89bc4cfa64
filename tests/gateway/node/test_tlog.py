"""A node's transparency log over HTTP, in process: real store, real tokens, real keys."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import httpx
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
from schema.source import RegistryUnavailable, RegistryUntrusted, RobotFilter
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


def test_batch_inclusion_proofs_verify_in_the_order_asked(logged: Node, store: SqliteStore) -> None:
    cp = checkpoint(logged)
    codes = store.codes()[:4]
    keys = [(code, event.sequence) for code in codes for event in store.events(code)[:3]]
    leaves = [{"code": c, "sequence": s} for c, s in keys] + [{"code": codes[0], "sequence": 999}]
    answer = logged.post("/log/proof/inclusions", json={"size": cp.size, "leaves": leaves})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["size"] == cp.size and len(body["proofs"]) == len(leaves)
    for (code, sequence), proof in zip(keys, body["proofs"], strict=False):
        assert (proof["code"], proof["sequence"]) == (code, sequence)
        event = store.events(code)[sequence - 1]
        leaf = leaf_hash(event_leaf(code, sequence, proof["commitment"], event.hash))
        hashes = [base64.b64decode(h) for h in proof["hashes"]]
        assert verify_inclusion(proof["index"], cp.size, leaf, hashes, cp.root)
    assert body["proofs"][-1]["index"] is None and body["proofs"][-1]["hashes"] == []


def test_batch_inclusion_requests_are_refused_by_name(logged: Node, store: SqliteStore) -> None:
    code = store.codes()[0]
    url = "/log/proof/inclusions"
    assert logged.post(url, json={"leaves": []}, token=None).status_code == 401
    cases = {
        "leaves[0] must be an object with exactly code and sequence": [{"code": code}],
        "leaves[0].sequence must be an integer": [{"code": code, "sequence": "1"}],
        "leaves[0].sequence must be from 1": [{"code": code, "sequence": 0}],
        "TOO_MANY_CODES": [{"code": code, "sequence": 1}] * 501,
    }
    for wanted, leaves in cases.items():
        answer = logged.post(url, json={"leaves": leaves})
        assert answer.status_code == 400 and wanted in answer.text, answer.text
    beyond = logged.post(url, json={"size": 10**9, "leaves": [{"code": code, "sequence": 1}]})
    assert beyond.status_code == 404 and "is not between 1 and the log's" in beyond.text


def test_a_page_of_robots_is_proven_with_one_checkpoint_and_one_batch_of_proofs(
    logged: Node, store: SqliteStore
) -> None:
    key = Verifier.from_vkey(logged.get("/log/key", token=None).text)
    config = RegistryConfig(
        "cn-heis", "cn-miit", "http://node", ("CN",), ("CN",), freshness=0, timeout=30.0,
        log_key=key,
    )  # fmt: skip
    calls: list[str] = []

    async def pages() -> None:
        source = FederatedSource(
            [config],
            transports={"cn-heis": WithToken(logged)},
            on_upstream=lambda registry, route, *rest: calls.append(route),
        )
        try:
            page = await source.robots(RobotFilter(), 10, None)
            assert len(page.items) == 10 and not page.unavailable
            for record in page.items:
                assert source.log_inclusion(record.passport.code, record.head) is not None
            proven = list(calls)
            again = await source.robots(RobotFilter(), 10, None)
            assert not again.unavailable
            assert calls[len(proven) :] == ["GET /robots"]  # remembered: no log call
            # one robot of the next page is re-chained in place under the running node
            victim = store.codes()[12]
            again_events = rechain(store.events(victim))
            with store._transaction() as db:
                for new in again_events:
                    db.execute(
                        "UPDATE events SET prev_hash = ?, hash = ?, salt = ?, commitment = ?"
                        " WHERE code = ? AND sequence = ?",
                        (new.prev_hash, new.hash, new.salt, new.commitment, victim,
                         new.sequence),
                    )  # fmt: skip
                db.execute(
                    "UPDATE robots SET head_hash = ? WHERE code = ?",
                    (again_events[-1].hash, victim),
                )
            refused = await source.robots(RobotFilter(), 10, page.cursors[-1])
            (failure,) = refused.unavailable
            assert isinstance(failure, RegistryUntrusted) and refused.items == []
            assert failure.reason.startswith(f"passport {victim} version ")
        finally:
            await source.aclose()
        assert proven.count("GET /log/checkpoint") == 1
        assert proven.count("POST /log/proof/inclusions") == 1
        assert "GET /log/proof/inclusion" not in proven

    asyncio.run(pages())


def test_a_change_feed_page_is_proven_and_a_rechained_event_in_it_is_refused(
    logged: Node, store: SqliteStore
) -> None:
    key = Verifier.from_vkey(logged.get("/log/key", token=None).text)
    config = RegistryConfig(
        "cn-heis", "cn-miit", "http://node", ("CN",), ("CN",), freshness=0, timeout=30.0,
        log_key=key,
    )  # fmt: skip
    calls: list[str] = []

    async def feed() -> None:
        source = FederatedSource(
            [config],
            transports={"cn-heis": WithToken(logged)},
            on_upstream=lambda registry, route, *rest: calls.append(route),
        )
        try:
            page = await source.changes(RobotFilter(), 50, None)
            assert len(page.items) == 50 and not page.unavailable
            assert calls.count("POST /log/proof/inclusions") == 1
            # the robot of the next page's first event is re-chained in place
            nxt = store.log_rows(50, 1)[0]
            again = rechain(store.events(nxt.code))
            with store._transaction() as db:
                for new in again:
                    db.execute(
                        "UPDATE events SET prev_hash = ?, hash = ?, salt = ?, commitment = ?"
                        " WHERE code = ? AND sequence = ?",
                        (new.prev_hash, new.hash, new.salt, new.commitment, nxt.code,
                         new.sequence),
                    )  # fmt: skip
            refused = await source.changes(RobotFilter(), 50, page.cursors[-1])
            (failure,) = refused.unavailable
            assert isinstance(failure, RegistryUntrusted)
            assert failure.reason.startswith(f"passport {nxt.code} version ")
        finally:
            await source.aclose()

    asyncio.run(feed())


class FailingOnce(WithToken):
    """The node, but its first consistency proof answer is a 429 (a proxy's rate limit;
    a 5xx the client already turns into unavailable)."""

    def __init__(self, node: Node) -> None:
        super().__init__(node)
        self.failed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/log/proof/consistency" and not self.failed:
            self.failed = True
            return httpx.Response(429, text="slow down")
        return await super().handle_async_request(request)


def test_a_consistency_proof_the_node_cannot_give_now_is_no_evidence(
    logged: Node, store: SqliteStore
) -> None:
    """A 429 for the consistency proof is the registry unavailable for that read, not a
    rewrite: the gateway does not distrust it, and the next read proves it."""
    key = Verifier.from_vkey(logged.get("/log/key", token=None).text)
    config = RegistryConfig(
        "cn-heis", "cn-miit", "http://node", ("CN",), ("CN",), freshness=0, timeout=30.0,
        log_key=key,
    )  # fmt: skip
    first, second = store.codes()[:2]
    transport = FailingOnce(logged)

    async def read() -> None:
        source = FederatedSource([config], transports={"cn-heis": transport})
        try:
            assert await source.robot(first) is not None
            last = store.events(second)[-1]
            payload = {"at": format_datetime(last.at), "kind": "INSPECTION", "component": "hip",
                       "part_number": None, "performed_by": "Care", "hours_at_service": 1.0,
                       "notes": None}  # fmt: skip
            store.append(second, EventType.MAINTENANCE_RECORDED, payload, last.at)
            with pytest.raises(RegistryUnavailable, match="429 for a consistency proof"):
                await source.robot(second)
            assert transport.failed
            (status,) = source.registries()
            assert status.untrusted is None
            assert await source.robot(second) is not None
        finally:
            await source.aclose()

    asyncio.run(read())
