"""`GET /export/fleet.ndjson` from a real `robopass serve`: the caller's view, line by line."""

from __future__ import annotations

import json

import httpx
import pytest

from gateway.service.export import EXPORT_FORMATS
from policies import AuditLog
from policies.authserver import issue_token
from tests.support.demo_tokens import OWNER, OWNER_ID

pytestmark = pytest.mark.process

LIST = """query ($after: String, $owner: String) {
  robots(first: 100, after: $after, filter: {ownerId: $owner}) {
    totalCount edges { node { code } } pageInfo { hasNextPage endCursor } } }"""


def bearer(base: str, data_dir, client: str | None) -> dict:
    if client is None:
        return {}
    return {"authorization": f"Bearer {issue_token(client, data_dir, f'{base}/auth')}"}


def listed(base: str, headers: dict, owner: str | None = None) -> list[str]:
    """Every code the caller may list, through GraphQL, with the same filter."""
    codes, after = [], None
    while True:
        variables = {"after": after, "owner": owner}
        body = httpx.post(
            f"{base}/graphql", json={"query": LIST, "variables": variables}, headers=headers
        ).json()
        page = body["data"]["robots"]
        codes += [e["node"]["code"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            assert len(codes) == page["totalCount"]
            return codes


def export(base: str, headers: dict, **params: str) -> httpx.Response:
    return httpx.get(f"{base}/export/fleet.ndjson", params=params, headers=headers, timeout=60)


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
@pytest.mark.parametrize("client", [None, "used-robot-buyer"])
def test_each_line_is_the_single_download_of_the_same_caller(served_module, fmt, client):
    base, data_dir = served_module
    headers = bearer(base, data_dir, client)
    response = export(base, headers, format=fmt)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert "no-store" in response.headers["cache-control"]
    lines = response.text.splitlines()
    codes = listed(base, headers)
    assert len(lines) == len(codes) == 200
    assert OWNER not in response.text, "owner names are PERSONAL to these callers"
    for code, line in list(zip(codes, lines, strict=True))[::17]:
        single = httpx.get(f"{base}/robots/{code}/export/{fmt}", headers=headers)
        assert json.loads(line) == single.json()


def test_the_owner_exports_its_fleet_with_what_only_it_may_see(served_module):
    base, data_dir = served_module
    headers = bearer(base, data_dir, "fleet-owner")
    codes = listed(base, headers, OWNER_ID)
    assert codes
    audit = AuditLog(str(data_dir / "demo-cn.audit.db"))
    try:
        before = {code: len(audit.trail(code)) for code in codes}
        response = export(base, headers, format="canonical", owner_id=OWNER_ID)
        assert response.status_code == 200, response.text
        documents = [json.loads(line) for line in response.text.splitlines()]
        assert [d["identity"]["code"] for d in documents] == codes
        assert all(d["ownership"][-1]["owner"] == OWNER for d in documents)
        assert all(d["ownership"][-1]["owner_id"] == OWNER_ID for d in documents)
        for code, document in zip(codes, documents, strict=True):
            single = httpx.get(f"{base}/robots/{code}/export/canonical", headers=headers)
            assert document == single.json()
            assert len(audit.trail(code)) == before[code] + 2, "one record per robot disclosed"
    finally:
        audit.close()


@pytest.mark.parametrize(
    ("client", "params", "status", "code"),
    [
        (None, {"format": "xml"}, 400, "BAD_USER_INPUT"),
        (None, {"format": "aas", "page": "2"}, 400, "BAD_USER_INPUT"),
        (None, {"owner_id": OWNER_ID}, 403, "UNAUTHORIZED_FIELD_OR_TYPE"),
        ("used-robot-buyer", {"owner_id": OWNER_ID}, 403, "UNAUTHORIZED_FIELD_OR_TYPE"),
        ("fleet-owner", {"owner": OWNER}, 400, "BAD_USER_INPUT"),  # names are not matched
    ],
)
def test_bad_requests_are_refused_naming_the_rule(served_module, client, params, status, code):
    base, data_dir = served_module
    response = export(base, bearer(base, data_dir, client), **params)
    assert response.status_code == status
    assert response.json()["errors"][0]["extensions"]["code"] == code
    assert OWNER not in response.text and OWNER_ID not in response.text


def test_a_bad_token_gets_401_and_no_line(served_module):
    base, _ = served_module
    response = export(base, {"authorization": "Bearer forged"}, format="canonical")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
