"""A query the database holds up stalls its own request, not the server.

A real gateway on a loopback port over a real PostgreSQL store. The test holds
a lock on its own connection, as a migration, a `VACUUM FULL` or a long
transaction of another process would, so that one request's query waits in
the database for as long as the test wants: no sleep whose length a busy
machine could outrun. While it waits, `/healthz` and a lookup of another robot
sent on other connections must be answered; then the lock goes and the held
request completes, last. Were the store called on the event loop, or through
one connection behind one lock, the quick requests would queue behind the
held one and time out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import psycopg
import pytest

from gateway.store.postgres import PostgresStore
from tests.support.loopback import serving
from tests.support.writing import Gateway, active, pick, soon, token

pytestmark = pytest.mark.process

LOOKUP = "query ($code: RobotCode!) { robot(code: $code) { code version } }"
HISTORY = """query ($code: RobotCode!) {
  robot(code: $code) { code history(first: 3) { edges { node { sequence } } } } }"""
MAINTENANCE = """mutation ($code: RobotCode!, $input: MaintenanceInput!, $key: String!) {
  recordMaintenance(code: $code, input: $input, idempotencyKey: $key) { code sequence } }"""
# Only for a server that never answers: a passing run waits on locks, not on this.
GIVE_UP = 60.0


@pytest.fixture
def pg_store(pg_url: str, fleet) -> Iterator[PostgresStore]:
    store = PostgresStore(pg_url)
    store.import_histories(fleet[:6])
    yield store
    store.close()


@contextmanager
def holding(url: str, *statements: str) -> Iterator[int]:
    """Run `statements` in a transaction left open until the block ends; yields its backend pid."""
    with psycopg.connect(url) as conn:
        pid = conn.info.backend_pid
        for statement in statements:
            conn.execute(statement)
        try:
            yield pid
        finally:
            conn.rollback()


def wait_until_blocked(url: str, blocker: int, request: Future) -> None:
    """Until a backend waits on `blocker`'s lock: the held request has reached the database."""
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + GIVE_UP
        while not conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
            (blocker,),
        ).fetchone()[0]:
            assert not request.done(), f"the request was not held: {request.result().text}"
            assert time.monotonic() < deadline, "the request never reached the database"
            time.sleep(0.02)


class Requests:
    """Requests to one server on their own connections, noted in the order they complete."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.done: list[str] = []
        self._lock = threading.Lock()

    def send(self, name: str, method: str, path: str, **kwargs) -> httpx.Response:
        with httpx.Client(base_url=self.base, timeout=GIVE_UP) as client:
            response = client.request(method, path, **kwargs)
        with self._lock:
            self.done.append(name)
        return response

    def quick_while(self, held: Future, other: str) -> None:
        """/healthz and a lookup of robot `other`, answered while `held` is still held."""
        health = self.send("healthz", "GET", "/healthz")
        body = {"query": LOOKUP, "variables": {"code": other}}
        lookup = self.send("lookup", "POST", "/graphql", json=body)
        assert not held.done()
        assert health.status_code == 200
        assert lookup.json()["data"]["robot"]["code"] == other, lookup.text


def test_a_read_held_by_the_database_does_not_delay_other_requests(pg_store, fleet):
    held_code, other = fleet[0][0].code, fleet[1][0].code
    app = Gateway(pg_store, None, policy=None).app
    history = {"query": HISTORY, "variables": {"code": held_code}}
    with serving(app) as base, ThreadPoolExecutor(1) as pool:
        requests = Requests(base)
        with holding(pg_store.url, "LOCK TABLE events IN ACCESS EXCLUSIVE MODE") as blocker:
            held = pool.submit(requests.send, "held", "POST", "/graphql", json=history)
            wait_until_blocked(pg_store.url, blocker, held)
            requests.quick_while(held, other)
        answer = held.result(timeout=GIVE_UP).json()
    assert requests.done == ["healthz", "lookup", "held"]
    edges = answer["data"]["robot"]["history"]["edges"]
    assert [e["node"]["sequence"] for e in edges] == [1, 2, 3][: len(edges)] and edges, answer


def test_a_write_waiting_on_a_row_lock_does_not_delay_reads(pg_store):
    p = pick(pg_store, lambda p: active(p) and p.current_owner.jurisdiction == "CN")
    other = next(c for c in pg_store.codes() if c != p.code)
    app = Gateway(pg_store, None).app
    service = token("service_provider", "Knee Fixers Ltd")
    repair = {
        "at": soon(),
        "kind": "REPAIR",
        "component": "left_knee",
        "performedBy": "Knee Fixers Ltd",
        "hoursAtService": 10.0,
    }
    write = {"query": MAINTENANCE, "variables": {"code": p.code, "input": repair, "key": "held"}}
    bearer = {"authorization": f"Bearer {service}"}
    lock_row = f"SELECT 1 FROM robots WHERE code = '{p.code}' FOR UPDATE"
    with serving(app) as base, ThreadPoolExecutor(1) as pool:
        requests = Requests(base)
        with holding(pg_store.url, lock_row) as blocker:
            held = pool.submit(
                requests.send, "held", "POST", "/graphql", json=write, headers=bearer
            )
            wait_until_blocked(pg_store.url, blocker, held)
            requests.quick_while(held, other)
        answer = held.result(timeout=GIVE_UP).json()
    assert requests.done == ["healthz", "lookup", "held"]
    written = answer["data"]["recordMaintenance"]
    assert (written["code"], written["sequence"]) == (p.code, pg_store.head(p.code).sequence)
