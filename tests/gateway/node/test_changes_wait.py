"""`GET /changes?waitMs=`: a node holds an empty answer until its feed moves, and the
federation's follower rides on it (`gateway.federation.freshness.Follower`).

The node wakes on its store's one watcher (LISTEN/NOTIFY on PostgreSQL, one
head reader per process on SQLite), so both backends run every test here.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from gateway.federation.client import RegistryClient
from gateway.federation.config import RegistryConfig
from gateway.federation.freshness import Follower, Freshness
from gateway.store import Store
from tests.support.node import Node, WithToken, append_body
from tests.support.stores import empty_store, store  # noqa: F401  # both backends

PROBLEM = "application/problem+json"


@pytest.fixture
def node(store: Store, tmp_path: Path) -> Node:  # noqa: F811
    return Node(store, "cn-miit", tmp_path / "data")


def head(node: Node) -> int:
    return node.store.feed_head()


async def client(node: Node) -> httpx.AsyncClient:
    headers = {"authorization": f"Bearer {node.service}"}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=node.app), base_url="http://node", headers=headers
    )


def test_a_held_answer_returns_as_soon_as_a_change_commits(node: Node, fleet) -> None:
    code = fleet[0][0].code
    after = head(node)

    async def run() -> tuple[dict, float, dict]:
        async with await client(node) as http:
            waiting = asyncio.create_task(
                http.get("/changes", params={"after": after, "waitMs": 8000})
            )
            await asyncio.sleep(0.5)
            assert not waiting.done(), "an empty answer is held"
            wrote = await http.post(
                f"/robots/{code}/events", json=append_body(), headers={"idempotency-key": "w1"}
            )
            written = time.monotonic()
            answer = await waiting
            return answer.json(), time.monotonic() - written, wrote.json()

    body, late, wrote = asyncio.run(run())
    assert [c["event"]["hash"] for c in body["changes"]] == [wrote["event"]["hash"]]
    assert body["lastPosition"] == after + 1
    assert 500 <= body["waitedMs"] < 8000  # the answered read began after the write
    assert late < 2.0, f"the held answer came {late:.2f} s after the write, not at once"


def test_an_idle_hold_lasts_its_wait_and_says_how_late_it_read(node: Node) -> None:
    after = head(node)

    async def run() -> tuple[dict, float]:
        async with await client(node) as http:
            start = time.monotonic()
            answer = await http.get("/changes", params={"after": after, "waitMs": 600})
            return answer.json(), time.monotonic() - start

    body, took = asyncio.run(run())
    assert body == {"changes": [], "lastPosition": after, "waitedMs": body["waitedMs"]}
    assert 600 <= body["waitedMs"] <= took * 1000
    plain = node.get("/changes", params={"after": after}).json()
    assert plain == {"changes": [], "lastPosition": after}, "no waitMs: no hold, no waitedMs"


def test_a_wait_out_of_bounds_is_refused_in_one_line(node: Node) -> None:
    for bad in ("10001", "-1", "1.5", "soon"):
        answer = node.get("/changes", params={"waitMs": bad})
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"] == PROBLEM
        detail = answer.json()["detail"]
        assert "waitMs must be an integer from 0 to 10000" in detail and "\n" not in detail


def test_the_follower_is_held_by_the_node_and_a_write_invalidates_at_once(
    node: Node, fleet
) -> None:
    """Bound 6 s: a polling follower would look every 3 s; a held one hears at commit."""
    code = fleet[0][0].code
    config = RegistryConfig(
        "cn-heis", "cn-miit", "http://node", ("CN",), ("CN",), freshness=6.0, timeout=30.0
    )

    async def run() -> tuple[float, int, float]:
        registry = RegistryClient(config, transport=WithToken(node))
        fresh = Freshness(config.freshness)
        follower = Follower(registry, fresh, config.freshness / 2)
        task = asyncio.create_task(follower.run())
        try:
            while fresh.verified_at is None:
                await asyncio.sleep(0.05)
            record = await asyncio.to_thread(node.store.record, code)
            assert record is not None
            fresh.grant(code, record.head.hash, fresh.epoch)
            assert fresh.current(code, record.head.hash)
            await asyncio.sleep(0.5)  # the follower's request is being held now
            async with await client(node) as http:
                await http.post(
                    f"/robots/{code}/events", json=append_body(), headers={"idempotency-key": "f1"}
                )
            written = time.monotonic()
            while fresh.current(code, record.head.hash):
                await asyncio.sleep(0.01)
            late = time.monotonic() - written
            await asyncio.sleep(2.5)  # idle: held polls renew trust back to back
            age = fresh.clock() - (fresh.verified_at or 0.0)
            return late, follower.wait_ms, age
        finally:
            task.cancel()
            await registry.aclose()

    late, wait_ms, age = asyncio.run(run())
    assert wait_ms == 2000  # a third of the bound
    assert late < 1.5, f"invalidated {late:.2f} s after the write, not as it committed"
    assert age <= 6.0, "trust stays renewed within the bound while the feed is idle"
