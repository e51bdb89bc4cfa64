"""An owner builds a presentation on /present in a real browser; the project's verifier checks it.

Headless Chromium (Debian's, driven by Playwright) against a real `robopass
serve`. The owner signs in with its session cookie, gets a credential for its
robot on the page (the page's script first stops a private key pasted as the
public one), pastes it back, ticks two claims, loads its holder key and builds
the presentation: the key-binding JWT is signed by WebCrypto in the page.
The downloaded file must verify with `verify_presentation` against the served
JWKS and status list, disclose those two claims and nothing else, and no
request the browser made may carry the private key.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import ECKey

from gateway.credentials.sdvc import verify_presentation
from gateway.credentials.verification import InvalidCredential, key_set
from gateway.report.session import COOKIE
from gateway.service.passport_vc import STATUS_PATH
from policies.authserver import issue_token
from tests.support.paths import ROOT

pytestmark = [pytest.mark.process, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"
OWNER_ID = "uscc:913205066HF31Y0124"  # the fleet-owner client's org_id
BUYER = "https://buyer.example"
NONCE = "n-7f3a91"
OWNED = """query ($owner: String!) { robots(filter: {ownerId: $owner}, first: 50) {
  edges { node { code maintenance { kind } condition { operatingHours } } } } }"""


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed; .ci/run installs it")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def graphql(base: str, query: str, variables: dict, token: str) -> dict:
    response = httpx.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def test_owner_discloses_two_claims_signed_in_the_browser(served, browser, tmp_path):
    token = issue_token("fleet-owner", tmp_path / "data", f"{served}/auth")
    owned = graphql(served, OWNED, {"owner": OWNER_ID}, token)["robots"]["edges"]
    robot = next(e["node"] for e in owned if e["node"]["maintenance"] and e["node"]["condition"])
    holder = ECKey.generate_key("P-256", private=True)
    private = holder.as_dict(private=True)

    context = browser.new_context(locale="en-GB", accept_downloads=True)
    context.add_cookies([{"name": COOKIE, "value": token, "url": served}])
    page = context.new_page()
    sent: list[str] = []
    page.on("request", lambda r: sent.append(f"{r.url} {r.post_data or ''}"))
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    try:
        page.goto(f"{served}/present")
        page.locator("#issue-code").fill(robot["code"])
        page.locator("#issue-key").fill(json.dumps(private))
        page.get_by_role("button", name="Get a credential").click()
        page.wait_for_selector("#issue-status[data-error]")
        assert page.url == f"{served}/present", "the private key was stopped before sending"
        page.locator("#issue-key").fill(json.dumps(holder.as_dict(private=False)))
        page.get_by_role("button", name="Get a credential").click()
        page.wait_for_selector("[data-claims]")
        credential = page.locator("#credential").input_value()
        page.goto(f"{served}/present")
        page.locator("#credential").fill(credential)
        page.get_by_role("button", name="List its claims").click()
        page.locator('[data-path="operatingHours"]').check()
        page.locator('[data-path="maintenance.kind"]').check()
        page.locator("#holder-key").fill(json.dumps(private))
        page.locator("#present-audience").fill(BUYER)
        page.locator("#present-nonce").fill(NONCE)
        page.get_by_role("button", name="Build the presentation").click()
        page.wait_for_selector("#build-status[data-built]")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the presentation").click()
        text = Path(download.value.path()).read_text(encoding="utf-8").strip()
        assert text == page.locator("#presentation-out").input_value()
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "present-page.png", full_page=True)
        context.close()

    assert not refused, refused
    assert not any(private["d"] in request for request in sent), "the private key left the page"
    assert sent and all(request.startswith(served) for request in sent)

    jwks = httpx.get(f"{served}/.well-known/jwks.json").json()
    status = httpx.get(f"{served}{STATUS_PATH}").text
    result = verify_presentation(
        text, key_set(jwks), audience=BUYER, nonce=NONCE, status_lists=lambda uri: status
    )
    assert set(result.claims) == {"operatingHours", "maintenance"}
    assert result.claims["operatingHours"] == robot["condition"]["operatingHours"]
    records = result.claims["maintenance"]
    assert [r["kind"] for r in records] == [m["kind"] for m in robot["maintenance"]]
    assert all(set(record) == {"kind"} for record in records), "only the kind of each record"
    assert set(result.paths) == {"operatingHours", "maintenance", "maintenance.kind"}
    with pytest.raises(InvalidCredential, match="audience"):
        verify_presentation(
            text, key_set(jwks), audience=BUYER + "/x", nonce=NONCE, status_lists=lambda u: status
        )
