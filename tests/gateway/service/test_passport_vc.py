"""GraphQL: `issuePassportCredential` for the current owner only, `verifyPresentation` for anyone.

The real app in process over a real SQLite registry, the demo policies, real
RS256 access tokens and the registry's real ES256 key. A sale through the
transfer mutations revokes the credential in the status list the app serves.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from joserfc.jwk import ECKey

from gateway.credentials.sdjwt import InvalidSDJWT, b64url_decode, split
from gateway.credentials.sdvc import present
from gateway.credentials.signing import RegistrySigner
from gateway.credentials.statuslist import Ledger, decode_list
from gateway.service.passport_vc import STATUS_PATH, Issuer
from policies import AuditLog
from schema.passport import Passport
from tests.support.writing import POLICY, Gateway, active, party, pick, soon, token

ISSUE = """mutation ($code: RobotCode!, $key: JSON!) {
  issuePassportCredential(code: $code, holderKey: $key) }"""
VERIFY = """query ($p: String!, $aud: String!, $nonce: String!) {
  verifyPresentation(presentation: $p, audience: $aud, nonce: $nonce) {
    valid rule message issuer vct claims disclosed } }"""
OFFER = """mutation ($code: RobotCode!, $input: TransferInput!, $key: String!) {
  initiateTransfer(code: $code, input: $input, idempotencyKey: $key) { sequence } }"""
ACCEPT = """mutation ($code: RobotCode!, $at: DateTime!, $key: String!) {
  acceptTransfer(code: $code, at: $at, idempotencyKey: $key) { sequence } }"""
BUYER = "https://buyer.test"


@pytest.fixture
def log(tmp_path) -> Iterator[AuditLog]:
    audit = AuditLog(tmp_path / "audit.db")
    yield audit
    audit.close()


@pytest.fixture
def gw(store, tmp_path, log) -> Gateway:
    signer = RegistrySigner.from_data_dir(tmp_path / "keys", "http://t", "Test registry")
    issuer = Issuer(signer, Ledger(tmp_path / "keys"), POLICY, log)
    return Gateway(store, log, credentials=issuer)


def actions(log: AuditLog, code: str) -> list[str]:
    return [r.record.action for r in log.trail(code) if r.record.action]


@pytest.fixture(scope="module")
def holder() -> ECKey:
    return ECKey.generate_key("P-256", private=True)


def owner_of(p: Passport) -> str:
    owner = p.current_owner
    return token("owner", owner.owner, jurisdiction=owner.jurisdiction, org_id=owner.owner_id)


def get(gw: Gateway, path: str) -> httpx.Response:
    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=gw.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(path)

    return asyncio.run(fetch())


def issued(gw, p, holder) -> str:
    body = gw.ask(ISSUE, {"code": p.code, "key": holder.as_dict(private=False)}, owner_of(p))
    assert "errors" not in body, body
    return body["data"]["issuePassportCredential"]


def local(p: Passport) -> bool:
    """Owned in the registry's country: the demo policies show such an owner everything."""
    return active(p) and p.current_owner.jurisdiction == p.code[:2]


def test_only_the_current_owner_is_issued_a_credential(store, gw, holder, log, tmp_path):
    p = pick(store, active)
    public = holder.as_dict(private=False)
    cases = [
        (None, "scope"),
        (token("owner", "Somebody Else", org_id=party("Somebody Else")), "credential.owner"),
        (token("regulator", "Authority", jurisdiction="CN"), "credential.owner"),
        (token("owner", "x", org_id=p.current_owner.owner_id, scope="robopass:read"), "scope"),
    ]
    for bearer, rule in cases:
        body = gw.ask(ISSUE, {"code": p.code, "key": public}, bearer)
        (error,) = body["errors"]
        assert error["extensions"]["rule"] == rule, (bearer, error)
        assert body["data"] is None
    assert actions(log, p.code) == [
        "credential:refused:scope",
        "credential:refused:credential.owner",
        "credential:refused:credential.owner",
        "credential:refused:scope",
    ]
    assert Ledger(tmp_path / "keys").entries() == [], "a refusal allocates no status index"
    private = gw.ask(ISSUE, {"code": p.code, "key": holder.as_dict(private=True)}, owner_of(p))
    assert private["errors"][0]["extensions"]["rule"] == "credential.holder_key"
    assert "private part" in private["errors"][0]["message"]


