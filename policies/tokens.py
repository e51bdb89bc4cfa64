"""Access-token verification as an OAuth 2.0 resource server.

JWT access tokens follow RFC 9068 and are checked in a fixed order: cheap
structural checks on the unverified header (no `none`, only allowed
algorithms, no key-carrying or unknown critical headers, `typ` at+jwt), then
the signature with a key of the issuer the token names, then the claims.
Opaque tokens go to RFC 7662 introspection of the issuers configured for it.
Every failure is a `TokenError` whose `error` is an RFC 6750 code.

A JWT that verified is kept (`policies.verified`) until its `exp`, so a caller
presenting it again is not checked again; docs/policies.md says what that means
for revocation.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from joserfc import jws
from joserfc.errors import JoseError

from schema.parties import is_party_id

from .claims import check_claim_types
from .errors import (
    InsufficientScope,
    InvalidClaims,
    InvalidRequest,
    InvalidSignature,
    InvalidToken,
    IssuerUnavailable,
    TokenError,
    UntrustedIssuer,
)
from .issuers import Clock, KeyCache, TrustedIssuer
from .principal import PUBLIC, Principal, Role
from .verified import DEFAULT_SIZE, VerifiedTokens

MAX_TOKEN_BYTES = 8192
MAX_NAMED_ISSUERS = 3  # the refusal of an untrusted issuer names at most this many
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "jti", "client_id")
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "b64", "zip", "enc"})
SUPPORTED_CRIT: frozenset[str] = frozenset()
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


class TokenVerifier:
    """Turns a bearer token into a `Principal`, or raises a `TokenError`."""

    def __init__(
        self,
        issuers: Iterable[TrustedIssuer],
        client: httpx.AsyncClient | None = None,
        clock: Clock = time.time,
        leeway: float = 30.0,
        min_refresh_interval: float = 30.0,
        cache_size: int = DEFAULT_SIZE,
    ) -> None:
        """`cache_size` bounds the verified tokens kept (0 verifies every request)."""
        self.issuers = {i.issuer: i for i in issuers}
        self._owns_client = client is None
        self._client = client
        self._clock = clock
        self._leeway = leeway
        self.keys = KeyCache(self._http, clock, min_refresh_interval)
        self.verified = VerifiedTokens(cache_size)

    async def aclose(self) -> None:
        """Close the HTTP client if the verifier created it."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()

    def _http(self) -> httpx.AsyncClient:
        """The HTTP client, made on first use: a client loads the system's CA certificates
        (tens of milliseconds), and a verifier whose issuers all have their keys inline
        and no introspection never makes a request."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0)
        return self._client

    async def authenticate(self, authorization: str | None) -> Principal:
        """The principal for an `Authorization` header value; `PUBLIC` when absent."""
        if authorization is None:
            return PUBLIC
        scheme, _, token = authorization.strip().partition(" ")
        if not token.strip() or " " in token.strip():
            raise InvalidRequest("malformed Authorization header")
        return await self.verify(token.strip(), scheme=scheme)

    async def verify(self, token: str, scheme: str = "Bearer") -> Principal:
        """Verify `token` presented under `scheme`; only Bearer is accepted."""
        if scheme.lower() != "bearer":
            raise InvalidRequest(f"unsupported authorization scheme {scheme!r}")
        if not token or len(token) > MAX_TOKEN_BYTES or not token.isascii():
            raise InvalidToken("token is empty, too long or not ASCII")
        if token.count(".") == 2:
            key = VerifiedTokens.key(token)
            known = self.verified.get(key, self._clock())
            if known is not None:
                return known
            principal, exp = await self._verify_jwt(token)
            # Valid while exp > now - leeway: the bound `check_claims` applies uncached.
            self.verified.put(key, principal, exp + self._leeway)
            return principal
        if token.count(".") == 0:
            return await self._introspect(token)
        raise InvalidToken("encrypted or malformed token")

    async def _verify_jwt(self, token: str) -> tuple[Principal, float]:
        """The token's principal and its `exp`, checked in full."""
        header_b64, payload_b64, _ = token.split(".")
        header = _json_segment(header_b64, "header")
        alg = _check_header(header)
        unverified = _json_segment(payload_b64, "payload")
        iss = unverified.get("iss")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise UntrustedIssuer(f"token issuer is not trusted; {self.expected_issuers()}")
        if alg not in issuer.algorithms:
            raise InvalidToken(f"algorithm {alg} is not allowed for this issuer")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("kid must be a string")
        key = await self.keys.key(issuer, kid, alg)
        if key is None:
            raise InvalidSignature("no trusted key of the issuer matches the token")
        try:
            jws.deserialize_compact(token, key, algorithms=[alg])
        except (JoseError, ValueError) as exc:
            raise InvalidSignature("signature does not verify") from exc
        principal = self._principal(issuer, unverified)
        return principal, float(unverified["exp"])

    def expected_issuers(self) -> str:
        """Which issuers a token must come from, for the refusal of any other.

        Trusted issuers are public (each publishes its metadata and keys, and
        RFC 9728 lists them for a resource), and naming them is the caller's next
        step: a demo token minted for another port has the wrong `iss`.
        """
        names = sorted(self.issuers)
        if not names:
            return "this server trusts no issuer"
        shown = ", ".join(names[:MAX_NAMED_ISSUERS])
        more = len(names) - MAX_NAMED_ISSUERS
        return f"expected {shown}" + (f" (and {more} more)" if more > 0 else "")

    async def _introspect(self, token: str) -> Principal:
        """RFC 7662: ask each issuer configured for introspection, in order."""
        if not any(i.introspection for i in self.issuers.values()):
            raise InvalidToken("opaque tokens are not accepted")
        for issuer in self.issuers.values():
            if issuer.introspection is None:
                continue
            claims = await self._introspection_response(issuer, token)
            if claims.get("active") is not True:
                continue
            if str(claims.get("token_type", "access_token")).lower() not in (
                "access_token",
                "bearer",
            ):
                raise InvalidToken("introspected token is not an access token")
            claims.setdefault("iss", issuer.issuer)
            return self._principal(issuer, claims)
        raise InvalidToken("token is not active")

    async def _introspection_response(self, issuer: TrustedIssuer, token: str) -> dict[str, Any]:
        config = issuer.introspection
        assert config is not None
        try:
            response = await self._http().post(
                config.endpoint,
                data={"token": token, "token_type_hint": "access_token"},
                auth=(config.client_id, config.client_secret),
                headers={"Accept": "application/json"},
            )
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IssuerUnavailable("introspection failed") from exc
        if not isinstance(data, dict):
            raise IssuerUnavailable("introspection did not return a JSON object")
        return data

    def _principal(self, issuer: TrustedIssuer, claims: Mapping[str, Any]) -> Principal:
        check_claims(claims, issuer, self._clock(), self._leeway)
        m = issuer.claims
        jurisdiction = claims.get(m.jurisdiction)
        if jurisdiction not in issuer.jurisdictions:
            raise InvalidClaims("issuer is not trusted for the asserted jurisdiction")
        try:
            role = Role(claims.get(m.role))
        except ValueError as exc:
            raise InvalidClaims("unknown or missing role") from exc
        if role is Role.PUBLIC or (issuer.roles is not None and role not in issuer.roles):
            raise InvalidClaims("issuer is not trusted for the asserted role")
        organisation = claims.get(m.organisation)
        organisation_id = claims.get(m.organisation_id)
        if organisation_id is not None and not is_party_id(organisation_id):
            raise InvalidClaims(f"claim {m.organisation_id} must be a party identifier")
        return Principal(
            issuer=issuer.issuer,
            subject=claims["sub"],
            role=role,
            client_id=claims["client_id"],
            organisation=organisation,
            jurisdiction=jurisdiction,
            purposes=_words(claims.get(m.purposes), "purposes"),
            scopes=_words(claims.get("scope"), "scope"),
            token_id=claims["jti"],
            organisation_id=organisation_id,
        )


