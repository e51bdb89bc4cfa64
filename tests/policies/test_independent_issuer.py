"""Issue 4 acceptance: tokens of an independent authorization server are accepted once trusted.

The server is panva's oidc-provider (an OpenID Certified implementation, not
our code) run by node from tests/idp. The gateway is given only its issuer
URL, audience, jurisdictions and claim names; keys come by discovery.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import SqliteStore
from gateway.web.app import create_app
from policies import ClaimMapping, InvalidToken, PolicySet, Role, TokenVerifier, TrustedIssuer
from policies.authserver import issue_token
from tests.support.paths import TESTS
from tests.support.ports import free_port
from tests.support.processes import Server, node_tool

pytestmark = pytest.mark.process

IDP = TESTS / "idp"
ROBOPASS = "https://robopass.test/graphql"
OTHER = "https://other.test/api"
CLAIMS = ClaimMapping(
    organisation="org_name", jurisdiction="country", role="party_role", purposes="purpose"
)
QUERY = """{ robots(first: 2) { edges { node { code manufacturer { name }
  hardware { compute } condition { batteryHealthPct } ownership { owner } } } } }"""


@pytest.fixture(scope="module")
def idp() -> Iterator[str]:
    """oidc-provider on a free loopback port; its issuer URL."""
    node = node_tool(IDP, "oidc-provider")
    port = free_port()
    server = Server([node, "server.mjs", str(port)], cwd=IDP)
    try:
        line = server.wait_for("ready ")
        yield line.split("ready ", 1)[1]
    finally:
        server.stop()


def trusted(issuer: str, claims: ClaimMapping = CLAIMS) -> TrustedIssuer:
    return TrustedIssuer(
        issuer,
        audience=ROBOPASS,
        jurisdictions=frozenset({"DE"}),
        algorithms=frozenset({"ES256", "RS256"}),
        claims=claims,
        allow_http=True,
    )


def verifier(*issuers: TrustedIssuer) -> TokenVerifier:
    return TokenVerifier(issuers, client=httpx.AsyncClient(timeout=5))


def token(issuer: str, client: str, resource: str | None = ROBOPASS) -> str:
    """A client-credentials token from oidc-provider, for `resource` (RFC 8707)."""
    form = {"grant_type": "client_credentials", "scope": "robopass:read"}
    if resource:
        form["resource"] = resource
    response = httpx.post(f"{issuer}/token", data=form, auth=(client, f"secret-{client}"))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def ask(store: SqliteStore, trust: TrustedIssuer, bearer: str | None) -> httpx.Response:
    """One request to a fresh gateway that trusts only `trust`, keys by discovery."""
    headers = {"authorization": f"Bearer {bearer}"} if bearer else {}

    async def post() -> httpx.Response:
        app = create_app(Services(LocalSource(store), PolicySet.demo(), verifier=verifier(trust)))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return await client.post("/graphql", json={"query": QUERY}, headers=headers)

    return asyncio.run(post())


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert "data" not in response.json()


def test_token_is_an_rfc9068_jwt_for_our_audience(idp: str) -> None:
    meta = httpx.get(f"{idp}/.well-known/openid-configuration").json()
    assert meta["issuer"] == idp and meta["jwks_uri"].startswith(idp)
    jwt = token(idp, "baua")
    principal = asyncio.run(verifier(trusted(idp)).verify(jwt))
    assert principal.issuer == idp
    assert principal.role is Role.MARKET_SURVEILLANCE
    assert principal.jurisdiction == "DE"
    assert principal.organisation == "Bundesanstalt fuer Arbeitsschutz und Arbeitsmedizin"
    assert principal.purposes == {"market_surveillance"}
    assert principal.client_id == "baua" and principal.subject == "baua"
    assert principal.scopes == {"robopass:read"} and principal.token_id


def test_gateway_serves_each_party_its_view(idp: str, store: SqliteStore) -> None:
    trust = trusted(idp)
    authority = ask(store, trust, token(idp, "baua"))
    assert authority.status_code == 200
    robots = [e["node"] for e in authority.json()["data"]["robots"]["edges"]]
    assert all(r["hardware"]["compute"] for r in robots), "the CN-DE agreement grants COMMERCIAL"
    assert all(o["owner"] is None for r in robots for o in r["ownership"]), "PIPL Art. 41"
    buyer = ask(store, trust, token(idp, "second-life"))
    assert buyer.status_code == 200
    robots = [e["node"] for e in buyer.json()["data"]["robots"]["edges"]]
    assert all(r["condition"]["batteryHealthPct"] > 0 for r in robots)
    assert all(r["hardware"]["compute"] is None for r in robots)


def test_token_for_another_audience_is_refused(idp: str, store: SqliteStore) -> None:
    assert_refused(ask(store, trusted(idp), token(idp, "baua", resource=OTHER)))


def test_opaque_token_without_resource_is_refused(idp: str, store: SqliteStore) -> None:
    opaque = token(idp, "baua", resource=None)
    assert opaque.count(".") == 0
    assert_refused(ask(store, trusted(idp), opaque))


def test_jurisdiction_the_issuer_is_not_trusted_for_is_refused(
    idp: str, store: SqliteStore
) -> None:
    assert_refused(ask(store, trusted(idp), token(idp, "cn-claimant")))


def test_without_the_claim_mapping_its_claims_assert_nothing(idp: str) -> None:
    with pytest.raises(InvalidToken, match="jurisdiction"):
        asyncio.run(verifier(trusted(idp, ClaimMapping())).verify(token(idp, "second-life")))


def test_our_demo_server_is_refused_when_only_the_independent_one_is_trusted(
    idp: str, store: SqliteStore, tmp_path: Path
) -> None:
    trust = trusted(idp)
    ours = issue_token("used-robot-buyer", tmp_path, "http://127.0.0.1:1/auth")
    assert_refused(ask(store, trust, ours))
    posing = issue_token("used-robot-buyer", tmp_path, idp, audience=ROBOPASS)
    assert_refused(ask(store, trust, posing))
