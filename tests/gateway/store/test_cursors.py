"""Issue 22: every cursor is bounded and validated before it reaches a query.

First each decoder alone, fuzzed: arbitrary text, arbitrary bytes in base64,
valid prefixes with huge, negative, signed, non-ASCII-digit or non-numeric
keys. Each either returns a value in its bounds or raises its refusal, never
anything else. Then through the APIs over a real store on SQLite and on
PostgreSQL: GraphQL (robots, history, fleetChanges, auditTrail), the AAS API
and the registry node's REST routes answer every cursor with data,
BAD_USER_INPUT or a 400 problem, never an internal error.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from adapters import aas
from gateway.aasapi.query import ApiError, cursor_key, index_of, position_of
from gateway.federation import cursor as federation
from gateway.service.disclosures import trail_after
from gateway.service.local import feed_position
from gateway.store import SqliteStore, Store
from gateway.store.cursors import (
    MAX_CURSOR_CHARS,
    MAX_POSITION,
    decode_code,
    decode_position,
    encode_cursor,
    encode_position,
)
from policies import AuditLog
from schema.source import CursorError
from tests.support.audited import TRAIL, Gateway, token
from tests.support.feeds import CHANGES, owner_of_most, owner_token
from tests.support.node import Node
from tests.support.stores import PG_SERVER

KINDS = ["seq", "pos", "audit", "code", "shells", "submodels", "refs", "elements", "x"]
ODD_NUMBERS = [
    str(MAX_POSITION + 1),
    "99999999999999999999999",
    "9" * 5000,
    "-1",
    "+1",
    " 1",
    "1 ",
    "0x10",
    "1e3",
    "1.0",
    "\u00b2",  # superscript two: str.isdigit() says yes, int() says no
    "\u0661\u0662",  # Arabic-Indic digits
    "\uff11",  # fullwidth one
    "",
    "\x00",
]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


keys = (
    st.sampled_from(ODD_NUMBERS)
    | st.integers().map(str)
    | st.integers(min_value=MAX_POSITION - 2, max_value=MAX_POSITION + 2).map(str)
    | st.text(max_size=40)
)
prefixed = st.builds(lambda kind, key: b64(f"{kind}:{key}".encode()), st.sampled_from(KINDS), keys)
cursors = st.text(max_size=80) | st.binary(max_size=80).map(b64) | prefixed


def json_positions() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.integers(min_value=MAX_POSITION - 2, max_value=10**30)
        | st.floats(allow_nan=False)
        | st.text(max_size=20)
    )
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=2), max_leaves=4)


composite = st.builds(
    lambda kind, a, b: b64(json.dumps({"k": kind, "p": {"cn": a, "eu": b}}).encode()),
    st.sampled_from(["robots", "changes", "other"]),
    json_positions(),
    json_positions(),
)


# -- the decoders alone -----------------------------------------------------------------


@settings(max_examples=600, deadline=None)
@given(cursor=cursors)
@example(cursor=b64(b"seq:99999999999999999999999"))
@example(cursor=b64(b"pos:9223372036854775808"))
@example(cursor=b64(b"audit:\xc2\xb2"))
@example(cursor=b64(b"code:CN\x00"))
@example(cursor="A" * (MAX_CURSOR_CHARS + 4))
def test_position_and_code_decoders_return_bounded_values_or_refuse(cursor: str) -> None:
    for decode in (
        lambda c: decode_position("seq", c),
        feed_position,
        trail_after,
    ):
        try:
            value = decode(cursor)
        except CursorError as exc:
            assert "not one this API issued" in str(exc)
            assert len(str(exc)) < 200, "a long cursor is not echoed whole"
        else:
            assert type(value) is int and 0 <= value <= MAX_POSITION
    try:
        code = decode_code("code", cursor)
    except CursorError:
        pass
    else:
        assert code.isascii() and code.isalnum() and code.upper() == code and len(code) <= 64


@settings(max_examples=600, deadline=None)
@given(cursor=cursors | composite)
@example(cursor=federation.encode("changes", {"cn": MAX_POSITION + 1, "eu": 0}))
@example(cursor=federation.encode("changes", {"cn": True, "eu": 0}))
@example(cursor=federation.encode("robots", {"cn": "a" * 600, "eu": None}))
@example(cursor=federation.encode("robots", {"cn": "abc\x00", "eu": None}))
def test_the_federation_cursor_checks_every_part(cursor: str) -> None:
    for kind, position in (("robots", str), ("changes", int)):
        try:
            parts = federation.decode(kind, cursor, ["cn", "eu"], position)
        except CursorError:
            continue
        assert set(parts) == {"cn", "eu"}
        for value in parts.values():
            if value is None:
                continue
            if position is int:
                assert type(value) is int and 0 <= value <= MAX_POSITION
            else:
                assert isinstance(value, str) and 0 < len(value) <= 512 and value.isascii()


@settings(max_examples=600, deadline=None)
@given(cursor=cursors, kind=st.sampled_from(["shells", "submodels", "refs", "elements"]))
@example(cursor=b64(b'submodels:["", "CN1", 99999999999999999999999]'), kind="submodels")
@example(cursor=b64(b'submodels:["", "CN1", -1]'), kind="submodels")
@example(cursor=b64(b"refs:\xc2\xb2"), kind="refs")
def test_aas_cursors_are_400_or_bounded(cursor: str, kind: str) -> None:
    params = QueryParams({"cursor": cursor})
    try:
        key = cursor_key(params, kind)
        assert key is not None
        if kind in ("refs", "elements"):
            assert 0 <= index_of(key) <= MAX_POSITION
        elif kind == "submodels":
            _, _, index = position_of(key)
            assert 0 <= index <= MAX_POSITION
    except ApiError as exc:
        assert exc.status == 400


@given(position=st.integers(min_value=0, max_value=MAX_POSITION))
def test_every_position_in_range_round_trips(position: int) -> None:
    assert decode_position("seq", encode_position("seq", position)) == position


# -- through the APIs, on SQLite and on PostgreSQL ---------------------------------------

ROBOTS = "query ($after: String) { robots(first: 2, after: $after) { edges { cursor } } }"
HISTORY = """query ($code: RobotCode!, $after: String) {
  robot(code: $code) { history(first: 2, after: $after) { edges { cursor } } } }"""
AAS = "/aas/api/v3.0"


class Surfaces:
    """GraphQL, the AAS API and a registry node over one store, asked with one cursor."""

    def __init__(self, store: Store, audit: AuditLog, data_dir: Path) -> None:
        self.gateway = Gateway(store, audit)
        self.node = Node(store, "cn-miit", data_dir)
        self.code = store.codes(limit=1)[0]
        owner, _ = owner_of_most(store)
        self.owner = owner_token(owner)
        self.authority = token(role="regulator", org="SAMR", jurisdiction="CN", purposes="x")

    def graphql(self, after: str) -> dict[str, list[dict]]:
        """Each query's errors for `after`."""
        asks = {
            "robots": (ROBOTS, {"after": after}, None),
            "history": (HISTORY, {"code": self.code, "after": after}, None),
            "fleetChanges": (CHANGES, {"first": 2, "after": after}, self.owner),
            "auditTrail": (TRAIL, {"code": self.code, "first": 2, "after": after}, self.authority),
        }
        return {
            name: self.gateway.ask(query, variables, bearer).get("errors", [])
            for name, (query, variables, bearer) in asks.items()
        }

    def aas(self, after: str) -> dict[str, httpx.Response]:
        shell = b64(aas.shell_id(self.code).encode())
        paths = {
            "shells": f"{AAS}/shells",
            "submodels": f"{AAS}/submodels",
            "refs": f"{AAS}/shells/{shell}/submodel-refs",
        }

        async def fetch() -> dict[str, httpx.Response]:
            transport = httpx.ASGITransport(app=self.gateway.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return {
                    name: await client.get(path, params={"cursor": after})
                    for name, path in paths.items()
                }

        return asyncio.run(fetch())

    def rest(self, after: str) -> dict[str, httpx.Response]:
        return {
            path: self.node.get(path, params={"after": after})
            for path in ("/robots", f"/robots/{self.code}/events", "/changes", "/links")
        }


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def surfaces(request, tmp_path_factory, fleet) -> Iterator[Surfaces]:
    folder = tmp_path_factory.mktemp(f"cursors-{request.param}")
    if request.param == "sqlite":
        store: Store = SqliteStore(folder / "registry.db")
        audit = AuditLog(str(folder / "audit.db"))
        schema = None
    else:
        import psycopg

        from gateway.store.postgres import PostgresStore

        request.getfixturevalue("pg_server")
        schema = f"robopass_cursors_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_SERVER, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        joiner = "&" if "?" in PG_SERVER else "?"
        url = f"{PG_SERVER}{joiner}options=-csearch_path%3D{schema}"
        store = PostgresStore(url)
        audit = AuditLog(url)
    store.import_histories(fleet[:6])
    try:
        yield Surfaces(store, audit, folder)
    finally:
        audit.close()
        store.close()
        if schema is not None:
            with psycopg.connect(PG_SERVER, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


OUT_OF_RANGE = [
    *(
        b64(f"{kind}:{key}".encode())
        for kind in ("seq", "pos", "audit")
        for key in ("99999999999999999999999", str(MAX_POSITION + 1), "-1", "\u00b2", "\x00")
    ),
    *(b64(f"code:{key}".encode()) for key in ("CN\x00", "cn1", "A" * 65, "\u00c4", "CN 1")),
]


@pytest.mark.parametrize("after", OUT_OF_RANGE)
def test_out_of_range_cursors_are_bad_user_input_and_400(surfaces: Surfaces, after: str):
    for name, errors in surfaces.graphql(after).items():
        assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"], (name, errors)
        assert "not one this API issued" in errors[0]["message"]
    for name, response in {**surfaces.aas(after), **surfaces.rest(after)}.items():
        assert response.status_code == 400, (name, response.text)


def test_the_largest_position_is_accepted_on_every_backend(surfaces: Surfaces):
    """The bound lets MAX_POSITION itself through: it reaches SQL, which answers nothing."""
    for kind, name in (("seq", "history"), ("pos", "fleetChanges"), ("audit", "auditTrail")):
        errors = surfaces.graphql(encode_position(kind, MAX_POSITION))[name]
        assert errors == [], (name, errors)
    events = surfaces.node.get(
        f"/robots/{surfaces.code}/events", params={"after": str(MAX_POSITION)}
    )
    assert events.status_code == 200 and events.json()["events"] == []
    changes = surfaces.node.get("/changes", params={"after": str(MAX_POSITION)})
    assert changes.status_code == 200 and changes.json()["changes"] == []


@pytest.mark.slow
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(after=cursors | st.sampled_from([encode_cursor("code", "ZZZ"), encode_cursor("seq", "0")]))
def test_no_cursor_is_an_internal_error(surfaces: Surfaces, after: str):
    for name, errors in surfaces.graphql(after).items():
        codes = {e["extensions"]["code"] for e in errors}
        assert codes <= {"BAD_USER_INPUT", "UNAUTHORIZED_FIELD_OR_TYPE"}, (name, errors)
    for name, response in {**surfaces.aas(after), **surfaces.rest(after)}.items():
        assert response.status_code in (200, 400), (name, response.status_code, response.text)


def test_cursors_this_api_issues_are_served(surfaces: Surfaces):
    """Every surface above really reads its cursor: a valid one is a 200 with no error."""
    code_cursor = encode_cursor("code", surfaces.code)
    assert surfaces.graphql(code_cursor)["robots"] == []
    assert surfaces.rest(code_cursor)["/robots"].status_code == 200
    assert surfaces.aas(encode_cursor("refs", "1"))["refs"].status_code == 200
    shells = surfaces.aas(encode_cursor("shells", code_cursor))["shells"]
    assert shells.status_code == 200 and shells.json()["result"]
