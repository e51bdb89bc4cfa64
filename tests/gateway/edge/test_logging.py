"""Structured request logs: one JSON line per request, with its id, without secrets or people."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from gateway.edge.auth import demo_issuer
from gateway.edge.observe import JsonFormatter
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.web.app import create_app
from policies import AuditLog, PolicySet, TokenVerifier
from policies.authserver import issue_token

ISSUER = "http://gw.test/auth"
PERSON = "Wang Xiuying"
OWNER_ORG = "Zhulong Sales & Leasing Co., Ltd."
QUERY = f'{{ robots(first: 2, filter: {{owner: "{PERSON}"}}) {{ edges {{ node {{ code }} }} }} }}'


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything any logger writes at DEBUG and above, through the JSON formatter.

    Except the test's own HTTP client (httpx logs each URL it calls): configure_logging
    quiets it in the server too, as its lines hold the gateway's upstream URLs.
    """
    client_log = logging.getLogger("httpx")
    client_level = client_log.level
    client_log.setLevel(logging.WARNING)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)
    client_log.setLevel(client_level)  # later tests read the client's lines


def gateway(store, tmp_path):
    verifier = TokenVerifier([demo_issuer(ISSUER, tmp_path)])
    audit = AuditLog(tmp_path / "audit.db")
    return create_app(
        Services(LocalSource(store), PolicySet.demo(), verifier=verifier, audit=audit),
        access_log=True,
    )


def run(app, requests) -> list[httpx.Response]:
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
            return [await client.request(**r) for r in requests]

    return asyncio.run(go())


def test_log_lines_carry_the_request_id_but_no_token_or_person(store, tmp_path, captured):
    token = issue_token("fleet-owner", tmp_path, ISSUER)
    bearer = {"authorization": f"Bearer {token}"}
    code = store.codes(limit=1)[0]
    responses = run(
        gateway(store, tmp_path),
        [
            {"method": "POST", "url": "/graphql", "json": {"query": QUERY},
             "headers": {**bearer, "x-request-id": "req-42.a"}},
            {"method": "GET", "url": "/graphql?" + urlencode({"query": QUERY}),
             "headers": {**bearer, "x-request-id": "bad id\n{}", "accept": "application/json"}},
            {"method": "GET", "url": f"/robots/{code}/export/canonical", "headers": bearer},
            {"method": "POST", "url": "/graphql", "json": {"query": QUERY},
             "headers": {"authorization": f"Bearer {token}x"}},
        ],
    )  # fmt: skip
    assert [r.status_code for r in responses] == [200, 200, 200, 401]
    assert responses[0].headers["x-request-id"] == "req-42.a"
    generated = responses[1].headers["x-request-id"]
    assert generated != "bad id\n{}" and len(generated) == 32
    text = captured.getvalue()
    for secret in (token, token.split(".")[1], PERSON, OWNER_ORG, "fleet-owner", code):
        assert secret not in text, f"{secret[:20]}... reached the log"
    lines = [json.loads(line) for line in text.splitlines()]
    access = [line for line in lines if line["logger"] == "robopass.access"]
    assert len(access) == 4, "one line per request"
    first, second, export, refused = access
    assert first["request_id"] == "req-42.a" and second["request_id"] == generated
    assert all(
        r.headers["x-request-id"] == a["request_id"] for r, a in zip(responses, access, strict=True)
    )
    assert first["route"] == "/graphql" and first["method"] == "POST" and first["status"] == 200
    assert export["route"] == "/robots/{code}/export/{format}"
    assert first["principal"] == "owner" and first["jurisdiction"] == "DE"
    assert refused["status"] == 401 and refused["principal"] == "anonymous"
    assert all(line["level"] == "info" and line["duration_ms"] >= 0 for line in access)
    assert {"time", "level", "request_id", "method", "route", "status"} <= set(first)


def test_without_the_option_no_access_line_is_written(store, tmp_path, captured) -> None:
    app = create_app(Services(LocalSource(store), policy=None))
    (response,) = run(app, [{"method": "GET", "url": "/healthz"}])
    assert response.status_code == 200 and "x-request-id" not in response.headers
    assert "robopass.access" not in captured.getvalue()


def test_a_report_reader_signed_in_by_cookie_is_logged_by_role(store, tmp_path, captured):
    from gateway.edge.ratelimit import Bucket, MemoryBuckets, RateLimits

    token = issue_token("fleet-owner", tmp_path, ISSUER)
    plenty = Bucket(rate=100, burst=100)
    app = create_app(
        Services(
            LocalSource(store),
            PolicySet.demo(),
            verifier=TokenVerifier([demo_issuer(ISSUER, tmp_path)]),
            rate_limits=RateLimits(plenty, plenty, MemoryBuckets()),
        ),
        access_log=True,
    )
    code = store.codes(limit=1)[0]
    cookie = {"cookie": f"robopass_session={token}"}
    (page,) = run(app, [{"method": "GET", "url": f"/robots/{code}", "headers": cookie}])
    assert page.status_code == 200
    text = captured.getvalue()
    assert token not in text and code not in text
    (line,) = [json.loads(x) for x in text.splitlines() if '"robopass.access"' in x]
    assert line["route"] == "/robots/{code}" and line["principal"] == "owner"
