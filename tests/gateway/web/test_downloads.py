"""Export downloads from a real `robopass serve`: formats, redaction, signatures, errors."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.service.export import EXPORT_FORMATS
from tests.support.cli_process import robopass_text as robopass
from tests.support.signing import parts


@dataclass(frozen=True)
class Server:
    base: str
    data_dir: Path
    code: str
    owner: str

    def download(self, fmt: str, **kwargs) -> httpx.Response:
        return httpx.get(f"{self.base}/robots/{self.code}/export/{fmt}", timeout=30, **kwargs)


@pytest.fixture(scope="module")
def server(served_module) -> Server:
    base, data_dir = served_module
    query = "{ robots(first: 1) { edges { node { code } } } }"
    body = httpx.post(f"{base}/graphql", json={"query": query}).json()
    code = body["data"]["robots"]["edges"][0]["node"]["code"]
    full = robopass("export", code, "--format", "canonical", "--data-dir", data_dir)
    assert full.returncode == 0, full.stderr
    owner = json.loads(full.stdout)["ownership"][-1]["owner"]
    assert owner
    return Server(base, data_dir, code, owner)


@pytest.mark.process
@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_anonymous_download_is_the_public_view(server, fmt):
    response = server.download(fmt)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    disposition = response.headers["content-disposition"]
    assert disposition == f'attachment; filename="{server.code}.{fmt}.json"'
    assert "no-store" in response.headers["cache-control"]
    assert server.code in response.text
    assert server.owner not in response.text, "owner names are PERSONAL"
    assert isinstance(response.json(), dict)


@pytest.mark.process
@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_signed_download_verifies_against_the_published_jwks(server, fmt, tmp_path):
    response = server.download(fmt, params={"signed": "true"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vc+jwt"
    disposition = response.headers["content-disposition"]
    assert disposition == f'attachment; filename="{server.code}.{fmt}.vc.jwt"'
    _, claims = parts(response.text)
    assert claims["iss"] == server.base
    assert server.owner not in json.dumps(claims, ensure_ascii=False)
    credential = tmp_path / "robot.vc.jwt"
    credential.write_text(response.text)
    result = robopass("verify", credential, "--jwks", f"{server.base}/.well-known/jwks.json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"issuer:  {server.base}" in result.stdout
    assert f"robot:   {server.code}" in result.stdout
    assert f"format:  {fmt}" in result.stdout


@pytest.mark.process
def test_accept_header_asks_for_the_credential(server):
    response = server.download("canonical", headers={"accept": "application/vc+jwt"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vc+jwt"
    header, _ = parts(response.text)
    published = httpx.get(f"{server.base}/.well-known/jwks.json").json()["keys"]
    assert header["kid"] == published[0]["kid"]
    assert all("d" not in key for key in published), "no private key material is published"
    accept = {"accept": "application/vc+jwt"}
    plain = server.download("canonical", params={"signed": "false"}, headers=accept)
    assert plain.headers["content-type"] == "application/json", "?signed= wins over Accept"


@pytest.mark.process
def test_a_token_widens_the_view(server):
    token = robopass(
        "token", "used-robot-buyer", "--port", server.base.rsplit(":", 1)[1],
        "--data-dir", server.data_dir,
    )  # fmt: skip
    assert token.returncode == 0, token.stderr
    auth = {"authorization": f"Bearer {token.stdout.strip()}"}
    anonymous = server.download("canonical").json()
    buyer = server.download("canonical", headers=auth).json()
    assert "maintenance" not in anonymous
    assert "maintenance" in buyer, "due diligence sees the service history"


@pytest.mark.process
def test_a_signed_in_person_downloads_what_the_report_shows_them(server):
    token = robopass(
        "token", "used-robot-buyer", "--port", server.base.rsplit(":", 1)[1],
        "--data-dir", server.data_dir,
    )  # fmt: skip
    cookie = {"robopass_session": token.stdout.strip()}
    assert "maintenance" in server.download("canonical", cookies=cookie).json()
    forged = server.download("canonical", cookies={"robopass_session": "forged"})
    assert forged.status_code == 200 and "maintenance" not in forged.json()


@pytest.mark.process
def test_bad_token_is_401_and_discloses_nothing(server):
    response = server.download("canonical", headers={"authorization": "Bearer not.a.token"})
    assert response.status_code == 401
    assert "www-authenticate" in response.headers
    assert server.code not in response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def error_of(response: httpx.Response) -> dict:
    return response.json()["errors"][0]


@pytest.mark.process
def test_bad_requests_get_clear_errors(server):
    wrong_check = server.code[:-1] + ("0" if server.code[-1] != "0" else "1")
    bad = httpx.get(f"{server.base}/robots/{wrong_check}/export/aas")
    assert bad.status_code == 400
    expected = {"code": "BAD_ROBOT_CODE", "rule": "check", "position": 29}
    assert error_of(bad)["extensions"] == expected

    short = httpx.get(f"{server.base}/robots/CN123/export/aas")
    assert short.status_code == 400
    assert error_of(short)["extensions"]["rule"] == "length"

    unknown = httpx.get(f"{server.base}/robots/CNH7K2H0A1B32605281000012345A/export/aas")
    assert unknown.status_code == 404
    assert error_of(unknown)["extensions"]["code"] == "NOT_FOUND"

    fmt = server.download("pdf")
    assert fmt.status_code == 400
    assert error_of(fmt)["extensions"]["code"] == "BAD_USER_INPUT"
    assert all(name in error_of(fmt)["message"] for name in EXPORT_FORMATS)

    flag = server.download("canonical", params={"signed": "maybe"})
    assert flag.status_code == 400
    assert "signed" in error_of(flag)["message"]

    post = httpx.post(f"{server.base}/robots/{server.code}/export/canonical")
    assert post.status_code == 405


def test_a_gateway_without_a_key_serves_plain_downloads_only(store):
    from gateway.service.local import LocalSource
    from gateway.service.services import Services
    from gateway.web.app import create_app

    code = store.codes(limit=1)[0]
    app = create_app(Services(LocalSource(store), policy=None))

    async def fetch() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [
                await client.get(f"/robots/{code}/export/canonical"),
                await client.get(f"/robots/{code}/export/canonical?signed=true"),
                await client.get("/.well-known/jwks.json"),
            ]

    plain, signed, jwks = asyncio.run(fetch())
    assert plain.status_code == 200
    assert plain.json()["ownership"], "policy=None is the full view"
    assert signed.status_code == 501
    assert error_of(signed)["extensions"]["code"] == "NOT_SUPPORTED"
    assert jwks.status_code == 404
