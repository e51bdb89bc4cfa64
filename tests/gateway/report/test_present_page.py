"""The report site's page where an owner chooses what of its credential to disclose.

The real app in process over a real SQLite registry, the registry's real key
and real owner tokens in the session cookie. The page lists a credential's
claims; the presentation itself is signed in the browser (test_present_browser.py
drives that): here, that no form of the page can carry the holder key, and that
its Content-Security-Policy runs the site's own script and nothing else.
"""

from __future__ import annotations

import asyncio
import json
from html.parser import HTMLParser

import httpx
import pytest
from joserfc.jwk import ECKey

from gateway.credentials.sdvc import holding_of, present
from gateway.credentials.signing import RegistrySigner
from gateway.credentials.statuslist import Ledger
from gateway.report.session import COOKIE
from gateway.service.passport_vc import Issuer
from tests.support.writing import POLICY, Gateway, active, pick, token

ORIGIN = "http://t"
SAME_ORIGIN = {"origin": ORIGIN}
ISSUE = """mutation ($code: RobotCode!, $key: JSON!) {
  issuePassportCredential(code: $code, holderKey: $key) }"""


class Controls(HTMLParser):
    """The page's form controls with their names, its scripts, and its checkboxes."""

    def __init__(self) -> None:
        super().__init__()
        self.named: dict[str, str] = {}
        self.unnamed: set[str] = set()
        self.scripts: list[dict[str, str | None]] = []
        self.boxes: list[str] = []
        self.data = ""
        self._in_data = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("input", "textarea", "select", "button") and a.get("type") != "button":
            if a.get("name"):
                self.named[a["name"] or ""] = a.get("id") or ""
            elif a.get("id"):
                self.unnamed.add(a["id"] or "")
        if tag == "input" and a.get("type") == "checkbox":
            self.boxes.append(a.get("value") or "")
        if tag == "script":
            self.scripts.append(a)
            self._in_data = a.get("type") == "application/json"

    def handle_data(self, data: str) -> None:
        if self._in_data:
            self.data += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_data = False


@pytest.fixture
def gw(store, tmp_path) -> Gateway:
    signer = RegistrySigner.from_data_dir(tmp_path / "keys", ORIGIN, "Test registry")
    return Gateway(store, None, credentials=Issuer(signer, Ledger(tmp_path / "keys"), POLICY))


def rich(p) -> bool:
    return active(p) and bool(p.incidents) and bool(p.conditions)


def owner_token(p) -> str:
    owner = p.current_owner
    return token("owner", owner.owner, jurisdiction=owner.jurisdiction, org_id=owner.owner_id)


@pytest.fixture
def owned(store, gw):
    """(owner's token, its robot's credential, the holder key)."""
    p = pick(store, rich)
    bearer = owner_token(p)
    holder = ECKey.generate_key("P-256", private=True)
    body = gw.ask(ISSUE, {"code": p.code, "key": holder.as_dict(private=False)}, bearer)
    assert "errors" not in body, body
    return bearer, body["data"]["issuePassportCredential"], holder


def call(app, method: str, url: str, bearer: str | None = None, **kwargs) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            if bearer:
                client.cookies.set(COOKIE, bearer)
            return await client.request(method, url, **kwargs)

    return asyncio.run(go())


