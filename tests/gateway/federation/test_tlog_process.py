"""The transparency log end to end, every part a real process on loopback.

An authorization server, a registry node that submits its checkpoints to a
witness, the witness, and `robopass serve` gateways configured to require the
node's log key and the witness's cosignature. A node that rewrites one robot's
history in its database (re-chained, every hash valid) is caught by the
gateway that saw the log before and by a fresh one; a node whose two copies
show two gateways two histories gets one view cosigned and the other refused.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from gateway.store import SqliteStore
from gateway.store.sql import EVENT_COLUMNS, row_event
from schema.codec import format_datetime, to_plain
from schema.events import GENESIS, EventType, chain
from schema.passport import MaintenanceKind, MaintenanceRecord
from tests.support.cli_process import robopass_text
from tests.support.ports import free_port
from tests.support.processes import Server

pytestmark = pytest.mark.process

SECRET = {"ROBOPASS_GATEWAY_SECRET": "dev-secret-robopass-gateway"}
ROBOTS = 12
REGISTRY = "cn-heis"

CONFIG = """
[[registries]]
id = "cn-heis"
format = "cn-miit"
base_url = "{node}"
countries = ["CN"]
freshness = 0
log_key = "{log_key}"
witnesses = ["{witness_key}"]

[registries.credentials]
token_url = "{issuer}/token"
client_id = "robopass-gateway"
client_secret_env = "ROBOPASS_GATEWAY_SECRET"
"""


def cli(args: list[str]) -> subprocess.CompletedProcess:
    return robopass_text(*args)


def robopass(args: list[str], env: dict | None = None) -> Server:
    server = Server([sys.executable, "-m", "gateway.cli", *args], env={**os.environ, **(env or {})})
    server.wait_for("Uvicorn running on", timeout=120)
    return server


@dataclass
class World:
    data: Path
    issuer: str
    servers: list[Server] = field(default_factory=list)
    witness_url: str = ""
    witness_key: str = ""
    witness: Server | None = None

    def start(self, args: list[str], env: dict | None = None) -> Server:
        server = robopass(args, env)
        self.servers.append(server)
        return server

    def node(self, folder: Path, port: int) -> Server:
        return self.start(
            ["registry", "serve", "--format", "cn-miit", "--robots", str(ROBOTS),
             "--trust-issuer", self.issuer, "--data-dir", str(folder), "--port", str(port),
             "--witness", self.witness_url + "/add-checkpoint"]
        )  # fmt: skip

    def start_witness(self, log_key: str, port: int) -> None:
        self.witness = self.start(
            ["witness", "serve", "--log", log_key, "--port", str(port),
             "--data-dir", str(self.data / "witness"), "--name", "witness.test/w1"]
        )  # fmt: skip
        self.witness_url = f"http://127.0.0.1:{port}"
        self.witness_key = httpx.get(self.witness_url + "/key").text.strip()

    def gateway(self, node: str, log_key: str, name: str) -> str:
        config = self.data / f"{name}.toml"
        config.write_text(
            CONFIG.format(
                node=node, log_key=log_key, witness_key=self.witness_key, issuer=self.issuer
            )
        )
        port = free_port()
        self.start(
            ["serve", "--config", str(config), "--port", str(port),
             "--data-dir", str(self.data / name)],
            env=SECRET,
        )  # fmt: skip
        return f"http://127.0.0.1:{port}"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    port = free_port()
    auth = robopass(["auth-server", "--port", str(port), "--data-dir", str(tmp_path / "auth")])
    w = World(tmp_path, f"http://127.0.0.1:{port}", [auth])
    try:
        yield w
    finally:
        for server in reversed(w.servers):
            server.stop()


def seed_node(world: World, folder: Path) -> str:
    """Seed a node's store once (a short first run) and return its log key."""
    port = free_port()
    first = robopass(
        ["registry", "serve", "--format", "cn-miit", "--robots", str(ROBOTS),
         "--trust-issuer", world.issuer, "--data-dir", str(folder), "--port", str(port)]
    )  # fmt: skip
    key = httpx.get(f"http://127.0.0.1:{port}/log/key").text.strip()
    first.stop()
    return key


