"""Two replicas on one PostgreSQL share one change feed: LISTEN/NOTIFY, not polling.

Issue 15's acceptance, with two real `robopass serve` processes on one
database: a write through replica A reaches a `passportChanged` subscriber of
replica B within a second of its acknowledgement, and B holds one LISTEN
connection whatever the number of its subscribers. A `fleetChanges` follower
waiting on B (`waitSeconds`) is answered by the same watcher.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from websockets.sync.client import connect

from policies.authserver import issue_token
from tests.support.demo_tokens import OWNER
from tests.support.processes import running_server

pytestmark = pytest.mark.process

SUBSCRIPTION = """subscription ($codes: [RobotCode!]) { passportChanged(codes: $codes) {
  code sequence hash type } }"""
INCIDENT = """mutation ($code: RobotCode!, $input: IncidentInput!, $key: String!) {
  reportIncident(code: $code, input: $input, idempotencyKey: $key) { sequence hash } }"""
# The LISTENs on this schema's own channel (gateway.store.feedwatch.CHANNEL_SQL).
LISTENERS = (
    "SELECT COUNT(*) FROM pg_stat_activity"
    " WHERE query = 'LISTEN \"robopass_feed_' || md5(current_schema()) || '\"'"
)


def sql(url: str, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(statement, params).fetchall()


def report(base: str, token: str, code: str, n: int) -> dict:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30 - n)
    body = {
        "query": INCIDENT,
        "variables": {
            "code": code,
            "key": f"shared-feed-{code}-{n}",
            "input": {
                "at": at.isoformat().replace("+00:00", "Z"),
                "severity": "MINOR",
                "category": "OTHER",
                "description": f"bumped a shelf ({n})",
            },
        },
    }
    answer = httpx.post(f"{base}/graphql", json=body, headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert "errors" not in answer.json(), answer.text
    return answer.json()["data"]["reportIncident"]


def test_a_write_through_replica_a_reaches_a_subscriber_of_replica_b_within_a_second(
    pg_url, tmp_path
):
    before = sql(pg_url, LISTENERS)[0][0]
    with (
        running_server(tmp_path / "a", "--db", pg_url, "--robots", "200") as a,  # A seeds
        running_server(tmp_path / "b", "--db", pg_url) as b,
    ):
        owned = [r[0] for r in sql(pg_url, "SELECT code FROM robots WHERE owner = %s", (OWNER,))]
        code = next(
            c
            for c in sorted(owned)
            if sql(pg_url, "SELECT status FROM robots WHERE code = %s", (c,))[0][0] == "ACTIVE"
        )
        writer = issue_token("fleet-owner", tmp_path / "a", f"{a}/auth")
        reader = issue_token("fleet-owner", tmp_path / "b", f"{b}/auth")
        url = b.replace("http://", "ws://") + "/graphql"
        with connect(url, subprotocols=["graphql-transport-ws"]) as socket:
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {reader}"}}
            socket.send(json.dumps(init))
            assert json.loads(socket.recv(timeout=15))["type"] == "connection_ack"
            one = {"query": SUBSCRIPTION, "variables": {"codes": [code]}}
            socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": one}))
            every = {"query": SUBSCRIPTION}  # all of the owner's robots
            socket.send(json.dumps({"id": "2", "type": "subscribe", "payload": every}))
            seen: set[str] = set()
            for n in range(30):  # subscriptions start at the feed's head: write until both see
                report(a, writer, code, n)
                try:
                    while seen != {"1", "2"}:
                        seen.add(json.loads(socket.recv(timeout=1.0))["id"])
                    break
                except TimeoutError:
                    continue
            else:
                pytest.fail(f"changes reached only subscriptions {seen} of replica B")
            while True:  # drain what the warm-up wrote
                try:
                    socket.recv(timeout=1.0)
                except TimeoutError:
                    break
            # B listens once, on a connection of its own, however many subscribe (A has none).
            assert sql(pg_url, LISTENERS)[0][0] - before == 1

            written = report(a, writer, code, 31)
            arrived = {}
            for _ in range(2):  # both subscriptions; TimeoutError: later than a second
                message = json.loads(socket.recv(timeout=1.0))
                arrived[message["id"]] = message["payload"]["data"]["passportChanged"]
            assert arrived.keys() == {"1", "2"}
            for node in arrived.values():
                assert (node["code"], node["hash"]) == (code, written["hash"])


CHANGES = """query ($after: String, $wait: Float!) {
  fleetChanges(after: $after, first: 100, waitSeconds: $wait) {
    edges { node { code hash } } pageInfo { endCursor } } }"""
FEED = "query { fleetFeed { headCursor } }"


def ask(base: str, token: str, query: str, variables: dict | None = None) -> dict:
    body = {"query": query, "variables": variables or {}}
    answer = httpx.post(
        f"{base}/graphql", json=body, headers={"authorization": f"Bearer {token}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    assert "errors" not in answer.json(), answer.text
    return answer.json()["data"]


def test_a_fleet_changes_follower_on_replica_b_is_answered_when_a_writes(pg_url, tmp_path):
    """The long poll waits on B's one watcher: a write through A answers it at once, and B
    still holds one LISTEN connection with a subscription and a long poll both waiting."""
    before = sql(pg_url, LISTENERS)[0][0]
    with (
        running_server(tmp_path / "a", "--db", pg_url, "--robots", "200") as a,
        running_server(tmp_path / "b", "--db", pg_url) as b,
    ):
        code = next(
            r[0]
            for r in sql(
                pg_url,
                "SELECT code FROM robots WHERE owner = %s AND status = 'ACTIVE' ORDER BY code",
                (OWNER,),
            )
        )
        writer = issue_token("fleet-owner", tmp_path / "a", f"{a}/auth")
        reader = issue_token("fleet-owner", tmp_path / "b", f"{b}/auth")
        head = ask(b, reader, FEED)["fleetFeed"]["headCursor"]
        idle_start = time.monotonic()
        idle = ask(b, reader, CHANGES, {"after": head, "wait": 1.0})["fleetChanges"]
        assert idle["edges"] == [] and time.monotonic() - idle_start >= 1.0, "held its wait"

        url = b.replace("http://", "ws://") + "/graphql"
        with connect(url, subprotocols=["graphql-transport-ws"]) as socket:
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {reader}"}}
            socket.send(json.dumps(init))
            assert json.loads(socket.recv(timeout=15))["type"] == "connection_ack"
            every = {"query": SUBSCRIPTION}
            socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": every}))
            with ThreadPoolExecutor(1) as pool:
                follower = pool.submit(ask, b, reader, CHANGES, {"after": head, "wait": 10.0})
                time.sleep(1.0)
                assert not follower.done(), "an empty page is held, not answered"
                assert sql(pg_url, LISTENERS)[0][0] - before == 1, "one LISTEN on B for all"
                written = report(a, writer, code, 29)
                acknowledged = time.monotonic()
                page = follower.result(timeout=10)["fleetChanges"]
                late = time.monotonic() - acknowledged
        assert [e["node"]["hash"] for e in page["edges"]] == [written["hash"]]
        assert late < 1.0, f"the held page came {late:.2f} s after A acknowledged the write"
