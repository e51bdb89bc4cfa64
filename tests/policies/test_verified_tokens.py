"""Tokens verified once: the cache of verified principals, against real signed tokens.

Each test signs real RS256 tokens with a real key and drives the verifier's
clock; what must hold is that the cache never accepts what a full check would
refuse (an expired token, a forged signature over cached claims) and that it
stays within its bound.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from policies import InvalidClaims, InvalidSignature, InvalidToken, TokenVerifier, TrustedIssuer
from policies.verified import VerifiedTokens

NOW = 1_780_000_000.0
ISS = "https://as.cache.example"
AUD = "robopass"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
FORGER = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
ISSUER = TrustedIssuer(ISS, AUD, frozenset({"DE"}), jwks={"keys": [KEY.as_dict(private=False)]})


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def token(key: RSAKey = KEY, **changes: Any) -> str:
    claims = {
        "iss": ISS,
        "sub": "client-1",
        "aud": AUD,
        "exp": int(NOW) + 600,
        "iat": int(NOW) - 10,
        "jti": "tok-1",
        "client_id": "client-1",
        "org": "KBA",
        "jurisdiction": "DE",
        "role": "regulator",
    }
    claims.update(changes)
    header = {"alg": "RS256", "typ": "at+jwt", "kid": key.kid}
    return jwt.encode(header, claims, key, algorithms=["RS256"], default_type=None)


def verifier(clock: Clock, **kw: Any) -> TokenVerifier:
    return TokenVerifier([ISSUER], client=httpx.AsyncClient(), clock=clock, **kw)


def test_a_token_is_verified_once_then_served_from_the_cache() -> None:
    clock = Clock()
    v = verifier(clock)
    good = token()
    first = asyncio.run(v.verify(good))
    assert (v.verified.hits, v.verified.misses) == (0, 1)
    second = asyncio.run(v.verify(good))
    assert second == first and second.jurisdiction == "DE"
    assert (v.verified.hits, v.verified.misses) == (1, 1)


def test_the_cache_holds_digests_never_tokens() -> None:
    v = verifier(Clock())
    good = token()
    asyncio.run(v.verify(good))
    keys = list(v.verified._entries)
    assert keys == [VerifiedTokens.key(good)] and len(keys[0]) == 32
    assert good.encode() not in keys[0] and good not in repr(v.verified._entries)


def test_an_expired_token_is_refused_even_when_cached() -> None:
    clock = Clock()
    v = verifier(clock, leeway=30.0)
    good = token(exp=int(NOW) + 60)
    asyncio.run(v.verify(good))
    clock.now = NOW + 60 + 29  # within the leeway: still valid, from the cache
    asyncio.run(v.verify(good))
    assert v.verified.hits == 1
    clock.now = NOW + 60 + 30  # exp + leeway: a full check refuses it, and so must the cache
    with pytest.raises(InvalidClaims, match="expired"):
        asyncio.run(v.verify(good))
    assert len(v.verified) == 0


def test_a_forged_signature_over_cached_claims_is_verified_on_its_own() -> None:
    clock = Clock()
    v = verifier(clock)
    good = token()
    asyncio.run(v.verify(good))
    forged = token(FORGER)  # same header and claims, another key under the same kid
    assert forged.split(".")[:2] == good.split(".")[:2] and forged != good
    with pytest.raises(InvalidSignature):
        asyncio.run(v.verify(forged))
    spliced = ".".join([*good.split(".")[:2], forged.split(".")[2]])
    with pytest.raises(InvalidSignature):
        asyncio.run(v.verify(spliced))


def test_a_different_valid_token_with_the_same_claims_is_a_separate_entry() -> None:
    clock = Clock()
    v = verifier(clock)
    a = token()
    b = token(extra="x")  # another token, same principal
    pa, pb = asyncio.run(v.verify(a)), asyncio.run(v.verify(b))
    assert pa == pb and len(v.verified) == 2 and v.verified.hits == 0


def test_a_token_tampered_after_caching_is_refused() -> None:
    v = verifier(Clock())
    good = token()
    asyncio.run(v.verify(good))
    head, body, sig = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["role"] = "judicial"
    evil = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidSignature):
        asyncio.run(v.verify(f"{head}.{evil}.{sig}"))


def test_the_cache_keeps_its_bound_and_evicts_the_least_recently_used() -> None:
    clock = Clock()
    v = verifier(clock, cache_size=3)
    tokens = [token(jti=f"tok-{i}") for i in range(5)]
    for t in tokens[:3]:
        asyncio.run(v.verify(t))
    asyncio.run(v.verify(tokens[0]))  # recently used: survives the next two
    for t in tokens[3:]:
        asyncio.run(v.verify(t))
    assert len(v.verified) == 3
    hits = v.verified.hits
    asyncio.run(v.verify(tokens[0]))
    assert v.verified.hits == hits + 1
    asyncio.run(v.verify(tokens[1]))  # evicted: verified again, in full
    assert v.verified.hits == hits + 1 and len(v.verified) == 3


def test_size_zero_verifies_every_request() -> None:
    v = verifier(Clock(), cache_size=0)
    good = token()
    asyncio.run(v.verify(good))
    asyncio.run(v.verify(good))
    assert len(v.verified) == 0 and v.verified.hits == 0


def test_a_refused_token_is_not_cached() -> None:
    clock = Clock()
    v = verifier(clock)
    early = token(nbf=int(NOW) + 600)
    with pytest.raises(InvalidClaims):
        asyncio.run(v.verify(early))
    assert len(v.verified) == 0
    with pytest.raises(InvalidToken):
        asyncio.run(v.verify("a.b.c"))
    assert len(v.verified) == 0
