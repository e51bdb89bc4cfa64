"""The development authorization server, served by a real uvicorn on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from policies import InvalidToken, Role, TokenVerifier, TrustedIssuer
from policies.authserver import (
    TOKEN_LIFETIME,
    create_auth_app,
    issue_token,
    load_clients,
    signing_key,
)
from tests.support.ports import free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("auth")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    app = create_auth_app(data_dir, issuer)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield issuer, data_dir
    srv.should_exit = True
    thread.join(5)


def trusting(issuer: str, jurisdictions: set[str]) -> TokenVerifier:
    trusted = TrustedIssuer(issuer, "robopass", frozenset(jurisdictions), allow_http=True)
    return TokenVerifier([trusted], client=httpx.AsyncClient(timeout=5))


def test_client_credentials_token_verifies_via_discovery(server: tuple[str, Path]) -> None:
    issuer, _ = server
    meta = httpx.get(issuer + "/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == issuer and meta["jwks_uri"] == issuer + "/jwks.json"
    assert meta["grant_types_supported"] == ["client_credentials"]
    response = httpx.post(
        issuer + "/token",
        data={"grant_type": "client_credentials"},
        auth=("de-msa", "dev-secret-de-msa"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"].lower() == "bearer" and "refresh_token" not in body
    principal = asyncio.run(trusting(issuer, {"DE"}).verify(body["access_token"]))
    assert principal.role is Role.MARKET_SURVEILLANCE and principal.jurisdiction == "DE"
    assert principal.purposes == {"market_surveillance"} and principal.client_id == "de-msa"
    assert principal.subject == "de-msa" and principal.token_id


def test_secret_in_body_and_scope_narrowing(server: tuple[str, Path]) -> None:
    issuer, _ = server
    response = httpx.post(
        issuer + "/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "fleet-owner",
            "client_secret": "dev-secret-fleet-owner",
            "scope": "robopass:read",
        },
    )
    assert response.status_code == 200, response.text
    principal = asyncio.run(trusting(issuer, {"DE"}).verify(response.json()["access_token"]))
    assert principal.scopes == {"robopass:read"} and principal.role is Role.OWNER


def test_wrong_secret_and_wrong_grant(server: tuple[str, Path]) -> None:
    issuer, _ = server
    bad = httpx.post(
        issuer + "/token", data={"grant_type": "client_credentials"}, auth=("de-msa", "nope")
    )
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    grant = httpx.post(issuer + "/token", data={"grant_type": "password"}, auth=("de-msa", "x"))
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"


def test_issuer_trusted_for_other_jurisdiction_is_refused(server: tuple[str, Path]) -> None:
    issuer, data_dir = server
    token = issue_token("us-insurer", data_dir, issuer)
    with pytest.raises(InvalidToken):
        asyncio.run(trusting(issuer, {"DE"}).verify(token))
    assert asyncio.run(trusting(issuer, {"US"}).verify(token)).role is Role.INSURER


@pytest.mark.process
def test_key_is_kept_private_and_reused(server: tuple[str, Path]) -> None:
    issuer, data_dir = server
    key_file = data_dir / "signing-key.json"
    assert key_file.stat().st_mode & 0o077 == 0
    served = httpx.get(issuer + "/jwks.json").json()
    assert "d" not in served["keys"][0]
    assert served["keys"][0]["kid"] == json.loads(key_file.read_text())["kid"]
    with pytest.raises(KeyError):
        issue_token("nobody", data_dir, issuer)


def test_a_new_key_is_the_one_stored_and_a_rewritten_file_is_read_again(tmp_path: Path) -> None:
    """The key made on first use is returned without reading it back, so it must equal
    what was stored; a file replaced afterwards is read again, not served from memory."""
    made = signing_key(tmp_path)
    stored = json.loads((tmp_path / "signing-key.json").read_text())
    assert made.as_dict(private=True) == stored
    assert (stored["use"], stored["alg"], stored["kid"]) == ("sig", "RS256", made.thumbprint())
    assert signing_key(tmp_path).as_dict(private=True) == stored
    other = tmp_path / "other"
    replacement = signing_key(other).as_dict(private=True)
    (tmp_path / "signing-key.json").unlink()
    (other / "signing-key.json").rename(tmp_path / "signing-key.json")
    assert signing_key(tmp_path).as_dict(private=True) == replacement


def test_demo_clients_cover_the_brief() -> None:
    roles = {c.role for c in load_clients().values()}
    assert {"market_surveillance", "insurer", "owner", "buyer", "standards_body"} <= roles


def test_tokens_live_one_hour_over_http_and_from_the_cli(server: tuple[str, Path]) -> None:
    """A gateway caches a token until its `exp`: the demo issuer keeps tokens short-lived."""
    issuer, data_dir = server
    response = httpx.post(
        issuer + "/token",
        data={"grant_type": "client_credentials"},
        auth=("de-msa", "dev-secret-de-msa"),
    )
    assert response.json()["expires_in"] == TOKEN_LIFETIME == 3600
    for token in (response.json()["access_token"], issue_token("de-msa", data_dir, issuer)):
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        assert claims["exp"] - claims["iat"] == TOKEN_LIFETIME
