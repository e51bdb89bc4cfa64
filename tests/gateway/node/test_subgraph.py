"""The registry node's federation subgraph: its SDL, `_entities` by code, the root reads."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date

import httpx
import pytest
from graphql import build_ast_schema, parse

from gateway.node.subgraph import create_subgraph_app
from gateway.service.local import LocalSource
from gateway.store import SqliteStore
from schema.code import RobotCode
from schema.source import RobotFilter

ENTITIES = """query ($reps: [_Any!]!) { _entities(representations: $reps) {
  ... on Robot { code version manufacturer { name } condition { batteryHealthPct } }
} }"""


class CountingSource(LocalSource):
    """The store's source, counting reads per call, to see how a request batches, and the
    counts it is asked for."""

    def __init__(self, store: SqliteStore) -> None:
        super().__init__(store)
        self.reads: list[str] = []
        self.counted: list[RobotFilter] = []

    async def robot(self, code, as_of=None):
        self.reads.append(code)
        return await super().robot(code, as_of)

    async def count(self, where: RobotFilter) -> int:
        self.counted.append(where)
        return await super().count(where)


@pytest.fixture
def source(store: SqliteStore) -> CountingSource:
    return CountingSource(store)


@pytest.fixture
def post(source: CountingSource):
    transport = httpx.ASGITransport(app=create_subgraph_app(source))

    async def send(body: dict) -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            return await client.post("/", json=body)

    def run(query: str, variables: dict | None = None) -> dict:
        response = asyncio.run(send({"query": query, "variables": variables}))
        assert response.status_code == 200, response.text
        return response.json()

    return run


def unknown_code(store: SqliteStore) -> str:
    """A valid code the store does not hold."""
    code = RobotCode.generate("CN", "HD99", "H99999", date(2025, 3, 1), "9", 424242).value
    assert store.head(code) is None
    return code


def test_service_sdl_declares_federation_2_and_the_robot_key(post) -> None:
    sdl = post("{ _service { sdl } }")["data"]["_service"]["sdl"]
    document = parse(sdl)
    schema_ext = [d for d in document.definitions if d.kind == "schema_definition"]
    links = [d for s in schema_ext for d in s.directives if d.name.value == "link"]
    assert links, "no @link on the schema"
    url = next(a.value.value for a in links[0].arguments if a.name.value == "url")
    assert url.startswith("https://specs.apollo.dev/federation/v2.")
    robot = next(
        d for d in document.definitions if getattr(d, "name", None) and d.name.value == "Robot"
    )
    keys = [d for d in robot.directives if d.name.value == "key"]
    assert [a.value.value for a in keys[0].arguments if a.name.value == "fields"] == ["code"]
    # Every value type can be resolved by every node: shareable, or composition fails.
    for d in document.definitions:
        if d.kind == "object_type_definition" and d.name.value not in ("Query", "_Service"):
            assert "shareable" in {x.name.value for x in d.directives}, d.name.value
    assert "union _Entity = Robot" in sdl


def test_subgraph_serves_whole_records_without_masks(post, store: SqliteStore) -> None:
    code = store.codes(limit=1)[0]
    passport = store.passport(code)
    data = post(
        "query ($c: RobotCode!) { robot(code: $c) { code ownership { owner } "
        "maintenance { performedBy } incidents { rootCause } } }",
        {"c": code},
    )
    assert "errors" not in data
    robot = data["data"]["robot"]
    assert robot["code"] == code
    assert [o["owner"] for o in robot["ownership"]] == [o.owner for o in passport.ownership]
    assert len(robot["maintenance"]) == len(passport.maintenance)


def test_entities_by_code_in_order_null_for_unknown(post, store: SqliteStore, source) -> None:
    codes = store.codes()
    missing = unknown_code(store)
    asked = [codes[5], missing, codes[0], codes[5].lower()]
    reps = [{"__typename": "Robot", "code": c} for c in asked]
    data = post(ENTITIES, {"reps": reps})
    assert "errors" not in data, data
    entities = data["data"]["_entities"]
    assert [e and e["code"] for e in entities] == [codes[5], None, codes[0], codes[5]]
    first = store.passport(codes[0])
    assert entities[2]["manufacturer"]["name"] == first.manufacturer.name
    assert entities[2]["version"] == store.head(codes[0]).sequence
    # One batch for the whole request, each distinct robot read once.
    assert sorted(source.reads) == sorted({codes[5], missing, codes[0]})


def test_entities_bad_code_is_an_error_at_its_index(post, store: SqliteStore) -> None:
    good = store.codes(limit=1)[0]
    broken = good[:-1] + ("0" if good[-1] != "0" else "1")
    reps = [{"__typename": "Robot", "code": good}, {"__typename": "Robot", "code": broken}]
    data = post(ENTITIES, {"reps": reps})
    assert data["data"]["_entities"][0]["code"] == good
    assert data["data"]["_entities"][1] is None
    [error] = data["errors"]
    assert error["path"] == ["_entities", 1]
    assert error["extensions"]["code"] == "BAD_ROBOT_CODE"
    assert error["extensions"]["rule"] == "check"


def test_robots_pages_and_unknown_robot(post, store: SqliteStore) -> None:
    query = """query ($after: String) { robots(first: 25, after: $after) {
      totalCount edges { node { code } } pageInfo { hasNextPage endCursor } } }"""
    seen, after = [], None
    while True:
        page = post(query, {"after": after})["data"]["robots"]
        seen += [e["node"]["code"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(store.codes())
    assert page["totalCount"] == store.count()
    bad = post('{ robots(first: 1, after: "nonsense") { totalCount } }')
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    gone = post("query ($c: RobotCode!) { robot(code: $c) { code } }", {"c": unknown_code(store)})
    assert gone["data"]["robot"] is None
    assert gone["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("{ robots(first: 3) { edges { node { code } } pageInfo { hasNextPage } } }", None),
        ("{ robots(first: 3) { totalCount @skip(if: true) edges { cursor } } }", None),
        ("query ($no: Boolean = false) { robots(first: 3) { ...C @include(if: $no) } }", None),
        ("{ robots(first: 3) { n: totalCount } }", "n"),
        ("{ robots(first: 3) { ...C edges { cursor } } }", "totalCount"),
        ("{ robots(first: 3) { ... on RobotConnection { totalCount } } }", "totalCount"),
    ],
)
def test_robots_are_counted_only_when_total_count_is_selected(
    post, source: CountingSource, store: SqliteStore, query: str, key: str | None
) -> None:
    """The gateway asks a node's subgraph for a count only for its own caller's: a page
    without `totalCount` costs the node no count (at a million robots, more than the page)."""
    fragment = " fragment C on RobotConnection { totalCount }" if "...C" in query else ""
    body = post(query + fragment)
    assert "errors" not in body, body
    page = body["data"]["robots"]
    if key is None:
        assert source.counted == [] and "totalCount" not in page
    else:
        assert source.counted == [RobotFilter()] and page[key] == store.count()


def test_subgraph_sdl_is_a_valid_schema_apart_from_federation_directives(post) -> None:
    sdl = post("{ _service { sdl } }")["data"]["_service"]["sdl"]
    prelude = """directive @link(url: String!, import: [String]) repeatable on SCHEMA
    directive @key(fields: String!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
    directive @shareable repeatable on OBJECT | FIELD_DEFINITION"""
    build_ast_schema(parse(prelude + "\n" + sdl))


@pytest.mark.process
def test_node_serves_the_subgraph_to_service_tokens_only(store: SqliteStore, tmp_path) -> None:
    from tests.support.node import Node

    node = Node(store, "cn-miit", tmp_path / "node")
    code = store.codes(limit=1)[0]
    body = {"query": ENTITIES, "variables": {"reps": [{"__typename": "Robot", "code": code}]}}
    served = node.post("/graphql", json=body)
    assert served.status_code == 200
    assert served.json()["data"]["_entities"][0]["code"] == code
    reader = node.post("/graphql", json=body, token=node.token("node-reader"))
    assert reader.json()["data"]["_entities"][0]["code"] == code

    anonymous = node.post("/graphql", json=body, token=None)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "UNAUTHENTICATED"
    assert "www-authenticate" in anonymous.headers
    assert code not in anonymous.text
    party = node.post("/graphql", json=body, token=node.token("de-msa"))
    assert party.status_code == 403
    assert party.json()["code"] == "FORBIDDEN"
    assert code not in party.text


SUBGRAPH_HISTORY = """query ($code: RobotCode!, $after: String) { robot(code: $code) {
  history(first: 10, after: $after) { edges { cursor node {
    sequence hash prevHash scheme commitment salt at type payload } }
    pageInfo { hasNextPage endCursor } } } }"""


def test_subgraph_history_carries_salts_and_commitments_that_verify(post, store, fleet) -> None:
    """A service caller gets every salt, so it can verify every payload it is given."""
    from schema.codec import parse_datetime
    from schema.events import Event, EventType, verify

    history = max(fleet, key=len)
    code, after, events = history[0].code, None, []
    while True:
        page = post(SUBGRAPH_HISTORY, {"code": code, "after": after})["data"]["robot"]["history"]
        for edge in page["edges"]:
            n = edge["node"]
            events.append(
                Event(code, n["sequence"], parse_datetime(n["at"]), EventType(n["type"]),
                      n["payload"], n["prevHash"], n["hash"], n["scheme"], n["salt"],
                      n["commitment"])
            )  # fmt: skip
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [(e.hash, e.salt, e.commitment) for e in events] == [
        (e.hash, e.salt, e.commitment) for e in history
    ]
    assert verify(events).verified
    events[1] = dataclasses.replace(events[1], payload={"forged": True})
    assert verify(events).first_bad == 2
