"""A federation asks its nodes for a count only when its own caller selects `totalCount`.

A registry node answers `GET /robots:count` with an exact count, at a million robots
dearer than the page (BENCHMARKS.md, "The million-robot run"). The gateway in front
(strawberry and compiled plans alike) asks for it only for an operation that selects
`totalCount`, and then while the page is asked for, so that a slow node costs one
timeout, not two. A real node app in process over a real store on both backends,
reached through the federation's own client; the routes it was asked are those the
client reports to its `on_upstream` hook, and the counts its store made are counted.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from gateway.endpoint.options import GraphQLOptions
from gateway.federation.config import RegistryConfig
from gateway.federation.source import FederatedSource
from gateway.service.services import Services
from gateway.store import Store
from gateway.web.app import create_app
from schema.source import RobotFilter
from tests.support.node import Node, WithToken
from tests.support.stores import empty_store, store

__all__ = ["empty_store", "store"]

PAGE = "GET /robots"
COUNT = "GET /robots:count"


class Gathered(httpx.AsyncBaseTransport):
    """The node, where a page and a count are let through only once both are in flight:
    asked one after the other, the first waits `patience` seconds alone and says so."""

    def __init__(self, inner: httpx.AsyncBaseTransport, patience: float) -> None:
        self.inner = inner
        self.patience = patience
        self.alone: list[str] = []
        self.barrier: asyncio.Barrier | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path in ("/robots", "/robots:count"):
            self.barrier = self.barrier or asyncio.Barrier(2)
            try:
                await asyncio.wait_for(self.barrier.wait(), self.patience)
            except TimeoutError:
                self.alone.append(request.url.path)
        return await self.inner.handle_async_request(request)


def gateway(
    node: Node, compiled: bool, transport: httpx.AsyncBaseTransport | None = None
) -> tuple[FederatedSource, object, list[str]]:
    """A gateway over the one node: its source, its app, and the routes it asked."""
    asked: list[str] = []
    config = RegistryConfig(
        "cn-heis", "cn-miit", "http://node", ("CN",), ("CN",), freshness=0, timeout=30.0
    )
    source = FederatedSource(
        [config],
        transports={"cn-heis": transport or WithToken(node)},
        on_upstream=lambda registry, route, seconds, outcome: asked.append(route),
    )
    app = create_app(Services(source, policy=None), GraphQLOptions(compiled=compiled))
    return source, app, asked


def ask(source: FederatedSource, app: object, query: str, times: int = 2) -> list[dict]:
    async def run() -> list[dict]:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # a Starlette app
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                out = []
                for _ in range(times):  # the second through the plan, when compiled
                    response = await client.post("/graphql", json={"query": query})
                    assert response.status_code == 200, response.text
                    out.append(response.json())
                return out
        finally:
            await source.aclose()

    return asyncio.run(run())


def counting(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[RobotFilter | None]:
    calls: list[RobotFilter | None] = []
    original = store.count

    def count(where: RobotFilter | None = None) -> int:
        calls.append(where)
        return original(where)

    monkeypatch.setattr(store, "count", count)
    return calls


@pytest.mark.parametrize("compiled", [False, True], ids=["strawberry", "compiled"])
@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("{ robots(first: 4) { edges { node { code } } pageInfo { hasNextPage } } }", None),
        ("{ robots(first: 4) { totalCount @skip(if: true) edges { cursor } } }", None),
        ("{ robots(first: 4) { n: totalCount edges { cursor } } }", "n"),
        (
            "{ robots(first: 4) { ...C } } fragment C on RobotConnection { totalCount }",
            "totalCount",
        ),
    ],
)
def test_a_node_is_asked_to_count_only_for_a_caller_who_selects_it(
    store: Store, fleet, tmp_path: Path, monkeypatch, compiled: bool, query: str, key: str | None
) -> None:
    node = Node(store, "cn-miit", tmp_path / "data")
    counted = counting(store, monkeypatch)
    source, app, asked = gateway(node, compiled)
    answers = ask(source, app, query)
    for body in answers:
        assert "errors" not in body, body
        page = body["data"]["robots"]
        assert len(page.get("edges", [None] * 4)) == 4
        if key is not None:
            assert page[key] == len(fleet)  # exact: the node's whole fleet
        else:
            assert "totalCount" not in page
    assert asked.count(PAGE) == 2
    assert asked.count(COUNT) == (0 if key is None else 2)
    assert len(counted) == (0 if key is None else 2)


@pytest.mark.parametrize("compiled", [False, True], ids=["strawberry", "compiled"])
def test_a_selected_count_is_asked_while_the_page_is(
    store: Store, fleet, tmp_path: Path, compiled: bool
) -> None:
    """One timeout, not two: the page and the count are in flight at once. Asked one
    after the other, the first would wait at the node's gate alone."""
    node = Node(store, "cn-miit", tmp_path / "data")
    gate = Gathered(WithToken(node), patience=10.0)
    source, app, asked = gateway(node, compiled, gate)
    query = "{ robots(first: 4) { totalCount edges { cursor } } }"
    for body in ask(source, app, query):
        assert "errors" not in body, body
        assert body["data"]["robots"]["totalCount"] == len(fleet)
    assert gate.alone == [] and asked.count(COUNT) == asked.count(PAGE) == 2
