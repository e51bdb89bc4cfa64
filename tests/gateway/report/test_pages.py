"""The report pages over HTTP in process: status codes, cookies, headers, bad input."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest

from gateway.edge.auth import demo_issuer
from gateway.report import demo_sign_in
from gateway.report.session import COOKIE
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.web.app import create_app
from policies import PolicySet, TokenVerifier
from policies.authserver import issue_token

ISSUER = "http://test/auth"
OWNER = "fleet-owner"
SAME_ORIGIN = {"origin": "http://test"}  # what a browser sends with a form of this site


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
def site(store, tmp_path):
    """GET/POST against a policy-applying app; returns (status, headers, text)."""

    def make(clock=time.time):
        verifier = TokenVerifier([demo_issuer(ISSUER, tmp_path)], clock=clock)
        return create_app(
            Services(LocalSource(store), PolicySet.demo(), verifier=verifier),
            sign_in=demo_sign_in(tmp_path, ISSUER),
        )

    return make


def call(app, method: str, url: str, cookies: dict | None = None, **kwargs) -> httpx.Response:
    async def go() -> httpx.Response:
        async with client_for(app) as client:
            client.cookies.update(cookies or {})
            return await client.request(method, url, **kwargs)

    return asyncio.run(go())


def test_search_page_loads_nothing_remote(site, store):
    response = call(site(), "GET", "/")
    assert response.status_code == 200
    assert not re.search(r"(src|href)=\"(https?:)?//", response.text)
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert store.codes(limit=1)[0] in response.text, "example robots are linked"
    css = call(site(), "GET", "/static/report/report.css")
    assert css.status_code == 200 and "@media print" in css.text


@pytest.mark.parametrize(
    ("typed", "rule"),
    [
        ("CNH7K2H0A1B3260528100001234", "length"),
        ("CNH7K2H0A1B32605281000012345O", "alphabet"),
        ("XXH7K2H0A1B32605281000012345A", "country"),
        ("CNH7K2H0A1B32613281000012345A", "date"),
        ("CNH7K2H0A1B32605281000012346A", "check"),
    ],
)
def test_a_mistyped_code_names_the_rule(site, typed, rule):
    for url in (f"/robots?code={typed}", f"/robots/{typed}"):
        response = call(site(), "GET", url)
        assert response.status_code == 400
        assert f'data-rule="{rule}"' in response.text
        assert 'aria-invalid="true"' in response.text


def test_codes_are_canonicalised_and_unknown_ones_are_404(site, store):
    code = store.codes(limit=1)[0]
    lower = call(site(), "GET", f"/robots?code={code.lower()[:6]}-{code.lower()[6:]}")
    assert lower.status_code == 303 and lower.headers["location"] == f"/robots/{code}"
    assert call(site(), "GET", f"/robots/{code.lower()}").headers["location"] == f"/robots/{code}"
    unknown = "CNH7K2H0A1B32605281000012345A"
    assert call(site(), "GET", f"/robots/{unknown}").status_code == 404
    assert call(site(), "GET", "/robots/%00%ff").status_code == 400


def test_public_report_shows_restricted_never_the_value(site, store):
    code = store.codes(limit=1)[0]
    passport = store.passport(code)
    page = call(site(), "GET", f"/robots/{code}")
    assert page.status_code == 200
    assert 'data-restricted="ownership.owner"' in page.text
    assert passport.current_owner.owner not in page.text
    assert page.headers["cache-control"] == "no-store"


def test_demo_sign_in_sets_a_strict_httponly_cookie(site, store):
    app = site()
    response = call(
        app, "POST", "/signin", data={"client": OWNER, "next": "/robots"}, headers=SAME_ORIGIN
    )
    assert response.status_code == 303 and response.headers["location"] == "/robots"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    token = response.cookies[COOKIE]
    page = call(app, "GET", "/", cookies={COOKIE: token})
    assert 'data-viewer="fleet-owner"' in page.text
    out = call(
        app, "POST", "/signout", data={"next": "/"}, cookies={COOKIE: token}, headers=SAME_ORIGIN
    )
    assert out.status_code == 303 and f'{COOKIE}=""' in out.headers["set-cookie"]


def test_sign_in_refuses_bad_tokens_foreign_origins_and_open_redirects(site, tmp_path):
    app = site()
    bad = call(app, "POST", "/signin", data={"token": "not.a.token"}, headers=SAME_ORIGIN)
    assert bad.status_code == 400 and "data-rejected" in bad.text
    assert "set-cookie" not in bad.headers
    unknown = call(app, "POST", "/signin", data={"client": "nobody"}, headers=SAME_ORIGIN)
    assert unknown.status_code == 400
    foreign = call(
        app, "POST", "/signin", data={"client": OWNER}, headers={"origin": "https://evil.example"}
    )
    assert foreign.status_code == 403 and "set-cookie" not in foreign.headers
    for target in ("//evil.example/", "https://evil.example/", "/\\evil", "javascript:x"):
        response = call(
            app, "POST", "/signin", data={"client": OWNER, "next": target}, headers=SAME_ORIGIN
        )
        assert response.headers["location"] == "/"
    token = issue_token(OWNER, tmp_path, ISSUER)
    pasted = call(app, "POST", "/signin", data={"token": token}, headers=SAME_ORIGIN)
    assert pasted.status_code == 303 and pasted.cookies[COOKIE] == token
    junk = call(
        app,
        "POST",
        "/signin",
        content=b"\xff\xfe",
        headers={"content-type": "text/plain", **SAME_ORIGIN},
    )
    assert junk.status_code == 400


def test_an_expired_or_forged_cookie_signs_out_with_a_notice(site, store, tmp_path):
    code = store.codes(limit=1)[0]
    token = issue_token(OWNER, tmp_path, ISSUER)
    later = site(clock=lambda: time.time() + 30 * 24 * 3600)
    for app, value in [(later, token), (site(), token[:-6] + "AAAAAA"), (site(), "garbage")]:
        page = call(app, "GET", f"/robots/{code}", cookies={COOKIE: value})
        assert page.status_code == 200
        assert 'data-notice="session"' in page.text
        assert 'data-viewer="public"' in page.text
        assert f'{COOKIE}=""' in page.headers["set-cookie"]


def test_language_comes_from_the_query_then_the_cookie(site):
    app = site()
    zh = call(app, "GET", "/?lang=zh")
    assert '<html lang="zh-Hans">' in zh.text and "机器人履历报告" in zh.text
    assert "robopass_lang=zh" in zh.headers["set-cookie"]
    again = call(app, "GET", "/", cookies={"robopass_lang": "zh"})
    assert '<html lang="zh-Hans">' in again.text
    assert '<html lang="en">' in call(app, "GET", "/?lang=en").text
    odd = call(app, "GET", "/?lang=<script>", cookies={"robopass_lang": "zz"})
    assert odd.status_code == 200 and '<html lang="en">' in odd.text and "<script>" not in odd.text
