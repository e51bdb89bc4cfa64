"""`robopass auth-server` as a real process, and a gateway that trusts it by discovery."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import SqliteStore
from gateway.web.app import create_app
from policies import PolicySet, TokenVerifier, TrustedIssuer
from policies.authserver import issue_token, load_clients
from tests.support.ports import free_port
from tests.support.processes import Server

pytestmark = pytest.mark.process

QUERY = """{ robots(first: 3) { edges { node { code manufacturer { name }
  condition { batteryHealthPct } } } } }"""


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Server]]:
    data_dir = tmp_path_factory.mktemp("auth-data")
    port = free_port()
    argv = [sys.executable, "-m", "gateway.cli", "auth-server", "--port", str(port)]
    argv += ["--data-dir", str(data_dir), "--log-level", "info"]
    server = Server(argv)
    try:
        server.wait_for("Uvicorn running on")
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.stop()


def gateway_trusting(issuer: str, store: SqliteStore):
    """A gateway app that knows only the issuer's URL: keys come by discovery."""
    trusted = TrustedIssuer(issuer, "robopass", frozenset({"DE"}), allow_http=True)
    verifier = TokenVerifier([trusted], client=httpx.AsyncClient(timeout=5))
    return create_app(Services(LocalSource(store), PolicySet.demo(), verifier=verifier))


def ask(app, token: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return await client.post("/graphql", json={"query": QUERY}, headers=headers)

    return asyncio.run(post())


def client_token(issuer: str, client_id: str, secret: str) -> httpx.Response:
    return httpx.post(
        f"{issuer}/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )


def test_banner_names_issuer_metadata_and_clients_but_no_secret(auth_server) -> None:
    issuer, server = auth_server
    out = "\n".join(server.lines)
    assert f"issuer {issuer}" in out
    assert f"{issuer}/.well-known/oauth-authorization-server" in out
    for client in load_clients().values():
        assert client.client_id in out
        assert client.client_secret not in out


def test_metadata_and_jwks_are_served(auth_server) -> None:
    issuer, _ = auth_server
    meta = httpx.get(f"{issuer}/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == issuer
    assert meta["token_endpoint"] == f"{issuer}/token"
    jwks = httpx.get(meta["jwks_uri"]).json()
    assert [k["kty"] for k in jwks["keys"]] == ["RSA"]
    assert "d" not in jwks["keys"][0] and jwks["keys"][0]["kid"]


def test_wrong_secret_gets_no_token(auth_server) -> None:
    issuer, _ = auth_server
    response = client_token(issuer, "used-robot-buyer", "not-the-secret")
    assert response.status_code == 401 and "access_token" not in response.text


def test_gateway_trusting_it_accepts_its_token(auth_server, store: SqliteStore) -> None:
    issuer, _ = auth_server
    response = client_token(issuer, "used-robot-buyer", "dev-secret-used-robot-buyer")
    assert response.status_code == 200, response.text
    app = gateway_trusting(issuer, store)
    buyer = ask(app, response.json()["access_token"])
    assert buyer.status_code == 200
    robots = [e["node"] for e in buyer.json()["data"]["robots"]["edges"]]
    assert len(robots) == 3 and all(r["condition"]["batteryHealthPct"] > 0 for r in robots)
    anonymous = ask(app, None).json()
    assert all(e["node"]["condition"] is None for e in anonymous["data"]["robots"]["edges"])


def test_gateway_refuses_same_claims_signed_by_another_key(
    auth_server, store: SqliteStore, tmp_path: Path
) -> None:
    issuer, _ = auth_server
    forged = issue_token("used-robot-buyer", tmp_path / "other-key", issuer)
    response = ask(gateway_trusting(issuer, store), forged)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert "data" not in response.json()


def test_gateway_refuses_a_jurisdiction_the_issuer_is_not_trusted_for(
    auth_server, store: SqliteStore
) -> None:
    issuer, _ = auth_server
    response = client_token(issuer, "us-insurer", "dev-secret-us-insurer")
    assert response.status_code == 200
    assert ask(gateway_trusting(issuer, store), response.json()["access_token"]).status_code == 401