def query(gateway: str, text: str) -> dict:
    return httpx.post(gateway + "/graphql", json={"query": text}, timeout=30).json()


def some_code(folder: Path) -> str:
    db = sqlite3.connect(folder / f"node-{REGISTRY}.db")
    try:
        return db.execute("SELECT code FROM robots ORDER BY code LIMIT 1").fetchone()[0]
    finally:
        db.close()


def robot(gateway: str, code: str) -> dict:
    return query(gateway, f'{{ robot(code: "{code}") {{ code }} }}')


def untrusted(body: dict) -> list[dict]:
    return [
        e["extensions"]
        for e in body.get("errors", [])
        if e.get("extensions", {}).get("code") == "REGISTRY_UNTRUSTED"
    ]


def rewrite_history(folder: Path, code: str) -> None:
    """What a dishonest operator can do with its own database: backdate the robot's last
    event and re-chain its whole history with fresh salts, so every link still verifies."""
    db = sqlite3.connect(folder / f"node-{REGISTRY}.db")
    try:
        rows = db.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE code = ? ORDER BY sequence", (code,)
        ).fetchall()
        events = [row_event(r) for r in rows]
        prev = GENESIS
        for i, e in enumerate(events):
            at = e.at - timedelta(days=1) if i == len(events) - 1 else e.at
            again = chain(e.code, e.sequence, at, e.type, e.payload, prev)
            db.execute(
                "UPDATE events SET at = ?, prev_hash = ?, hash = ?, salt = ?, commitment = ?"
                " WHERE code = ? AND sequence = ?",
                (format_datetime(at), again.prev_hash, again.hash, again.salt,
                 again.commitment, code, e.sequence),
            )  # fmt: skip
            prev = again.hash
        db.execute("UPDATE robots SET head_hash = ? WHERE code = ?", (prev, code))
        db.commit()
    finally:
        db.close()


def test_a_rewritten_history_is_caught_by_the_gateway_that_saw_the_log_and_a_new_one(
    world: World,
) -> None:
    folder = world.data / "node"
    log_key = seed_node(world, folder)
    world.start_witness(log_key, free_port())
    node_port = free_port()
    node = world.node(folder, node_port)
    base = f"http://127.0.0.1:{node_port}"
    gateway = world.gateway(base, log_key, "gw1")
    code = some_code(folder)

    body = robot(gateway, code)
    assert body.get("errors") is None and body["data"]["robot"]["code"] == code
    status = query(gateway, "{ registries { id untrusted checkpoint } }")["data"]["registries"]
    assert status == [{"id": REGISTRY, "untrusted": None, "checkpoint": status[0]["checkpoint"]}]
    assert status[0]["checkpoint"] > 0

    node.proc.send_signal(signal.SIGKILL)
    node.proc.wait()
    rewrite_history(folder, code)
    world.node(folder, node_port)

    body = robot(gateway, code)
    (evidence,) = untrusted(body)
    assert evidence["registry"] == REGISTRY
    # same size, another root: the log was rewritten, not extended
    assert evidence["evidence"].startswith("two roots for one size: checkpoint")
    ready = httpx.get(gateway + "/readyz").json()
    assert ready["registries"][0]["untrusted"] == evidence["evidence"]
    # a gateway that never saw the honest log: the witness refused the rewrite
    fresh = world.gateway(base, log_key, "gw2")
    (evidence,) = untrusted(robot(fresh, code))
    assert "lacks the cosignature of witness witness.test/w1" in evidence["evidence"]
    refused = httpx.get(world.witness_url + "/logs").json()
    assert refused["logs"][f"robopass.registry/{REGISTRY}/events"] == status[0]["checkpoint"]
    # offline: the rewritten version's proof carries no cosignature, and verify says so
    credential, proof = world.data / "c.jwt", world.data / "p.json"
    export = cli(
        ["export", code, "--format", "canonical", "--sign", "--db",
         str(folder / f"node-{REGISTRY}.db"), "--data-dir", str(folder), "-o", str(credential),
         "--proof", str(proof), "--witness", world.witness_url + "/add-checkpoint"]
    )  # fmt: skip
    assert export.returncode == 0, export.stderr
    assert "did not cosign: 409" in export.stderr
    checked = cli(
        ["verify", str(credential), "--data-dir", str(folder), "--proof", str(proof),
         "--log-key", log_key, "--witness", world.witness_key]
    )  # fmt: skip
    assert checked.returncode == 1
    assert checked.stdout.startswith("INVALID (witness): checkpoint ")
    assert "has no cosignature of witness.test/w1" in checked.stdout


