"""`passportChanged` over graphql-transport-ws from a real `robopass serve` process.

Events are appended through the store from the test, as another writer
process would, and arrive over a real websocket client, masked.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from gateway.store import SqliteStore
from policies import AuditLog
from policies.authserver import issue_token, signing_key
from schema.campaigns import Campaign, CampaignKind, Issuer, RecallTerms, Selector
from schema.events import EventType
from schema.passport import Severity
from tests.support.demo_tokens import OWNER
from tests.support.feeds import FINDINGS, incident
from tests.support.processes import running_server
from tests.support.stores import record

pytestmark = pytest.mark.process

SUBSCRIPTION = """subscription ($codes: [RobotCode!]) { passportChanged(codes: $codes) {
  code sequence hash type payload robot { code ownership { owner } } } }"""


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("ws") / "data"
    with running_server(data_dir, "--robots", "200") as base:
        yield base, data_dir


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/graphql"


def robots(data_dir: Path) -> tuple[list[str], list[str]]:
    """Codes owned by the demo fleet owner, and the others."""
    db = sqlite3.connect(data_dir / "demo-cn.db")
    try:
        rows = db.execute("SELECT code, owner FROM robots ORDER BY code").fetchall()
    finally:
        db.close()
    return [c for c, o in rows if o == OWNER], [c for c, o in rows if o != OWNER]


def opened(base: str, payload: dict | None = None, **headers: str) -> ClientConnection:
    socket = connect(
        ws_url(base), subprotocols=["graphql-transport-ws"], additional_headers=headers
    )  # closed by each test; the context-manager form would hide the close under test
    socket.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
    return socket


def receive(socket: ClientConnection, timeout: float = 15.0) -> dict:
    return json.loads(socket.recv(timeout=timeout))


def test_the_owner_sees_its_changes_arrive_masked_and_audited(server):
    base, data_dir = server
    owned, others = robots(data_dir)
    assert owned and others
    token = issue_token("fleet-owner", data_dir, f"{base}/auth")
    store = SqliteStore(data_dir / "demo-cn.db")
    socket = opened(base, {"Authorization": f"Bearer {token}"})
    try:
        assert receive(socket)["type"] == "connection_ack"
        socket.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        )
        at = datetime(2026, 11, 2, 8, tzinfo=UTC)
        first = None
        for attempt in range(60):  # the subscription starts at the feed's head: write until seen
            store.append(owned[0], EventType.MAINTENANCE_RECORDED, record(attempt), at)
            try:
                first = receive(socket, timeout=0.5)
                break
            except TimeoutError:
                continue
        assert first is not None and first["type"] == "next", first
        node = first["payload"]["data"]["passportChanged"]
        assert node["code"] == owned[0] and node["type"] == "MAINTENANCE_RECORDED"
        assert node["robot"]["ownership"][-1]["owner"] == OWNER
        while True:  # drain the writes made before the first arrived
            try:
                receive(socket, timeout=1.0)
            except TimeoutError:
                break
        store.append(others[0], EventType.MAINTENANCE_RECORDED, record(1.5), at)
        hidden = store.append(owned[-1], EventType.INCIDENT_REPORTED, incident(at), at)
        shown = store.append(owned[0], EventType.MAINTENANCE_RECORDED, record(2.5), at)
        raw = [socket.recv(timeout=15), socket.recv(timeout=15)]
        nodes = [json.loads(r)["payload"]["data"]["passportChanged"] for r in raw]
        assert [n["hash"] for n in nodes] == [hidden.hash, shown.hash], "others' robots are absent"
        assert nodes[0]["payload"] is None and nodes[0]["type"] is None
        assert all(FINDINGS not in r for r in raw), "restricted findings never leave"
        errors = json.loads(raw[0])["payload"]["errors"]
        assert {e["extensions"]["code"] for e in errors} == {"UNAUTHORIZED_FIELD_OR_TYPE"}
        assert nodes[1]["payload"]["hours_at_service"] == 2.5
    finally:
        socket.close()
        store.close()
    audit = AuditLog(str(data_dir / "demo-cn.audit.db"))
    try:
        trail = audit.trail(owned[-1])
        assert any("incidents" in r.record.denied for r in trail)
        assert not audit.trail(others[0]), "nothing of another owner's robot was disclosed"
    finally:
        audit.close()
    assert httpx.get(f"{base}/healthz").status_code == 200, "a disconnect leaves the server well"


def test_the_upgrade_header_carries_the_token_and_codes_narrow_the_feed(server):
    base, data_dir = server
    owned, _ = robots(data_dir)
    assert len(owned) >= 2
    token = issue_token("fleet-owner", data_dir, f"{base}/auth")
    store = SqliteStore(data_dir / "demo-cn.db")
    socket = opened(base, None, Authorization=f"Bearer {token}")
    try:
        assert receive(socket)["type"] == "connection_ack"
        payload = {"query": SUBSCRIPTION, "variables": {"codes": [owned[1]]}}
        socket.send(json.dumps({"id": "a", "type": "subscribe", "payload": payload}))
        at = datetime(2026, 11, 3, 8, tzinfo=UTC)
        for attempt in range(60):
            store.append(owned[0], EventType.MAINTENANCE_RECORDED, record(attempt), at)
            store.append(owned[1], EventType.MAINTENANCE_RECORDED, record(attempt), at)
            try:
                message = receive(socket, timeout=0.5)
                break
            except TimeoutError:
                continue
        assert message["payload"]["data"]["passportChanged"]["code"] == owned[1]
        socket.send(json.dumps({"id": "a", "type": "complete"}))
    finally:
        socket.close()
        store.close()


def test_a_campaign_reaching_an_owned_robot_arrives_as_its_event(server):
    """Issue 17: the owner learns of a recall at once, over the subscription it holds."""
    base, data_dir = server
    owned, _ = robots(data_dir)
    token = issue_token("fleet-owner", data_dir, f"{base}/auth")
    store = SqliteStore(data_dir / "demo-cn.db")
    code = next(c for c in owned if store.passport(c).identity.status.value == "ACTIVE")
    socket = opened(base, {"Authorization": f"Bearer {token}"})
    try:
        assert receive(socket)["type"] == "connection_ack"
        payload = {"query": SUBSCRIPTION, "variables": {"codes": [code]}}
        socket.send(json.dumps({"id": "c", "type": "subscribe", "payload": payload}))
        at = datetime(2026, 11, 4, 8, tzinfo=UTC)
        for attempt in range(60):  # the subscription starts at the feed's head: write until seen
            store.append(code, EventType.MAINTENANCE_RECORDED, record(attempt), at)
            try:
                receive(socket, timeout=0.5)
                break
            except TimeoutError:
                continue
        while True:  # drain the writes made before the first arrived
            try:
                receive(socket, timeout=1.0)
            except TimeoutError:
                break
        # A recall of exactly this robot, by its code's segments, fanned out by the registry.
        selector = Selector(
            registry_country=code[:2],
            manufacturer_code=code[2:6],
            model_code=code[6:12],
            sequence_from=code[19:28],
            sequence_until=code[19:28],
        )
        store.issue_campaign(
            Campaign(
                "CN-RC-WS-1",
                CampaignKind.RECALL,
                Issuer("reg:CN:SAMR", "regulator", "CN"),
                "GB/T 1",
                "Knee",
                datetime.now(UTC),
                selector,
                recall=RecallTerms("knee may lock", Severity.SERIOUS, "replace it"),
            )
        )
        assert store.run_campaign("CN-RC-WS-1").reached == 1
        message = receive(socket)
        node = message["payload"]["data"]["passportChanged"]
        assert node["code"] == code and node["type"] == "RECALL_ISSUED"
        assert node["payload"]["reference"] == "CN-RC-WS-1"
        socket.send(json.dumps({"id": "c", "type": "complete"}))
    finally:
        socket.close()
        store.close()


@pytest.mark.parametrize("where", ["payload", "header"])
def test_a_bad_token_closes_the_socket_before_anything_runs(server, where):
    base, _ = server
    bad = "Bearer not-a-token"
    socket = (
        opened(base, {"Authorization": bad})
        if where == "payload"
        else opened(base, None, Authorization=bad)
    )
    with pytest.raises(ConnectionClosed) as closed:
        receive(socket)
    assert closed.value.rcvd.code == 4403


def test_the_anonymous_caller_has_no_fleet_to_follow(server):
    base, _ = server
    socket = opened(base)
    try:
        assert receive(socket)["type"] == "connection_ack"
        socket.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        )
        message = receive(socket)
        assert message["type"] in ("error", "next")
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    finally:
        socket.close()


def test_limits_apply_over_the_socket(server):
    base, _ = server
    socket = opened(base)
    aliases = " ".join(f'a{i}: decodeRobotCode(code: "x") {{ valid }}' for i in range(40))
    try:
        assert receive(socket)["type"] == "connection_ack"
        payload = {"query": "query { " + aliases + " }"}
        socket.send(json.dumps({"id": "q", "type": "subscribe", "payload": payload}))
        message = receive(socket)
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "MAX_ALIASES_LIMIT"
    finally:
        socket.close()


def test_subscriptions_over_http_are_refused(server):
    base, _ = server
    response = httpx.post(f"{base}/graphql", json={"query": SUBSCRIPTION})
    assert response.status_code in (400, 405)
    assert "data" not in response.json()


def short_lived(data_dir: Path, base: str, seconds: int) -> str:
    """The fleet owner's token, re-signed with the server's key to expire in `seconds`."""
    real = issue_token("fleet-owner", data_dir, f"{base}/auth")
    header, claims = (
        json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        for part in real.split(".")[:2]
    )
    claims["exp"] = int(time.time()) + seconds
    return jwt.encode(header, claims, signing_key(data_dir), algorithms=[header["alg"]])


def test_a_subscription_ends_when_its_token_expires(server):
    base, data_dir = server
    owned, _ = robots(data_dir)
    token = short_lived(data_dir, base, 3)
    store = SqliteStore(data_dir / "demo-cn.db")
    socket = opened(base, {"Authorization": f"Bearer {token}"})
    try:
        assert receive(socket)["type"] == "connection_ack"
        socket.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        )
        ended = None
        at = datetime(2026, 11, 7, 8, tzinfo=UTC)
        for attempt in range(40):  # keep writing; the stream must stop once the token lapses
            store.append(owned[0], EventType.MAINTENANCE_RECORDED, record(attempt), at)
            try:
                message = receive(socket, timeout=0.5)
            except TimeoutError:
                continue
            if message["type"] != "next" or message["payload"].get("errors"):
                ended = message
                break
        assert ended is not None, "events kept flowing after the token expired"
        errors = ended["payload"]["errors"] if ended["type"] == "next" else ended["payload"]
        assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
        socket.send(
            json.dumps({"id": "2", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        )
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                receive(socket)
        assert closed.value.rcvd.code == 4403
    finally:
        socket.close()
        store.close()
