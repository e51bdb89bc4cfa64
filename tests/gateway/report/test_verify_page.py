"""The report site's page where a buyer checks a shared passport (an SD-JWT presentation).

The real app in process over a real SQLite registry and the registry's real
key; the form is posted as a browser posts it, from the site's own origin.
"""

from __future__ import annotations

import asyncio
import html

import httpx
import pytest
from joserfc.jwk import ECKey

from gateway.credentials.sdvc import claims_of, present
from gateway.credentials.signing import RegistrySigner
from gateway.credentials.statuslist import Ledger
from gateway.service.local import LocalSource
from gateway.service.passport_vc import Issuer
from gateway.service.services import Services
from gateway.web.app import create_app
from policies import WRITE_SCOPE, PolicySet, Principal, Role

BUYER = "https://buyer.test"
ORIGIN = "http://t"


@pytest.fixture
def site(store, tmp_path):
    signer = RegistrySigner.from_data_dir(tmp_path / "keys", ORIGIN, "Test registry")
    issuer = Issuer(signer, Ledger(tmp_path / "keys"), PolicySet.demo())
    source = LocalSource(store)
    app = create_app(Services(source, PolicySet.demo(), signer=signer, credentials=issuer))
    return app, issuer


def post(app, form: dict, origin: str | None = ORIGIN) -> httpx.Response:
    headers = {"origin": origin} if origin else {}

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            return await client.post("/verify", data=form, headers=headers)

    return asyncio.run(send())


def presentation(store, issuer, names, nonce="n-1"):
    for code in store.codes():
        p = store.passport(code)
        owner = p.current_owner
        if owner and owner.jurisdiction == code[:2] and p.incidents and p.conditions:
            break
    holder = ECKey.generate_key("P-256", private=True)
    principal = Principal(
        issuer="t",
        subject="o",
        role=Role.OWNER,
        organisation_id=owner.owner_id,
        jurisdiction=owner.jurisdiction,
        scopes=frozenset({WRITE_SCOPE}),
    )
    credential = issuer.issue(principal, p, holder.as_dict(private=False))
    return p, present(credential, names, BUYER, nonce, holder)


def test_the_page_shows_exactly_the_disclosed_claims(store, site):
    app, issuer = site
    p, text = presentation(store, issuer, ["operatingHours", "incidents.severity"])
    response = post(app, {"presentation": text, "audience": BUYER, "nonce": "n-1"})
    assert response.status_code == 200, response.text
    page = html.unescape(response.text)
    assert "data-valid" in page and '"severity"' in page and '"operatingHours"' in page
    for incident in p.incidents:
        assert incident.description not in page and incident.id not in page
    assert p.current_owner.owner not in page
    for record in p.maintenance:
        assert record.performed_by not in page
    full = claims_of(p)
    assert str(full["operatingHours"]) in page


def test_the_page_names_the_rule_broken(store, site):
    app, issuer = site
    _, text = presentation(store, issuer, ["operatingHours"])
    replay = post(app, {"presentation": text, "audience": "https://other.test", "nonce": "n-1"})
    assert replay.status_code == 422 and 'data-rule="aud"' in replay.text
    stale = post(app, {"presentation": text, "audience": BUYER, "nonce": "n-0"})
    assert stale.status_code == 422 and 'data-rule="nonce"' in stale.text
    missing = post(app, {"presentation": text, "audience": BUYER})
    assert missing.status_code == 400 and "data-missing" in missing.text
    foreign = post(app, {"presentation": text, "audience": BUYER, "nonce": "n-1"}, "http://evil")
    assert foreign.status_code == 403 and "data-claims" not in foreign.text
