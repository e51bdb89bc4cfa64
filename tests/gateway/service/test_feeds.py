"""The change feed: `LocalSource.changes` and GraphQL `fleetFeed` / `fleetChanges`.

A real app in process over a real SQLite registry, real RS256 tokens from a
trusted issuer and a real audit log (the helpers of test_gateway_audit).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest

from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store.cursors import encode_cursor
from gateway.web.app import create_app
from policies import AuditLog
from schema.events import EventType
from schema.source import CursorError, RobotFilter
from tests.support.audited import Gateway, token
from tests.support.feeds import CHANGES, owner_of_most, owner_token
from tests.support.stores import record

HISTORY = """query ($code: RobotCode!) { robot(code: $code) {
  history(first: 100) { edges { node { sequence hash at type payload } } } } }"""


def post(gateway: Gateway, query: str, variables: dict, bearer: str) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=gateway.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            body = {"query": query, "variables": variables}
            headers = {"authorization": f"Bearer {bearer}"}
            return await client.post("/graphql", json=body, headers=headers)

    return asyncio.run(send())


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def log(tmp_path):
    audit = AuditLog(str(tmp_path / "audit.db"))
    yield audit
    audit.close()


def test_local_changes_page_through_the_whole_feed_without_overlap(store):
    source = LocalSource(store)
    seen, after = [], None
    while True:
        page = run(source.changes(RobotFilter(), 100, after))
        seen.extend(page.items)
        after = page.end_cursor or after
        if not page.has_next_page:
            break
    assert [c.position for c in seen] == [c.position for c in store.changes(0, 10**6)]
    assert len({c.position for c in seen}) == len(seen) == store.feed_head()
    assert run(source.changes_head(RobotFilter())) == after


def test_local_changes_resume_after_a_cursor_and_filter_by_owner(store):
    source = LocalSource(store)
    owner, codes = owner_of_most(store)
    first = run(source.changes(RobotFilter(owner_id=owner), 5, None))
    rest = run(source.changes(RobotFilter(owner_id=owner), 10**4, first.end_cursor))
    everything = first.items + rest.items
    assert {c.event.code for c in everything} == set(codes)
    expected = sum(len(store.events(code)) for code in codes)
    assert len(everything) == expected and not rest.has_next_page
    assert first.items[-1].position < rest.items[0].position


@pytest.mark.parametrize(
    "cursor", ["bogus", encode_cursor("seq", "3"), encode_cursor("pos", "x"), "cG9zOg"]
)
def test_local_changes_refuse_a_cursor_they_did_not_issue(store, cursor):
    with pytest.raises(CursorError):
        run(LocalSource(store).changes(RobotFilter(), 10, cursor))


def test_the_owner_gets_its_robots_changes_masked_as_history_is(store, log):
    owner, codes = owner_of_most(store)
    gateway = Gateway(store, log)
    bearer = owner_token(owner)
    body = gateway.ask(CHANGES, {"first": 500}, bearer)
    assert "errors" not in body or all(
        e["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE" for e in body["errors"]
    )
    edges = body["data"]["fleetChanges"]["edges"]
    assert {e["node"]["code"] for e in edges} == set(codes)
    history = {}
    for code in codes:
        events = gateway.ask(HISTORY, {"code": code}, bearer)["data"]["robot"]["history"]["edges"]
        history.update({(code, e["node"]["sequence"]): e["node"] for e in events})
    assert len(edges) == len(history)
    hidden = 0
    for edge in edges:
        node = edge["node"]
        same = history[(node["code"], node["sequence"])]
        assert {k: node[k] for k in same} == same, "a change shows what history shows"
        assert node["robot"]["code"] == node["code"]
        hidden += node["payload"] is None
    assert hidden, "an owner may not see restricted incident findings"
    positions = [e["cursor"] for e in edges]
    assert len(set(positions)) == len(positions)


def test_hidden_payloads_never_appear_and_the_reads_are_audited(store, log):
    owner, codes = owner_of_most(store)
    gateway = Gateway(store, log)
    body = gateway.ask(CHANGES, {"first": 500}, owner_token(owner))
    text = json.dumps(body, ensure_ascii=False)
    hidden = [
        e["node"] for e in body["data"]["fleetChanges"]["edges"] if e["node"]["payload"] is None
    ]
    assert hidden
    for node in hidden:
        [event] = store.events(node["code"], after=node["sequence"] - 1, limit=1)
        assert node["type"] is None and node["at"] is None
        for value in restricted_texts(event.payload):
            assert value not in text
    for code in codes:
        [row] = log.trail(code)
        assert row.record.served and row.record.denied
        assert not set(row.record.served) & set(row.record.denied)


def restricted_texts(payload: dict) -> list[str]:
    """Texts of RESTRICTED fields in an event payload: findings and the like."""
    found = []
    for key in ("findings",):
        for value in _values(payload, key):
            if isinstance(value, str) and len(value) > 8:
                found.append(value)
    return found


def _values(node, key):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from _values(v, key)
    elif isinstance(node, list):
        for item in node:
            yield from _values(item, key)


def test_another_owner_and_the_anonymous_caller_are_refused(store, log):
    owner, _ = owner_of_most(store)
    gateway = Gateway(store, log)
    other = gateway.ask(CHANGES, {"first": 5, "owner": owner}, token(role="buyer", org="X GmbH"))
    assert other["data"] is None or other["data"]["fleetChanges"] is None
    assert other["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    assert owner not in str(other)
    anonymous = gateway.ask(CHANGES, {"first": 5})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    assert not log.trail(store.codes()[0])


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"first": 5, "after": "bogus"}, "not one this API issued"),
        ({"first": 5, "after": encode_cursor("code", "CN")}, "not one this API issued"),
        ({"first": 501}, "500"),
        ({"first": -1}, "between 0 and 500"),
    ],
)
def test_bad_feed_input_is_refused_naming_the_rule(store, log, variables, message):
    owner, _ = owner_of_most(store)
    response = post(Gateway(store, log), CHANGES, variables, owner_token(owner))
    assert response.status_code in (200, 400)
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] in ("BAD_USER_INPUT", "COST_LIMIT")
    assert message in error["message"]


def test_the_feed_head_skips_everything_so_far_and_sees_what_comes(store, log):
    owner, codes = owner_of_most(store)
    gateway = Gateway(store, log)
    bearer = owner_token(owner)
    feed = gateway.ask("{ fleetFeed { ownerId headCursor } }", {}, bearer)["data"]["fleetFeed"]
    assert feed["ownerId"] == owner
    empty = gateway.ask(CHANGES, {"first": 10, "after": feed["headCursor"]}, bearer)
    assert empty["data"]["fleetChanges"]["edges"] == []
    at = datetime(2026, 11, 1, 8, tzinfo=UTC)
    event = store.append(codes[0], EventType.MAINTENANCE_RECORDED, record(77.0), at)
    stranger = next(c for c in store.codes() if c not in codes)
    store.append(stranger, EventType.MAINTENANCE_RECORDED, record(78.0), at)
    later = gateway.ask(CHANGES, {"first": 10, "after": feed["headCursor"]}, bearer)
    [edge] = later["data"]["fleetChanges"]["edges"]
    assert (edge["node"]["code"], edge["node"]["hash"]) == (codes[0], event.hash)
    assert edge["node"]["payload"]["hours_at_service"] == 77.0


def test_a_gateway_without_policies_follows_every_robot(store, log):
    gateway = Gateway(store, log, policy=None)
    body = gateway.ask(CHANGES, {"first": 50}, None)
    edges = body["data"]["fleetChanges"]["edges"]
    assert [e["node"]["hash"] for e in edges] == [c.event.hash for c in store.changes(0, 50)]


def test_local_changes_on_postgresql_match_the_store_and_resume(pg_url, fleet):
    from gateway.store.postgres import PostgresStore

    store = PostgresStore(pg_url)
    try:
        store.import_histories(fleet[:8])
        source = LocalSource(store)
        first = run(source.changes(RobotFilter(), 50, None))
        rest = run(source.changes(RobotFilter(), 10**4, first.end_cursor))
        hashes = [c.event.hash for c in first.items + rest.items]
        assert hashes == [e.hash for history in fleet[:8] for e in history]
        assert run(source.changes_head(RobotFilter())) == rest.end_cursor
    finally:
        store.close()


class ProtocolOnly:
    """A source with only the methods `PassportSource` requires: no `changes_head`, no
    `codes`, as a federation might be; the GraphQL layer must fall back."""

    def __init__(self, inner: LocalSource) -> None:
        self.robot, self.robots, self.count = inner.robot, inner.robots, inner.count
        self.history, self.integrity, self.changes = inner.history, inner.integrity, inner.changes


def fallback_gateway(store, log) -> Gateway:
    """A gateway without policies over `ProtocolOnly`."""
    gateway = Gateway(store, log, policy=None)
    gateway.app = create_app(Services(ProtocolOnly(LocalSource(store)), policy=None))
    return gateway


CODES = """query ($owner: String, $after: String, $first: Int!) {
  fleetCodes(ownerId: $owner, first: $first, after: $after) {
    codes pageInfo { hasNextPage endCursor } } }"""


def test_fleet_codes_list_the_owners_robots_a_page_at_a_time(store, log):
    owner, codes = owner_of_most(store)
    gateway = Gateway(store, log)
    bearer = owner_token(owner)
    first = gateway.ask(CODES, {"first": 2}, bearer)["data"]["fleetCodes"]
    rest = gateway.ask(CODES, {"first": 5000, "after": first["pageInfo"]["endCursor"]}, bearer)
    assert first["codes"] + rest["data"]["fleetCodes"]["codes"] == sorted(codes)
    other = gateway.ask(CODES, {"first": 5, "owner": "Someone Else"}, bearer)
    assert other["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    bad = post(gateway, CODES, {"first": 5, "after": "nope"}, bearer).json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_source_with_only_the_protocol_gets_the_same_answers(store, log):
    trusted = Gateway(store, log, policy=None)
    fallback = fallback_gateway(store, log)
    head = "{ fleetFeed { headCursor } }"
    assert fallback.ask(head, {}) == trusted.ask(head, {})
    assert fallback.ask(CODES, {"first": 7}) == trusted.ask(CODES, {"first": 7})
    after = trusted.ask(CODES, {"first": 7})["data"]["fleetCodes"]["pageInfo"]["endCursor"]
    page = {"first": 9, "after": after}
    assert fallback.ask(CODES, page) == trusted.ask(CODES, page)