def csp(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {d.split(" ", 1)[0]: d.partition(" ")[2] for d in policy.split("; ")}


def test_only_a_signed_in_owner_gets_the_page(gw, owned):
    bearer, _, _ = owned
    anonymous = call(gw.app, "GET", "/present")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/signin?next=%2Fpresent"
    insurer = token("insurer", "Some Insurer", org_id="reg:DE:INSURER")
    refused = call(gw.app, "GET", "/present", insurer)
    assert refused.status_code == 403 and 'data-refused="role"' in refused.text
    assert 'name="credential"' not in refused.text
    posted = call(
        gw.app, "POST", "/present", insurer, data={"credential": "x~"}, headers=SAME_ORIGIN
    )
    assert posted.status_code == 403
    page = call(gw.app, "GET", "/present", bearer)
    assert page.status_code == 200 and 'name="credential"' in page.text


def test_the_page_runs_its_own_script_only_and_can_open_no_connection(gw, owned):
    bearer, credential, _ = owned
    for response in (
        call(gw.app, "GET", "/present", bearer),
        call(
            gw.app, "POST", "/present", bearer, data={"credential": credential}, headers=SAME_ORIGIN
        ),
    ):
        assert response.status_code == 200, response.text
        policy = csp(response)
        assert policy["script-src"] == "'self'"
        assert policy["default-src"] == "'none'" and "connect-src" not in policy
        assert policy["form-action"] == "'self'" and policy["frame-ancestors"] == "'none'"
        assert response.headers["cache-control"] == "no-store"
        found = Controls()
        found.feed(response.text)
        external = [s for s in found.scripts if s.get("type") != "application/json"]
        assert external == [{"src": "/static/report/present.js"}], "no inline script"
    script = call(gw.app, "GET", "/static/report/present.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "crypto.subtle.sign" in script.text
    assert "fetch(" not in script.text and "XMLHttpRequest" not in script.text


def test_the_listed_claims_are_the_credentials_and_no_field_can_send_the_key(gw, owned):
    bearer, credential, holder = owned
    response = call(
        gw.app, "POST", "/present", bearer, data={"credential": credential}, headers=SAME_ORIGIN
    )
    assert response.status_code == 200, response.text
    found = Controls()
    found.feed(response.text)
    holding = holding_of(credential)
    assert found.boxes == list(holding.paths)
    assert {"operatingHours", "incidents", "incidents.severity"} <= set(found.boxes)
    # The only fields a form can post: the credential, the robot code and *public* key
    # to issue one, and sign-out's target.
    assert set(found.named) == {"credential", "code", "holder_key", "next"}
    assert {"holder-key", "holder-key-file", "present-audience", "present-nonce"} <= found.unnamed
    data = json.loads(found.data)
    assert data["jwt"] == credential.split("~")[0]
    public = holder.as_dict(private=False)
    assert (data["holder"]["x"], data["holder"]["y"]) == (public["x"], public["y"])
    assert "d" not in data["holder"]
    encoded = [d["encoded"] for d in data["disclosures"]]
    assert encoded == credential.rstrip("~").split("~")[1:], "every disclosure, in order"


def test_bad_credentials_and_foreign_forms_are_refused_with_the_rule(gw, owned):
    bearer, credential, holder = owned
    foreign = call(
        gw.app,
        "POST",
        "/present",
        bearer,
        data={"credential": credential},
        headers={"origin": "http://evil"},
    )
    assert foreign.status_code == 403 and "data-claims" not in foreign.text
    missing = call(gw.app, "POST", "/present", bearer, data={}, headers=SAME_ORIGIN)
    assert missing.status_code == 400 and "data-missing" in missing.text
    shown = present(credential, ["operatingHours"], "https://buyer.test", "n", holder)
    replayed = call(
        gw.app, "POST", "/present", bearer, data={"credential": shown}, headers=SAME_ORIGIN
    )
    assert replayed.status_code == 422 and 'data-rule="compact"' in replayed.text
    tampered = credential.replace("~", "~AAAA~", 1)
    broken = call(
        gw.app, "POST", "/present", bearer, data={"credential": tampered}, headers=SAME_ORIGIN
    )
    assert broken.status_code == 422 and 'data-rule="disclosure"' in broken.text
    assert "data-claims" not in broken.text


def test_an_owner_gets_a_credential_for_its_robot_on_the_page(store, gw):
    p = pick(store, rich)
    bearer = owner_token(p)
    holder = ECKey.generate_key("P-256", private=True)
    public = json.dumps(holder.as_dict(private=False))
    form = {"code": p.code, "holder_key": public}
    issued = call(gw.app, "POST", "/present", bearer, data=form, headers=SAME_ORIGIN)
    assert issued.status_code == 200, issued.text
    found = Controls()
    found.feed(issued.text)
    data = json.loads(found.data)
    assert data["holder"]["x"] == holder.as_dict(private=False)["x"]
    assert "operatingHours" in found.boxes and "incidents" in found.boxes
    assert data["jwt"] in issued.text.split('id="credential"', 1)[1], "kept for the owner"

    other = pick(
        store, lambda q: active(q) and q.current_owner.owner_id != p.current_owner.owner_id
    )
    theirs = {"code": other.code, "holder_key": public}
    refused = call(gw.app, "POST", "/present", bearer, data=theirs, headers=SAME_ORIGIN)
    assert refused.status_code == 403 and 'data-rule="credential.owner"' in refused.text
    assert "data-claims" not in refused.text

    private = holder.as_dict(private=True)
    secret = {"code": p.code, "holder_key": json.dumps(private)}
    unread = call(gw.app, "POST", "/present", bearer, data=secret, headers=SAME_ORIGIN)
    assert unread.status_code == 400 and 'data-rule="credential.holder_key"' in unread.text
    assert private["d"] not in unread.text
    typo = call(
        gw.app, "POST", "/present", bearer, data={**form, "code": p.code[:-1]}, headers=SAME_ORIGIN
    )
    assert typo.status_code == 400 and 'data-rule="code.' in typo.text
