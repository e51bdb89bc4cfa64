"""Token verification: an attack suite of forged and malformed tokens, and valid ones."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc.jwk import RSAKey

from policies import (
    PUBLIC,
    ClaimMapping,
    InsufficientScope,
    Introspection,
    InvalidRequest,
    InvalidToken,
    IssuerUnavailable,
    Role,
    TokenError,
    TokenVerifier,
    TrustedIssuer,
    require_scope,
    www_authenticate,
)
from tests.support.tokens import (
    AUD,
    CN,
    DE,
    DE_RSA,
    EC,
    HS,
    NOW,
    RSA,
    claims,
    jwks,
    run,
    sign,
    verifier,
)

OTHER = RSAKey.generate_key(2048, parameters={"kid": "cn-rsa"}, private=True)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw(header: dict[str, Any], payload: dict[str, Any] | str, sig: bytes = b"") -> str:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return f"{b64(json.dumps(header).encode())}.{b64(body.encode())}.{b64(sig)}"


def sign_text(payload: str) -> str:
    """A genuinely RS256-signed token over a payload text json.dumps would not produce."""
    header = b64(json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": "cn-rsa"}).encode())
    signing_input = f"{header}.{b64(payload.encode())}"
    sig = RSA.get_op_key("sign").sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(sig)}"


def hs256_with_public_key(payload: dict[str, Any]) -> str:
    header = {"alg": "HS256", "typ": "at+jwt", "kid": "cn-rsa"}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    secret = RSA.as_pem(private=False)
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


def tampered() -> str:
    h, _, s = sign(claims()).split(".")
    return (
        f"{h}.{b64(json.dumps(claims(role='regulator', jurisdiction='CN', sub='x')).encode())}.{s}"
    )


ATTACKS = {
    "alg none": lambda: raw({"alg": "none", "typ": "at+jwt"}, claims()),
    "alg NoNe": lambda: raw({"alg": "NoNe", "typ": "at+jwt"}, claims()),
    "alg missing": lambda: raw({"typ": "at+jwt"}, claims(), b"x"),
    "hs256 with rsa public key": lambda: hs256_with_public_key(claims()),
    "hs256 with rsa key where HS allowed": lambda: hs256_with_public_key(claims(iss=HS)),
    "algorithm not allowed RS384": lambda: sign(claims(), alg="RS384"),
    "typ missing": lambda: sign(claims(), typ=None),
    "typ JWT": lambda: sign(claims(), typ="JWT"),
    "typ at+jwt-ish": lambda: sign(claims(), typ="at+jwt2"),
    "expired": lambda: sign(claims(exp=NOW - 120)),
    "exp as string": lambda: sign(claims(exp=str(NOW + 600))),
    "nbf in future": lambda: sign(claims(nbf=NOW + 600)),
    "iat in future": lambda: sign(claims(iat=NOW + 600)),
    "wrong audience": lambda: sign(claims(aud="someone-else")),
    "audience list without ours": lambda: sign(claims(aud=["a", "b"])),
    "untrusted issuer": lambda: sign(claims(iss="https://evil.example")),
    "signed by another trusted issuer": lambda: sign(claims(), DE_RSA),
    "unknown kid": lambda: sign(claims(), kid="nope"),
    "same kid, foreign key": lambda: sign(claims(), OTHER),
    "jku header": lambda: sign(claims(), jku="https://evil.example/jwks"),
    "x5u header": lambda: sign(claims(), x5u="https://evil.example/cert"),
    "embedded jwk header": lambda: sign(claims(), jwk=OTHER.as_dict(private=False)),
    "x5c header": lambda: sign(claims(), x5c=["MIIB"]),
    "unknown crit": lambda: raw(
        {"alg": "RS256", "typ": "at+jwt", "crit": ["exp"], "exp": 1}, claims(), b"x"
    ),
    "cnf as bearer": lambda: sign(claims(cnf={"jkt": "abc"})),
    "jurisdiction not trusted": lambda: sign(claims(jurisdiction="DE")),
    "role not trusted for issuer": lambda: sign(claims(iss=DE, jurisdiction="DE"), DE_RSA),
    "role public": lambda: sign(claims(role="public")),
    "unknown role": lambda: sign(claims(role="emperor")),
    "missing sub": lambda: sign(claims(sub=None)),
    "missing exp": lambda: sign(claims(exp=None)),
    "missing client_id": lambda: sign(claims(client_id=None)),
    "missing iat": lambda: sign(claims(iat=None)),
    "missing jti": lambda: sign(claims(jti=None)),
    "missing aud": lambda: sign(claims(aud=None)),
    "tampered payload": tampered,
    "truncated signature": lambda: sign(claims(), EC)[:-8],
    "duplicate claim": lambda: raw(
        {"alg": "RS256", "typ": "at+jwt"}, '{"iss":"x","iss":"' + CN + '"}', b"x"
    ),
    "jwe shaped": lambda: "a.b.c.d.e",
    "exp NaN": lambda: sign_text(json.dumps(claims()).replace(str(NOW + 600), "NaN")),
    "exp huge integer": lambda: sign(claims(exp=10**400)),
    "exp float infinity": lambda: sign_text(json.dumps(claims()).replace(str(NOW + 600), "1e400")),
    "iss not a string": lambda: sign(claims(iss=[CN])),
    "b64 header": lambda: sign(claims(), b64=False, crit=["b64"]),
    "garbage": lambda: "not a token!",
    "non base64url": lambda: "e30+.e30/.sig",
    "too long": lambda: "a" * 9000,
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_is_rejected(name: str) -> None:
    token = ATTACKS[name]()
    with pytest.raises(TokenError) as info:
        run(verifier().verify(token))
    assert info.value.error in ("invalid_token", "invalid_request")
    assert token not in str(info.value)


def test_at_least_twenty_distinct_attacks() -> None:
    assert len({ATTACKS[n]() for n in ATTACKS}) >= 20


def test_valid_rs256_token() -> None:
    p = run(verifier().verify(sign(claims())))
    assert (p.issuer, p.subject, p.client_id, p.token_id) == (CN, "client-1", "client-1", "tok-1")
    assert p.role is Role.REGULATOR and p.jurisdiction == "CN" and p.organisation == "CAC"
    assert p.purposes == {"incident_investigation"} and p.scopes == {"robopass:read"}


def test_valid_es256_token_with_typ_variants() -> None:
    for typ in ("at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"):
        p = run(verifier().verify(sign(claims(), EC, typ=typ)))
        assert p.subject == "client-1"


def test_valid_with_audience_list_and_leeway() -> None:
    p = run(verifier().verify(sign(claims(aud=["x", AUD], exp=NOW - 5, nbf=NOW + 5))))
    assert p.role is Role.REGULATOR


def test_purposes_as_list_and_custom_claim_mapping() -> None:
    issuer = TrustedIssuer(
        CN, AUD, frozenset({"CN"}), jwks=jwks(RSA), claims=ClaimMapping(organisation="company")
    )
    v = TokenVerifier([issuer], client=httpx.AsyncClient(), clock=lambda: NOW)
    p = run(v.verify(sign(claims(company="ACME", purposes=["a", "b"]))))
    assert p.organisation == "ACME" and p.purposes == {"a", "b"}


def test_principal_repr_hides_organisation_and_token() -> None:
    token = sign(claims(org="Zhang Wei"))
    p = run(verifier().verify(token))
    assert "Zhang Wei" not in repr(p) and token not in repr(p)


def test_authorization_header() -> None:
    v = verifier()
    assert run(v.authenticate(None)) is PUBLIC
    assert run(v.authenticate("Bearer " + sign(claims()))).subject == "client-1"
    with pytest.raises(InvalidRequest):
        run(v.authenticate("Basic dXNlcjpwYXNz"))
    with pytest.raises(InvalidRequest):
        run(v.authenticate("Bearer a b"))


def test_www_authenticate_and_scope() -> None:
    assert www_authenticate() == 'Bearer realm="robopass"'
    value = www_authenticate(InvalidToken('token has "expired"'))
    assert (
        'error="invalid_token"' in value and 'error_description="token has \\"expired\\""' in value
    )
    p = run(verifier().verify(sign(claims())))
    require_scope(p, "robopass:read")
    with pytest.raises(InsufficientScope) as info:
        require_scope(p, "robopass:write")
    assert info.value.status_code == 403
    assert 'error="insufficient_scope"' in www_authenticate(info.value)
    assert 'scope="robopass:write"' in www_authenticate(info.value)


def test_issuer_config_rejects_none_and_plain_http() -> None:
    with pytest.raises(ValueError):
        TrustedIssuer(CN, AUD, frozenset({"CN"}), algorithms=frozenset({"none"}))
    with pytest.raises(IssuerUnavailable):
        TrustedIssuer("http://as.example", AUD, frozenset({"CN"}))
    with pytest.raises(ValueError):
        TrustedIssuer(CN, AUD, frozenset())


# -- discovery, rotation, rate limit ----------------------------------------


class FakeAS:
    """An authorization server behind httpx.MockTransport; counts JWKS fetches."""

    def __init__(self, keys: list[Any], oauth_metadata: bool = True) -> None:
        self.keys = keys
        self.oauth_metadata = oauth_metadata
        self.jwks_fetches = 0
        self.metadata_issuer = CN

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/oauth-authorization-server" and self.oauth_metadata:
            return httpx.Response(200, json={"issuer": self.metadata_issuer, "jwks_uri": CN + "/k"})
        if path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={"issuer": self.metadata_issuer, "jwks_uri": CN + "/k"})
        if path == "/k":
            self.jwks_fetches += 1
            return httpx.Response(200, json=jwks(*self.keys))
        return httpx.Response(404)


def discovering(fake: FakeAS, clock: list[float]) -> TokenVerifier:
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake.handler))
    return TokenVerifier([TrustedIssuer(CN, AUD, frozenset({"CN"}))], client, lambda: clock[0])


def test_discovery_and_rotation_are_rate_limited() -> None:
    fake, clock = FakeAS([RSA]), [float(NOW)]
    v = discovering(fake, clock)

    async def scenario() -> None:
        assert (await v.verify(sign(claims()))).subject == "client-1"
        assert fake.jwks_fetches == 1
        rotated = RSAKey.generate_key(2048, parameters={"kid": "cn-rsa-2"}, private=True)
        fake.keys = [RSA, rotated]
        clock[0] += 5
        with pytest.raises(InvalidToken):
            await v.verify(sign(claims(), rotated))
        assert fake.jwks_fetches == 1, "refresh within 30 s must not refetch"
        for _ in range(20):
            with pytest.raises(InvalidToken):
                await v.verify(sign(claims(), kid=f"random-{_}"))
        assert fake.jwks_fetches == 1
        clock[0] += 31
        assert (await v.verify(sign(claims(), rotated))).subject == "client-1"
        assert fake.jwks_fetches == 2

    run(scenario())


def test_discovery_falls_back_to_openid_configuration() -> None:
    fake = FakeAS([EC], oauth_metadata=False)
    assert run(discovering(fake, [float(NOW)]).verify(sign(claims(), EC))).role is Role.REGULATOR


def test_discovery_rejects_metadata_of_another_issuer() -> None:
    fake = FakeAS([RSA])
    fake.metadata_issuer = "https://evil.example"
    with pytest.raises(IssuerUnavailable):
        run(discovering(fake, [float(NOW)]).verify(sign(claims())))


def test_jwks_with_private_or_symmetric_key_is_refused() -> None:
    bad = TrustedIssuer(CN, AUD, frozenset({"CN"}), jwks={"keys": [RSA.as_dict(private=True)]})
    v = TokenVerifier([bad], client=httpx.AsyncClient(), clock=lambda: NOW)
    with pytest.raises(IssuerUnavailable):
        run(v.verify(sign(claims())))


# -- introspection ----------------------------------------------------------


def test_opaque_token_via_introspection() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"].startswith("Basic ")
        form = dict(x.split("=") for x in request.content.decode().split("&"))
        if form["token"] != "opaque-good":
            return httpx.Response(200, json={"active": False})
        return httpx.Response(200, json={"active": True, **claims(iss=None)})

    issuer = TrustedIssuer(
        CN, AUD, frozenset({"CN"}), introspection=Introspection(CN + "/introspect", "rs", "s3")
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    v = TokenVerifier([issuer], client, clock=lambda: NOW)
    p = run(v.verify("opaque-good"))
    assert p.issuer == CN and p.role is Role.REGULATOR
    with pytest.raises(InvalidToken):
        run(v.verify("opaque-bad"))
    assert "s3" not in repr(issuer)
