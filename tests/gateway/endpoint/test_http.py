"""GraphQL over HTTP against a real `robopass serve`: the spec's audit, negotiation, statuses."""

from __future__ import annotations

import json
import subprocess
from datetime import date

import httpx
import pytest

from gateway.endpoint.http import GRAPHQL_RESPONSE, JSON, negotiate
from schema.code import RobotCode
from tests.support.paths import TESTS
from tests.support.processes import node_tool, running_server

AUDIT = TESTS / "http-audit"
QUERY = "{ robots(first: 2) { edges { node { code } } } }"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> str:
    with running_server(tmp_path_factory.mktemp("http"), "--robots", "30") as base:
        yield base + "/graphql"


def post(url: str, body: object, accept: str | None = JSON, **headers: str) -> httpx.Response:
    if accept is not None:
        headers["accept"] = accept
    return httpx.post(url, content=json.dumps(body), headers={"content-type": JSON, **headers})


def codes(response: httpx.Response) -> list[str | None]:
    return [e.get("extensions", {}).get("code") for e in response.json()["errors"]]


@pytest.mark.process
def test_graphql_http_audit_passes_without_errors_or_warnings(server):
    node = node_tool(AUDIT, "graphql-http")
    run = subprocess.run(
        [node, str(AUDIT / "audit.mjs"), server], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["failures"] == []
    assert (report["error"], report["warn"]) == (0, 0)
    assert report["ok"] >= 40


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{JSON};q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.1, {JSON};q=0.9", JSON),
        (f"{GRAPHQL_RESPONSE};charset=utf-8", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0, text/html", None),
        ("text/html", None),
        (f"{JSON};q=nonsense", None),
    ],
)
def test_negotiation_picks_the_best_acceptable_type(accept, expected):
    assert negotiate(accept) == expected


@pytest.mark.process
def test_both_media_types_answer_a_good_query_with_200(server):
    for accept in (GRAPHQL_RESPONSE, JSON):
        response = post(server, {"query": QUERY}, accept)
        assert response.status_code == 200
        assert response.headers["content-type"] == f"{accept}; charset=utf-8"
        assert len(response.json()["data"]["robots"]["edges"]) == 2


@pytest.mark.process
@pytest.mark.parametrize("query", ["{ robots(first: 2) {", "{ nothing }", "{ robots }"])
def test_request_errors_are_400_with_the_new_type_and_200_with_json(server, query):
    strict = post(server, {"query": query}, GRAPHQL_RESPONSE)
    legacy = post(server, {"query": query}, JSON)
    assert strict.status_code == 400
    assert legacy.status_code == 200
    for response in (strict, legacy):
        assert "data" not in response.json()
        assert response.json()["errors"]


@pytest.mark.process
def test_variable_coercion_failure_is_a_request_error(server):
    body = {"query": "query ($c: RobotCode!) { robot(code: $c) { code } }", "variables": {"c": 7}}
    response = post(server, body, GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert codes(response) == ["BAD_ROBOT_CODE"]


@pytest.mark.process
def test_a_field_error_keeps_data_and_200(server):
    unknown = RobotCode.generate("CN", "HD01", "H10001", date(2025, 3, 1), "1", 99999).value
    body = {"query": f'{{ robot(code: "{unknown}") {{ code }} }}'}
    response = post(server, body, GRAPHQL_RESPONSE)
    assert response.status_code == 200
    assert response.json()["data"] == {"robot": None}
    assert codes(response) == ["NOT_FOUND"]


@pytest.mark.process
def test_get_runs_queries_and_refuses_mutations_with_405(server):
    ok = httpx.get(server, params={"query": QUERY}, headers={"accept": GRAPHQL_RESPONSE})
    assert ok.status_code == 200
    assert ok.json() == post(server, {"query": QUERY}).json()
    mutation = httpx.get(server, params={"query": "mutation { __typename }"})
    assert mutation.status_code == 405
    assert mutation.headers["allow"] == "POST"
    assert codes(mutation) == ["METHOD_NOT_ALLOWED"]


@pytest.mark.process
def test_get_with_variables_as_json(server):
    params = {
        "query": "query ($n: Int!) { robots(first: $n) { edges { node { code } } } }",
        "variables": json.dumps({"n": 1}),
    }
    assert len(httpx.get(server, params=params).json()["data"]["robots"]["edges"]) == 1
    params["variables"] = "{not json"
    bad = httpx.get(server, params=params)
    assert bad.status_code == 400
    assert codes(bad) == ["BAD_REQUEST"]


@pytest.mark.process
def test_other_methods_get_405_with_allow(server):
    response = httpx.put(server, content=json.dumps({"query": QUERY}))
    assert response.status_code == 405
    assert {"GET", "POST"} <= set(response.headers["allow"].replace(" ", "").split(","))


@pytest.mark.process
def test_unacceptable_accept_is_406(server):
    response = post(server, {"query": QUERY}, "text/csv")
    assert response.status_code == 406
    assert codes(response) == ["NOT_ACCEPTABLE"]


@pytest.mark.process
@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/graphql", f"{JSON}; charset=latin-1"]
)
def test_a_post_body_must_be_utf8_json(server, content_type):
    headers = {} if content_type is None else {"content-type": content_type}
    response = httpx.post(server, content=json.dumps({"query": QUERY}).encode(), headers=headers)
    assert response.status_code == 415
    assert codes(response) == ["UNSUPPORTED_MEDIA_TYPE"]


@pytest.mark.process
@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"",
        b'"a string"',
        b"42",
        b'{"query": 1}',
        b'{"query": "{ __typename }", "variables": []}',
        b'{"query": "{ __typename }", "operationName": 3}',
        b'{"query": "{ __typename }", "extensions": "x"}',
        b'{"variables": {}}',
        b'{"query": "query A { __typename }", "operationName": "B"}',
    ],
)
def test_malformed_requests_are_400_under_both_types(server, body):
    for accept in (JSON, GRAPHQL_RESPONSE):
        response = httpx.post(
            server, content=body, headers={"content-type": JSON, "accept": accept}
        )
        assert response.status_code == 400, body
        assert codes(response) == ["BAD_REQUEST"]
        assert response.headers["content-type"].startswith(accept)


@pytest.mark.process
def test_array_batches_are_refused(server):
    response = post(server, [{"query": QUERY}, {"query": QUERY}])
    assert response.status_code == 400
    assert codes(response) == ["BATCHING_NOT_SUPPORTED"]


@pytest.mark.process
def test_a_browser_still_gets_the_console(server):
    page = httpx.get(server, headers={"accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
