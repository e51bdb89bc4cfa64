"""Keys, claims and a verifier for the token tests: real signatures by real keys of
every kind the verifier accepts (and refuses).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from policies import (
    Role,
    TokenVerifier,
    TrustedIssuer,
)

NOW = 1_780_000_000


CN = "https://as.cn.example"


DE = "https://as.de.example"


HS = "https://as.hs.example"


AUD = "robopass"


RSA = RSAKey.generate_key(2048, parameters={"kid": "cn-rsa"}, private=True)


EC = ECKey.generate_key("P-256", parameters={"kid": "cn-ec"}, private=True)


DE_RSA = RSAKey.generate_key(2048, parameters={"kid": "de-rsa"}, private=True)


def jwks(*keys: Any) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


ISSUERS = [
    TrustedIssuer(CN, AUD, frozenset({"CN"}), jwks=jwks(RSA, EC)),
    TrustedIssuer(DE, AUD, frozenset({"DE"}), jwks=jwks(DE_RSA), roles=frozenset({Role.BUYER})),
    TrustedIssuer(
        HS, AUD, frozenset({"CN"}), algorithms=frozenset({"HS256", "RS256"}), jwks=jwks(RSA)
    ),
]


def claims(**changes: Any) -> dict[str, Any]:
    base = {
        "iss": CN,
        "sub": "client-1",
        "aud": AUD,
        "exp": NOW + 600,
        "iat": NOW - 10,
        "jti": "tok-1",
        "client_id": "client-1",
        "scope": "robopass:read",
        "org": "CAC",
        "jurisdiction": "CN",
        "role": "regulator",
        "purposes": "incident_investigation",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: Any = RSA, **header: Any) -> str:
    head = {"alg": "RS256" if isinstance(key, RSAKey) else "ES256", "typ": "at+jwt", "kid": key.kid}
    head.update(header)
    head = {k: v for k, v in head.items() if v is not None}
    return jwt.encode(head, payload, key, algorithms=[head["alg"]], default_type=None)


def verifier(**kw: Any) -> TokenVerifier:
    return TokenVerifier(ISSUERS, client=httpx.AsyncClient(), clock=lambda: NOW, **kw)


def run(coro: Any) -> Any:
    return asyncio.run(coro)