def robots_page(gateway: str, first: int) -> dict:
    return query(gateway, f"{{ robots(first: {first}) {{ edges {{ node {{ code }} }} }} }}")


def test_a_list_with_one_rewritten_robot_is_refused_item_by_item(world: World) -> None:
    """A gateway that only ever lists robots catches a node that rewrote one robot of
    many and restarted (its log rebuilt from the rewritten rows): the page is refused
    with the evidence, by a gateway that listed the honest log and by a fresh one."""
    folder = world.data / "node"
    log_key = seed_node(world, folder)
    world.start_witness(log_key, free_port())
    node_port = free_port()
    node = world.node(folder, node_port)
    base = f"http://127.0.0.1:{node_port}"
    gateway = world.gateway(base, log_key, "gw-list")

    body = robots_page(gateway, 100)
    assert body.get("errors") is None, body
    codes = [e["node"]["code"] for e in body["data"]["robots"]["edges"]]
    assert len(codes) == ROBOTS
    victim = codes[len(codes) // 2]

    node.proc.send_signal(signal.SIGKILL)
    node.proc.wait()
    rewrite_history(folder, victim)
    world.node(folder, node_port)

    # a fresh gateway that only lists: the rewritten checkpoint lacks the cosignature
    lister = world.gateway(base, log_key, "gw-lister")
    (evidence,) = untrusted(robots_page(lister, 100))
    assert evidence["registry"] == REGISTRY
    assert "lacks the cosignature of witness witness.test/w1" in evidence["evidence"]
    # the gateway that listed the honest log: the same size with another root
    body = robots_page(gateway, 100)
    (evidence,) = untrusted(body)
    assert evidence["evidence"].startswith("two roots for one size: checkpoint")
    assert body["data"]["robots"]["edges"] == []


def test_a_list_with_a_version_outside_the_log_names_that_version(world: World) -> None:
    """The node's log and its list disagree about one robot (its row changed under the
    running node: the log keeps what it first logged), so the checkpoint is honest and
    cosigned but one item's proof fails: the evidence names that robot's version."""
    folder = world.data / "node"
    log_key = seed_node(world, folder)
    world.start_witness(log_key, free_port())
    node_port = free_port()
    world.node(folder, node_port)
    gateway = world.gateway(f"http://127.0.0.1:{node_port}", log_key, "gw-items")
    codes = [e["node"]["code"] for e in robots_page(gateway, 3)["data"]["robots"]["edges"]]
    victim = sorted(some_codes(folder))[-1]
    assert victim not in codes
    rewrite_history(folder, victim)

    body = robots_page(gateway, 100)
    (evidence,) = untrusted(body)
    assert evidence["evidence"].startswith(f"passport {victim} version ")
    assert "the inclusion proof fails" in evidence["evidence"]
    ready = httpx.get(gateway + "/readyz").json()
    assert ready["registries"][0]["untrusted"] == evidence["evidence"]


def some_codes(folder: Path) -> list[str]:
    db = sqlite3.connect(folder / f"node-{REGISTRY}.db")
    try:
        return [row[0] for row in db.execute("SELECT code FROM robots ORDER BY code")]
    finally:
        db.close()


def test_a_split_view_is_refused_by_the_witness_and_reported_by_the_second_gateway(
    world: World,
) -> None:
    one, two = world.data / "one", world.data / "two"
    log_key = seed_node(world, one)
    shutil.copytree(one, two)
    code = some_code(one)
    # the two copies diverge: each records a different visit as the robot's next event
    for folder, shop in ((one, "Honest Care"), (two, "Other Care")):
        store = SqliteStore(folder / f"node-{REGISTRY}.db", registry=REGISTRY)
        try:
            at = store.events(code)[-1].at + timedelta(hours=1)
            visit = MaintenanceRecord(
                at, MaintenanceKind.INSPECTION, "wrist", None, shop, 9.0, None
            )
            store.append(code, EventType.MAINTENANCE_RECORDED, to_plain(visit), at)
        finally:
            store.close()
    world.start_witness(log_key, free_port())
    ports = free_port(), free_port()
    world.node(one, ports[0])
    first = world.gateway(f"http://127.0.0.1:{ports[0]}", log_key, "gw-one")
    body = robot(first, code)
    assert body.get("errors") is None, body
    world.node(two, ports[1])
    second = world.gateway(f"http://127.0.0.1:{ports[1]}", log_key, "gw-two")
    (evidence,) = untrusted(robot(second, code))
    assert evidence["evidence"].endswith("lacks the cosignature of witness witness.test/w1")
    (status,) = query(second, "{ registries { untrusted } }")["data"]["registries"]
    assert "lacks the cosignature" in status["untrusted"]
    # the first gateway still serves its view, which the witness cosigned
    assert robot(first, code).get("errors") is None


def test_kill_9_of_node_and_witness_at_random_points_raises_no_false_alarm(world: World) -> None:
    folder = world.data / "node"
    log_key = seed_node(world, folder)
    witness_port, node_port = free_port(), free_port()
    world.start_witness(log_key, witness_port)
    node = world.node(folder, node_port)
    gateway = world.gateway(f"http://127.0.0.1:{node_port}", log_key, "gw")
    codes = [some_code(folder)]
    rng = random.Random(19)
    store = SqliteStore(folder / f"node-{REGISTRY}.db", registry=REGISTRY)
    try:
        for round_ in range(8):
            code = codes[0]
            at = store.events(code)[-1].at + timedelta(hours=1)
            kind = MaintenanceKind.INSPECTION
            visit = MaintenanceRecord(at, kind, "hip", None, f"shop {round_}", 1.0, None)
            store.append(code, EventType.MAINTENANCE_RECORDED, to_plain(visit), at)
            victim = rng.choice(["node", "witness", "none"])
            delay = rng.uniform(0.0, 0.3)
            reader = threading.Thread(target=robot, args=(gateway, code))
            reader.start()
            time.sleep(delay)
            if victim == "node":
                node.proc.send_signal(signal.SIGKILL)
                node.proc.wait()
                node = world.node(folder, node_port)
            elif victim == "witness" and world.witness is not None:
                world.witness.proc.send_signal(signal.SIGKILL)
                world.witness.proc.wait()
                world.start_witness(log_key, witness_port)
            reader.join()
        deadline = time.monotonic() + 60
        while True:
            body = robot(gateway, codes[0])
            if body.get("errors") is None or time.monotonic() > deadline:
                break
            assert not untrusted(body) or "lacks the cosignature" in untrusted(body)[0]["evidence"]
            time.sleep(0.5)
        assert body.get("errors") is None, body
    finally:
        store.close()
    (status,) = query(gateway, "{ registries { untrusted checkpoint } }")["data"]["registries"]
    assert status["untrusted"] is None and status["checkpoint"] > 0
    witness_db = sqlite3.connect(world.data / "witness" / "witness.db")
    try:
        assert witness_db.execute("SELECT COUNT(*) FROM refused").fetchone() == (0,)
    finally:
        witness_db.close()