def check_claims(
    claims: Mapping[str, Any], issuer: TrustedIssuer, now: float, leeway: float
) -> None:
    """RFC 9068 section 4 claim checks against `issuer` at time `now`.

    Every claim's JSON type is checked first (`policies.claims`), so the checks
    below and the principal's construction only ever see values of their type.
    """
    for name in REQUIRED_CLAIMS:
        if name not in claims:
            raise InvalidClaims(f"missing claim {name}")
    check_claim_types(claims, issuer.claims)
    if claims["iss"] != issuer.issuer:
        raise InvalidClaims("wrong issuer")
    aud = claims["aud"]
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or issuer.audience not in audiences:
        raise InvalidClaims("wrong audience")
    exp, iat = _number(claims, "exp"), _number(claims, "iat")
    if exp is None or iat is None:
        raise InvalidClaims("exp and iat must be numeric dates")
    if exp <= now - leeway:
        raise InvalidClaims("token has expired")
    if iat > now + leeway:
        raise InvalidClaims("token issued in the future")
    nbf = _number(claims, "nbf")
    if "nbf" in claims and (nbf is None or nbf > now + leeway):
        raise InvalidClaims("token not yet valid")
    if "cnf" in claims:
        raise InvalidClaims("sender-constrained token presented as a plain bearer token")


def require_scope(principal: Principal, scope: str) -> None:
    """Raise `InsufficientScope` unless the principal's token carries `scope`."""
    if scope not in principal.scopes:
        raise InsufficientScope(f"requires scope {scope}", scope=scope)


def www_authenticate(error: TokenError | None = None, realm: str = "robopass") -> str:
    """The `WWW-Authenticate` value for a 401/403 answer (RFC 6750 section 3)."""
    params = [f'realm="{_quote(realm)}"']
    if error is not None:
        params.append(f'error="{error.error}"')
        params.append(f'error_description="{_quote(error.error_description)}"')
        if isinstance(error, InsufficientScope) and error.scope:
            params.append(f'scope="{_quote(error.scope)}"')
    return "Bearer " + ", ".join(params)


def _check_header(header: Mapping[str, Any]) -> str:
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg or alg.lower() == "none":
        raise InvalidToken("missing or forbidden alg")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
        raise InvalidToken("typ must be at+jwt (RFC 9068)")
    carried = FORBIDDEN_HEADERS & header.keys()
    if carried:
        raise InvalidToken(f"header {sorted(carried)[0]} is not accepted")
    if "crit" in header:
        crit = header["crit"]
        if (
            not isinstance(crit, list)
            or not crit
            or not all(isinstance(c, str) and c in SUPPORTED_CRIT for c in crit)
        ):
            raise InvalidToken("unsupported critical header")
    return alg


def _json_segment(segment: str, what: str) -> dict[str, Any]:
    """Strict base64url JSON object: no padding tricks, no duplicate members."""
    if not _B64URL.fullmatch(segment):
        raise InvalidToken(f"token {what} is not base64url")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidToken(f"malformed token {what}") from exc
    if not isinstance(value, dict):
        raise InvalidToken(f"token {what} is not a JSON object")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate member {key}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _words(value: Any, name: str) -> frozenset[str]:
    """A space-separated string or a list of strings, as a set."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    raise InvalidClaims(f"claim {name} must be a string or a list of strings")


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
