"""Persisted queries against a real `robopass serve`: APQ by default, a safelist on request."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest

from tests.support.processes import running_server

pytestmark = pytest.mark.process

COUNT = "{ robots(first: 1) { totalCount } }"
PAGE = "query Page($n: Int!) { robots(first: $n) { edges { node { code } } } }"


def digest(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def persisted(sha: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha}}


def post(url: str, body: dict) -> httpx.Response:
    return httpx.post(url, json=body, headers={"accept": "application/json"})


def get(url: str, **params: object) -> httpx.Response:
    encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    return httpx.get(url, params=encoded)


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json()["errors"]]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> str:
    with running_server(tmp_path_factory.mktemp("apq"), "--robots", "30") as base:
        yield base + "/graphql"


def manifest(path: Path, *queries: str) -> Path:
    operations = [{"id": digest(q), "name": "op", "type": "query", "body": q} for q in queries]
    path.write_text(
        json.dumps({"format": "apollo-persisted-query-manifest", "operations": operations})
    )
    return path


@pytest.fixture(scope="module")
def safelisted(tmp_path_factory) -> str:
    data = tmp_path_factory.mktemp("safelist")
    path = manifest(data / "manifest.json", COUNT, PAGE)
    with running_server(data, "--robots", "30", env={"ROBOPASS_SAFELIST": str(path)}) as base:
        yield base + "/graphql"


def test_apq_registers_a_document_then_runs_it_by_hash(server):
    query = "{ robots(first: 2) { totalCount } }"
    sha = digest(query)
    missing = post(server, {"extensions": persisted(sha)})
    assert missing.status_code == 400
    assert codes(missing) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert missing.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    first = post(server, {"query": query, "extensions": persisted(sha)})
    assert first.status_code == 200
    assert first.json()["data"]["robots"]["totalCount"] == 30
    assert post(server, {"extensions": persisted(sha)}).json() == first.json()
    assert get(server, extensions=persisted(sha)).json() == first.json()
    assert get(server, extensions=persisted(sha.upper())).json() == first.json()


def test_apq_by_get_with_variables(server):
    sha = digest(PAGE)
    assert post(server, {"query": PAGE, "variables": {"n": 1}, "extensions": persisted(sha)})
    page = get(server, extensions=persisted(sha), variables={"n": 2})
    assert len(page.json()["data"]["robots"]["edges"]) == 2


def test_a_hash_that_does_not_match_is_refused_and_not_registered(server):
    wrong = digest("{ __typename }")
    response = post(server, {"query": COUNT, "extensions": persisted(wrong)})
    assert response.status_code == 400
    assert codes(response) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    assert codes(post(server, {"extensions": persisted(wrong)})) == ["PERSISTED_QUERY_NOT_FOUND"]


@pytest.mark.parametrize(
    "extension",
    [
        {"persistedQuery": {"version": 2, "sha256Hash": digest(COUNT)}},
        {"persistedQuery": {"version": 1, "sha256Hash": 12}},
        {"persistedQuery": {"version": 1, "sha256Hash": "abc"}},
        {"persistedQuery": "yes"},
    ],
)
def test_malformed_persisted_query_extensions(server, extension):
    response = post(server, {"query": COUNT, "extensions": extension})
    assert response.status_code == 400
    assert codes(response) == ["BAD_PERSISTED_QUERY"]


def test_a_get_mutation_by_hash_is_still_405(server):
    mutation = "mutation { __typename }"
    registered = post(server, {"query": mutation, "extensions": persisted(digest(mutation))})
    assert registered.status_code == 200
    assert get(server, extensions=persisted(digest(mutation))).status_code == 405


def test_safelist_runs_registered_operations_by_hash_or_text(safelisted):
    by_hash = post(safelisted, {"extensions": persisted(digest(COUNT))})
    assert by_hash.status_code == 200
    assert by_hash.json()["data"]["robots"]["totalCount"] == 30
    assert post(safelisted, {"query": COUNT}).json() == by_hash.json()
    page = get(safelisted, extensions=persisted(digest(PAGE)), variables={"n": 3})
    assert len(page.json()["data"]["robots"]["edges"]) == 3


def test_safelist_refuses_everything_else(safelisted):
    other = "{ robots(first: 3) { totalCount } }"
    text = post(safelisted, {"query": other})
    assert text.status_code == 400
    assert codes(text) == ["QUERY_NOT_IN_SAFELIST"]
    registration = post(safelisted, {"query": other, "extensions": persisted(digest(other))})
    assert codes(registration) == ["QUERY_NOT_IN_SAFELIST"]
    unknown = get(safelisted, extensions=persisted(digest(other)))
    assert unknown.status_code == 400
    assert codes(unknown) == ["PERSISTED_QUERY_NOT_IN_LIST"]
    assert codes(post(safelisted, {"variables": {}})) == ["PERSISTED_QUERY_NOT_IN_LIST"]
    mismatch = post(safelisted, {"query": other, "extensions": persisted(digest(COUNT))})
    assert codes(mismatch) == ["PERSISTED_QUERY_HASH_MISMATCH"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not a persisted query manifest"),
        ("{not json", "not a persisted query manifest"),
        ('{"operations": [{"id": "abc", "body": "{ __typename }"}]}', "not the SHA-256"),
        ('{"operations": [{"body": "{ __typename }"}]}', "not a persisted query manifest"),
    ],
)
def test_a_bad_manifest_stops_the_server(tmp_path, content, message):
    path = tmp_path / "manifest.json"
    if content is not None:
        path.write_text(content)
    with (
        pytest.raises(RuntimeError, match=message),
        running_server(tmp_path, "--safelist", str(path)),
    ):
        pass
