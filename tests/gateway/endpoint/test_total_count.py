"""`totalCount` is counted only when the operation selects it, by either executor.

An exact count costs more than a page at a million robots (BENCHMARKS.md, "The
million-robot run"), so `robots` asks the store to count only for an operation that
selects `totalCount`: under an alias, in a named or inline fragment, and not where
`@skip`/`@include` drop it. Each document is sent twice to an app with compiled plans
(the first answer is strawberry's, the second the plan's when the document compiles)
and once to an app without, over a real store on both backends whose `count` calls
are counted; the counts it answers are checked against the fleet itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from starlette.routing import Route

from gateway.endpoint.options import GraphQLOptions
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import Store
from gateway.web.app import create_app
from schema.events import fold
from schema.graphql.pages import Total
from schema.source import RobotFilter
from tests.support.stores import empty_store, store

__all__ = ["empty_store", "store"]

COUNTED = "fragment Counted on RobotConnection { totalCount }"

# (document, variables, whether it selects totalCount, under which response key)
CASES = [
    ("{ robots(first: 5) { edges { cursor node { code } } } }", None, None),
    ("{ robots(first: 5) { pageInfo { hasNextPage endCursor } __typename } }", None, None),
    ("{ robots(first: 5) { totalCount edges { cursor } } }", None, "totalCount"),
    ("{ robots(first: 5) { n: totalCount } }", None, "n"),
    ("{ robots(first: 5) { ...Counted edges { cursor } } }" + COUNTED, None, "totalCount"),
    ("{ robots(first: 5) { ... on RobotConnection { all: totalCount } } }", None, "all"),
    ("{ robots(first: 5) { ... { totalCount } } }", None, "totalCount"),
    ("{ robots(first: 5) { ... { ...Counted } } }" + COUNTED, None, "totalCount"),
    (
        "{ robots(first: 5) { edges { cursor } } robots(first: 5) { totalCount } }",
        None,
        "totalCount",
    ),
    ("{ robots(first: 5) { totalCount @skip(if: true) edges { cursor } } }", None, None),
    ("{ robots(first: 5) { totalCount @skip(if: false) } }", None, "totalCount"),
    ("{ robots(first: 5) { ...Counted @include(if: false) } }" + COUNTED, None, None),
    (
        "query ($s: Boolean!) { robots(first: 5) { totalCount @skip(if: $s) } }",
        {"s": True},
        None,
    ),
    (
        "query ($s: Boolean!) { robots(first: 5) { totalCount @skip(if: $s) } }",
        {"s": False},
        "totalCount",
    ),
    (
        "query ($i: Boolean = false) { robots(first: 5) {"
        " ... @include(if: $i) { totalCount } pageInfo { hasNextPage } } }",
        None,
        None,
    ),
]


def counting(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[RobotFilter]:
    """Every `count` the store is asked for, by filter, from now on."""
    calls: list[RobotFilter] = []
    original = store.count

    def count(where: RobotFilter | None = None) -> int:
        calls.append(where or RobotFilter())
        return original(where) if where is not None else original()

    monkeypatch.setattr(store, "count", count)
    return calls


def app_of(store: Store, compiled: bool) -> tuple[Callable[..., dict], object]:
    """POST to the app in process; and the endpoint behind `/graphql` (its plans)."""
    app = create_app(Services(LocalSource(store), policy=None), GraphQLOptions(compiled=compiled))
    route = next(r for r in app.routes if isinstance(r, Route) and r.path == "/graphql")
    transport = httpx.ASGITransport(app=app)

    async def send(body: dict) -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/graphql", json=body)

    def post(query: str, variables: dict | None = None) -> dict:
        response = asyncio.run(send({"query": query, "variables": variables}))
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body

    return post, route.app.app  # type: ignore[attr-defined]  # `Authenticated`'s endpoint


@pytest.mark.parametrize("compiled", [False, True], ids=["strawberry", "compiled"])
@pytest.mark.parametrize(("query", "variables", "key"), CASES)
def test_a_page_is_counted_only_when_it_selects_total_count(
    store: Store, fleet, monkeypatch, compiled: bool, query: str, variables, key: str | None
) -> None:
    post, endpoint = app_of(store, compiled)
    calls = counting(store, monkeypatch)
    for _ in range(2):  # with plans on, the second answer is the plan's if it compiles
        page = post(query, variables)["data"]["robots"]
        if key is None:
            assert "totalCount" not in page
        else:
            assert page[key] == len(fleet)  # exact: the whole fleet, no filter
    assert calls == ([] if key is None else [RobotFilter()] * 2)
    if compiled:  # a plan answered the second request, unless directives kept it strawberry's
        assert endpoint.plans.answered == (0 if "@" in query else 1)  # type: ignore[attr-defined]


@pytest.mark.parametrize("compiled", [False, True], ids=["strawberry", "compiled"])
def test_a_filtered_count_is_exact_and_a_second_root_asks_nothing_more(
    store: Store, fleet, monkeypatch, compiled: bool
) -> None:
    maker = fold(fleet[0]).manufacturer.name
    expected = sum(fold(history).manufacturer.name == maker for history in fleet)
    assert 0 < expected < len(fleet)
    post, _ = app_of(store, compiled)
    calls = counting(store, monkeypatch)
    query = f"""{{ a: robots(first: 2, filter: {{manufacturer: "{maker}"}}) {{ ...Counted }}
      b: robots(first: 2) {{ edges {{ cursor }} }} }} {COUNTED}"""
    data = post(query)["data"]
    assert data["a"]["totalCount"] == expected and len(data["b"]["edges"]) == 2
    assert calls == [RobotFilter(manufacturer=maker)]


def test_a_count_not_started_is_still_counted_when_asked_for() -> None:
    """The fallback of a selection `selects` cannot see into: exact, counted once."""
    asked: list[int] = []

    async def count() -> int:
        asked.append(1)
        return 7

    async def run() -> tuple[int, int]:
        total = Total(count, now=False)
        await asyncio.sleep(0)
        assert not asked and not total.started
        return await total.value(), await total.value()

    assert asyncio.run(run()) == (7, 7) and asked == [1]
