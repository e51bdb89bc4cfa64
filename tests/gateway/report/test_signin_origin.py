"""Issue 22: sign-in and sign-out accept only forms this site's own pages sent (login CSRF).

Against a real `robopass serve` on loopback: a POST is accepted with this
site's `Origin`, or without `Origin` when `Sec-Fetch-Site: same-origin`; with
neither, with a foreign or `null` origin, with only a (foreign or even own)
`Referer`, or with `Sec-Fetch-Site` other than same-origin it is a 403 page
that says why, and no cookie is set.
"""

from __future__ import annotations

import httpx
import pytest

from gateway.report.session import COOKIE

pytestmark = pytest.mark.process

CLIENT = "fleet-owner"


def post(base: str, path: str, headers: dict[str, str]) -> httpx.Response:
    form = {"client": CLIENT, "next": "/robots"}
    return httpx.post(f"{base}{path}", data=form, headers=headers, follow_redirects=False)


def accepted(base: str) -> dict[str, dict[str, str]]:
    """`base` (http://127.0.0.1:PORT) is exactly the Origin a browser sends for this site."""
    return {
        "same Origin": {"origin": base},
        "Sec-Fetch-Site same-origin, no Origin": {"sec-fetch-site": "same-origin"},
        "same Origin and same-origin": {
            "origin": base,
            "sec-fetch-site": "same-origin",
        },
    }


def refused(base: str) -> dict[str, dict[str, str]]:
    return {
        "neither header": {},
        "no Origin, foreign Referer": {"referer": "https://evil.example/login"},
        "no Origin, own Referer only": {"referer": f"{base}/signin"},
        "foreign Origin": {"origin": "https://evil.example"},
        "null Origin": {"origin": "null"},
        "other port": {"origin": base.rsplit(":", 1)[0] + ":1"},
        "cross-site": {"sec-fetch-site": "cross-site"},
        "same-site": {"sec-fetch-site": "same-site"},
        "none": {"sec-fetch-site": "none"},
        "same Origin but cross-site": {"origin": base, "sec-fetch-site": "cross-site"},
        "same-origin but foreign Origin": {
            "origin": "https://evil.example",
            "sec-fetch-site": "same-origin",
        },
    }


@pytest.fixture(scope="module")
def base(served_module) -> str:
    return served_module[0]


def test_same_origin_sign_in_is_accepted(base):
    for name, headers in accepted(base).items():
        response = post(base, "/signin", headers)
        assert response.status_code == 303, name
        assert response.headers["location"] == "/robots", name
        assert response.cookies.get(COOKIE), name


def test_sign_in_without_proof_of_origin_is_refused_with_a_page(base):
    for name, headers in refused(base).items():
        response = post(base, "/signin", headers)
        assert response.status_code == 403, name
        assert COOKIE not in response.headers.get("set-cookie", ""), name
        assert 'data-refused="cross-origin"' in response.text, name
        assert "was not sent from a page of this site" in response.text, name


def test_sign_out_follows_the_same_rule(base):
    token = post(base, "/signin", {"origin": base}).cookies[COOKIE]
    cookies = {COOKIE: token}
    foreign = httpx.post(
        f"{base}/signout",
        data={"next": "/"},
        headers={"referer": "https://evil.example/"},
        cookies=cookies,
    )
    assert foreign.status_code == 403 and COOKIE not in foreign.headers.get("set-cookie", "")
    own = httpx.post(
        f"{base}/signout", data={"next": "/"}, headers={"origin": base}, cookies=cookies
    )
    assert own.status_code == 303 and f'{COOKIE}=""' in own.headers["set-cookie"]