def test_the_credential_holds_what_the_owner_may_see_and_binds_the_holder(store, gw, holder, log):
    p = pick(store, lambda p: local(p) and p.incidents)
    text = issued(gw, p, holder)
    (record,) = [r.record for r in log.trail(p.code) if r.record.action]
    assert record.action == "credential:issued" and "incidents.severity" in record.served
    assert "incidents.findings" not in record.served
    payload = json.loads(b64url_decode(split(text).jwt.split(".")[1]))
    assert payload["cnf"]["jwk"]["x"] == holder.as_dict(private=False)["x"]
    assert payload["status"]["status_list"]["uri"] == "http://t" + STATUS_PATH
    presentation = present(text, ["incidents"], BUYER, "n-1", holder)
    result = gw.ask(VERIFY, {"p": presentation, "aud": BUYER, "nonce": "n-1"})["data"]
    check = result["verifyPresentation"]
    assert check["valid"] is True, check
    assert set(check["claims"]) == {"incidents"}
    shown = check["claims"]["incidents"]
    assert all("findings" not in i for i in shown), "RESTRICTED findings never reach the owner"
    assert len(shown) == len(p.incidents)


def test_a_part_the_owner_may_not_see_is_not_even_counted(store, gw, holder):
    p = pick(store, lambda p: local(p) and p.conditions)
    bearer = token("owner", "x", jurisdiction="DE", org_id=p.current_owner.owner_id)
    body = gw.ask(ISSUE, {"code": p.code, "key": holder.as_dict(private=False)}, bearer)
    text = body["data"]["issuePassportCredential"]
    with pytest.raises(InvalidSDJWT, match="no claim 'conditions'"):
        present(text, ["conditions"], BUYER, "n", holder)


def test_verify_presentation_answers_the_rule_broken_as_data(store, gw, holder):
    p = pick(store, local)
    presentation = present(issued(gw, p, holder), ["operatingHours"], BUYER, "n-1", holder)
    for variables, rule in [
        ({"p": presentation, "aud": "https://insurer.test", "nonce": "n-1"}, "aud"),
        ({"p": presentation, "aud": BUYER, "nonce": "n-2"}, "nonce"),
        ({"p": presentation.rsplit("~", 1)[0] + "~", "aud": BUYER, "nonce": "n-1"}, "key-binding"),
    ]:
        check = gw.ask(VERIFY, variables)["data"]["verifyPresentation"]
        assert (check["valid"], check["rule"], check["claims"]) == (False, rule, None)


def test_a_sale_revokes_the_sellers_credential_in_the_served_status_list(store, gw, holder):
    p = pick(store, local)
    text = issued(gw, p, holder)
    idx = json.loads(b64url_decode(split(text).jwt.split(".")[1]))["status"]["status_list"]["idx"]
    served = get(gw, STATUS_PATH)
    assert served.headers["content-type"].startswith("application/statuslist+jwt")
    before = json.loads(b64url_decode(served.text.split(".")[1]))
    assert decode_list(before["status_list"])(idx) == 0
    assert get(gw, STATUS_PATH).text == served.text, "nothing moved: the same token, not re-signed"

    buyer = "Robots de Lyon SARL"
    offer = {
        "at": soon(),
        "newOwner": buyer,
        "newOwnerId": party(buyer),
        "ownerKind": "ORGANISATION",
        "jurisdiction": "FR",
    }
    assert "errors" not in gw.ask(OFFER, {"code": p.code, "input": offer, "key": "o"}, owner_of(p))
    taker = token("owner", buyer, jurisdiction="FR", org_id=party(buyer))
    assert "errors" not in gw.ask(ACCEPT, {"code": p.code, "at": soon(1), "key": "a"}, taker)

    after = json.loads(b64url_decode(get(gw, STATUS_PATH).text.split(".")[1]))
    assert decode_list(after["status_list"])(idx) == 1
    presentation = present(text, ["operatingHours"], BUYER, "n-1", holder)
    check = gw.ask(VERIFY, {"p": presentation, "aud": BUYER, "nonce": "n-1"})
    assert check["data"]["verifyPresentation"]["rule"] == "revoked"
