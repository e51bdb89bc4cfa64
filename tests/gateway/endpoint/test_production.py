"""Production mode against a real `robopass serve`: nothing about the insides, our codes intact."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import httpx
import pytest

from schema.code import RobotCode
from schema.graphql.query import build_schema
from tests.support.processes import running_server

pytestmark = pytest.mark.process

GRAPHQL_RESPONSE = "application/graphql-response+json"
INTROSPECTION = "{ __schema { queryType { name } } }"


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> str:
    data = tmp_path_factory.mktemp("production")
    with running_server(data, "--robots", "30", env={"ROBOPASS_PRODUCTION": "1"}) as base:
        yield base + "/graphql"


def post(url: str, body: dict, accept: str = "application/json") -> httpx.Response:
    return httpx.post(
        url,
        content=json.dumps(body),
        headers={"content-type": "application/json", "accept": accept},
    )


def codes(response: httpx.Response) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in response.json()["errors"]]


def test_introspection_is_off_but_typename_works(production):
    response = post(production, {"query": INTROSPECTION})
    assert response.status_code == 400
    assert set(codes(response)) == {"INTROSPECTION_DISABLED"}
    assert "data" not in response.json()
    type_query = post(production, {"query": '{ __type(name: "Robot") { name } }'})
    assert set(codes(type_query)) == {"INTROSPECTION_DISABLED"}
    assert post(production, {"query": "{ __typename }"}).json() == {"data": {"__typename": "Query"}}


def test_no_console_for_a_browser(production):
    page = httpx.get(production, headers={"accept": "text/html"})
    assert page.status_code == 406
    assert "<html" not in page.text.lower()


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ robotz { code } }", None),
        ("{ robots(frist: 2) { totalCount } }", None),
        ("{ robots(first: 1) { edges { node { manufactuer { name } } } } }", None),
        (
            "query ($f: PassportFormat!)"
            " { translate(document: {}, from: $f, to: AAS) { lossless } }",
            {"f": "CN_MIT"},
        ),
    ],
)
def test_no_suggestions_in_errors(production, query, variables):
    suggested = build_schema().execute_sync(query, variable_values=variables)
    assert "Did you mean" in suggested.errors[0].message, "the dev schema should suggest"
    response = post(production, {"query": query, "variables": variables}, GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert response.json()["errors"]
    assert "Did you mean" not in response.text


def test_our_error_codes_stay(production):
    unknown = RobotCode.generate("CN", "HD01", "H10001", date(2025, 3, 1), "1", 99999).value
    code_query = "query ($c: RobotCode!) { robot(code: $c) { code } }"
    cases = {
        "BAD_ROBOT_CODE": {"query": code_query, "variables": {"c": "CN-NOT-A-CODE"}},
        "NOT_FOUND": {"query": code_query, "variables": {"c": unknown}},
        "BAD_USER_INPUT": {"query": "{ robots(first: 1000000) { totalCount } }"},
        "UNAUTHORIZED_FIELD_OR_TYPE": {
            "query": "{ robots(first: 1) { edges { node { condition { batteryHealthPct } } } } }"
        },
        "INVALID_DOCUMENT": {
            "query": "{ translate(document: {}, from: CN_MIIT, to: AAS) { lossless } }"
        },
        "MAX_ALIASES_LIMIT": {
            "query": "{ " + " ".join(f"a{i}: __typename" for i in range(40)) + " }"
        },
        "MAX_DEPTH_LIMIT": {"query": "{ robots { edges { " + "node { " * 30 + "}" * 33},
        "COST_LIMIT": {
            "query": "{ robots(first: 100) { edges { node { history(first: 100) "
            "{ edges { node { sequence } } } } } } }"
        },
    }
    for code, body in cases.items():
        response = post(production, body)
        assert code in codes(response), (code, response.text)
        assert "Internal server error" not in response.text


@pytest.mark.parametrize("mode", ["production", "development"])
def test_internal_errors_are_masked_in_production_only(tmp_path, mode):
    db = tmp_path / "registry.db"
    args = ["--robots", "5", "--db", f"sqlite:///{db}"]
    if mode == "production":
        args.append("--production")
    with running_server(tmp_path, *args) as base:
        url = base + "/graphql"
        assert post(url, {"query": "{ robots(first: 1) { totalCount } }"}).status_code == 200
        with sqlite3.connect(db) as broken:
            broken.execute("DROP TABLE robots")
        response = post(url, {"query": "{ robots(first: 1) { totalCount } }"})
    messages = [e["message"] for e in response.json()["errors"]]
    if mode == "production":
        assert messages == ["Internal server error"]
        assert "robots" not in response.text.replace('"robots"', "")
    else:
        assert "no such table" in messages[0]


def test_introspection_and_console_can_be_turned_back_on(tmp_path):
    args = ["--robots", "5", "--production", "--introspection", "--console"]
    with running_server(tmp_path, *args) as base:
        url = base + "/graphql"
        response = post(url, {"query": INTROSPECTION})
        assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
        page = httpx.get(url, headers={"accept": "text/html"})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        suggest = post(url, {"query": "{ robotz }"})
        assert "Did you mean" not in suggest.text
