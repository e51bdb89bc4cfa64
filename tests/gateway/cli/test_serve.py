"""`robopass serve` as a user runs it: a real process on loopback."""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = pytest.mark.process

QUERY = "{ robots(first: 3) { totalCount edges { node { code manufacturer { name } } } } }"


def test_serve_seeds_and_answers_robot_queries(served):
    body = httpx.post(f"{served}/graphql", json={"query": QUERY}).json()
    robots = body["data"]["robots"]
    assert robots["totalCount"] == 200
    code = robots["edges"][0]["node"]["code"]
    one = httpx.post(
        f"{served}/graphql",
        json={
            "query": "query ($c: RobotCode!) { robot(code: $c) { code } }",
            "variables": {"c": code},
        },
    ).json()
    assert one == {"data": {"robot": {"code": code}}}
    assert httpx.get(f"{served}/graphql", params={"query": QUERY}).json() == body


def test_probes(served):
    assert httpx.get(f"{served}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{served}/readyz").json() == {"status": "ready"}


def test_console_is_offline_and_carries_a_real_code(served):
    page = httpx.get(f"{served}/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert not re.search(r"https?://", page.text), "the console must not load anything remote"
    assert "__EXAMPLE_CODE__" not in page.text
    assert re.search(r"CN[0-9A-Z]{27}", page.text)


def test_bad_input_never_crashes_and_changes_nothing(served):
    before = httpx.post(f"{served}/graphql", json={"query": QUERY}).json()
    bad_requests = [
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        {"content": b"\xff\xfe\x00", "headers": {"content-type": "application/json"}},
        {"json": {"query": "{ robot(code: 12) { code } }"}},
        {"json": {"query": '{ robot(code: "\\u0000") { code } }'}},
        {"json": {"query": "mutation { nothing }"}},
        {"json": {"query": "{" * 200}},
        {"json": {"variables": {"c": "x"}}},
        {"json": {"query": QUERY, "variables": "not an object"}},
    ]
    for request in bad_requests:
        response = httpx.post(f"{served}/graphql", **request)
        assert 400 <= response.status_code < 500 or "errors" in response.json(), request
        assert response.status_code != 500
    assert httpx.get(f"{served}/healthz").status_code == 200
    assert httpx.post(f"{served}/graphql", json={"query": QUERY}).json() == before
