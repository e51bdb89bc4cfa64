"""Interoperability with an independent SD-JWT implementation, in both directions.

The other side is `sd-jwt`, the IETF reference implementation (PyPI, pinned in
pyproject's dev extra), which shares no code with ours: its own JOSE library
(jwcrypto), its own disclosure and key-binding code.

- our credential and our presentation verify with its verifier;
- its holder presents our credential and our verifier accepts it;
- its issuer issues (with our registry's key) and its holder presents, and our verifier accepts.
"""

from __future__ import annotations

import json
import time

import pytest
import sd_jwt.common as reference_common
import sd_jwt.holder as reference_holder
import sd_jwt.issuer as reference_issuer
import sd_jwt.verifier as reference_verifier
from joserfc.jwk import ECKey
from jwcrypto import jwk as jwcrypto_jwk

from gateway.credentials.sdvc import (
    SD_TYP,
    VCT,
    StatusRef,
    claims_of,
    issue_sd_jwt,
    present,
)
from gateway.synthetic.fleet import synthetic_fleet
from schema.events import fold
from tests.support.sdjwt import ISSUER, STATUS_URI, holder, signer, verify

URI = STATUS_URI
AUD = "https://insurer.test"
NONCE = "n-77"

__all__ = ["holder", "signer"]


@pytest.fixture(scope="module")
def passport():
    return fold(next(iter(synthetic_fleet(1, seed=11))))


def theirs(key: ECKey, private: bool = False):
    return jwcrypto_jwk.JWK.from_json(json.dumps(key.as_dict(private=private)))


def our_check(signer, text):
    return verify(signer, text, audience=AUD, nonce=NONCE)


def test_their_verifier_accepts_our_presentation(signer, holder, passport):
    credential = issue_sd_jwt(passport, signer, holder.as_dict(private=False), StatusRef(URI, 5))
    text = present(credential, ["incidents", "maintenance", "robotCode"], AUD, NONCE, holder)
    seen = []

    def issuer_key(iss, header):
        seen.append((iss, header.get("typ"), header.get("kid")))
        return theirs(signer.key)

    verifier = reference_verifier.SDJWTVerifier(text, issuer_key, AUD, NONCE)
    payload = verifier.get_verified_payload()
    assert seen == [(ISSUER, SD_TYP, signer.kid)]
    full = claims_of(passport)
    for name in ("incidents", "maintenance", "robotCode"):
        assert payload[name] == full[name]
    assert not {"ownership", "deployments", "conditions"} & set(payload)
    with pytest.raises(Exception, match="audience"):
        reference_verifier.SDJWTVerifier(text, issuer_key, "https://other.test", NONCE)


def test_our_verifier_accepts_their_holders_presentation_of_our_credential(
    signer, holder, passport
):
    credential = issue_sd_jwt(passport, signer, holder.as_dict(private=False), StatusRef(URI, 6))
    their_holder = reference_holder.SDJWTHolder(credential)
    their_holder.create_presentation(
        {"robotCode": True, "model": {"serial": True}}, NONCE, AUD, theirs(holder, private=True)
    )
    result = our_check(signer, their_holder.sd_jwt_presentation)
    assert result.claims == {"robotCode": passport.code, "model": {"serial": passport.model.serial}}


def test_our_verifier_accepts_what_their_issuer_and_holder_made(signer, holder):
    SDObj = reference_common.SDObj
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "iat": now,
        "exp": now + 3600,
        "vct": VCT,
        "status": {"status_list": {"idx": 9, "uri": URI}},
        SDObj("robotCode"): "CN0000TEST",
        SDObj("incidents"): [SDObj({SDObj("severity"): "MINOR", SDObj("id"): "INC-1"})],
    }
    issuer = reference_issuer.SDJWTIssuer(
        claims,
        theirs(signer.key, private=True),
        theirs(holder),
        add_decoy_claims=True,
        extra_header_parameters={"typ": SD_TYP, "kid": signer.kid},
    )
    their_holder = reference_holder.SDJWTHolder(issuer.sd_jwt_issuance)
    their_holder.create_presentation(
        {"incidents": [{"severity": True}]}, NONCE, AUD, theirs(holder, private=True)
    )
    result = our_check(signer, their_holder.sd_jwt_presentation)
    assert result.claims == {"incidents": [{"severity": "MINOR"}]}
    assert result.status_idx == 9
