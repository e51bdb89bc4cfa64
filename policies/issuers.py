"""Trusted token issuers and their signing keys.

An issuer is trusted for a fixed set of jurisdictions, roles, algorithms and
one audience. Its keys come from a static JWKS or from discovery (RFC 8414
metadata, then OpenID configuration) and are cached; an unknown `kid`
triggers a refresh at most once per `min_refresh_interval`, so a flood of
tokens with random key ids cannot turn the gateway into a JWKS hammer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet

from .errors import IssuerUnavailable
from .principal import Role

Clock = Callable[[], float]
DEFAULT_ALGORITHMS = frozenset({"RS256", "ES256"})


@dataclass(frozen=True, slots=True)
class ClaimMapping:
    """Which token claims carry the principal's attributes."""

    organisation: str = "org"
    organisation_id: str = "org_id"
    jurisdiction: str = "jurisdiction"
    role: str = "role"
    purposes: str = "purposes"


@dataclass(frozen=True, slots=True)
class Introspection:
    """RFC 7662 endpoint for opaque tokens, with this resource server's credentials."""

    endpoint: str
    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """One configured authorization server and what it may assert."""

    issuer: str
    audience: str
    jurisdictions: frozenset[str]
    algorithms: frozenset[str] = DEFAULT_ALGORITHMS
    jwks: Mapping[str, Any] | None = None
    roles: frozenset[Role] | None = None
    claims: ClaimMapping = ClaimMapping()
    introspection: Introspection | None = None
    allow_http: bool = False

    def __post_init__(self) -> None:
        if not self.jurisdictions:
            raise ValueError(f"issuer {self.issuer!r} is trusted for no jurisdiction")
        if any(a.lower() == "none" for a in self.algorithms):
            raise ValueError("algorithm 'none' can never be allowed")
        _check_url(self.issuer, self.allow_http)

    def metadata_urls(self) -> list[str]:
        """RFC 8414 location first (inserted before the path), then OpenID's (appended)."""
        parts = urlsplit(self.issuer)
        path = parts.path.rstrip("/")
        origin = f"{parts.scheme}://{parts.netloc}"
        return [
            f"{origin}/.well-known/oauth-authorization-server{path}",
            f"{origin}{path}/.well-known/openid-configuration",
        ]


def _check_url(url: str, allow_http: bool) -> None:
    scheme = urlsplit(url).scheme
    if scheme != "https" and not (allow_http and scheme == "http"):
        raise IssuerUnavailable(f"refusing non-https URL {url!r}")


@dataclass(slots=True)
class _Entry:
    keys: KeySet | None = None
    fetched_at: float = float("-inf")
    attempted_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class KeyCache:
    """Signing keys per issuer: static, or discovered and refreshed on demand."""

    def __init__(
        self,
        http: Callable[[], httpx.AsyncClient],
        clock: Clock = time.time,
        min_refresh_interval: float = 30.0,
        max_age: float = 3600.0,
    ) -> None:
        """`http` gives the client to fetch with, asked only when a fetch is due."""
        self._http = http
        self._clock = clock
        self._min_refresh = min_refresh_interval
        self._max_age = max_age
        self._entries: dict[str, _Entry] = {}
        self.fetches = 0

    async def key(self, issuer: TrustedIssuer, kid: str | None, alg: str) -> Key | None:
        """The issuer's key for (`kid`, `alg`); refreshes once if it is not known."""
        entry = self._entries.setdefault(issuer.issuer, _Entry())
        if issuer.jwks is not None:
            if entry.keys is None:
                entry.keys = _load(issuer.jwks)
            return _select(entry.keys, kid, alg)
        now = self._clock()
        if entry.keys is None or now - entry.fetched_at > self._max_age:
            await self._refresh(issuer, entry)
        found = _select(entry.keys, kid, alg) if entry.keys else None
        if found is None and await self._refresh(issuer, entry):
            found = _select(entry.keys, kid, alg) if entry.keys else None
        return found

    async def _refresh(self, issuer: TrustedIssuer, entry: _Entry) -> bool:
        """Fetch the JWKS unless the last attempt was too recent; True if fetched."""
        async with entry.lock:
            now = self._clock()
            if now - entry.attempted_at < self._min_refresh:
                return False
            entry.attempted_at = now
            entry.keys = await self._fetch(issuer)
            entry.fetched_at = now
            return True

    async def _fetch(self, issuer: TrustedIssuer) -> KeySet:
        self.fetches += 1
        jwks_uri = await self._discover(issuer)
        _check_url(jwks_uri, issuer.allow_http)
        return _load(await self._get_json(jwks_uri))

    async def _discover(self, issuer: TrustedIssuer) -> str:
        for url in issuer.metadata_urls():
            try:
                meta = await self._get_json(url)
            except IssuerUnavailable:
                continue
            if meta.get("issuer") != issuer.issuer:
                raise IssuerUnavailable(f"metadata at {url} names another issuer")
            uri = meta.get("jwks_uri")
            if not isinstance(uri, str):
                raise IssuerUnavailable(f"metadata at {url} has no jwks_uri")
            return uri
        raise IssuerUnavailable(f"no authorization server metadata for {issuer.issuer}")

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http().get(url, follow_redirects=False)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IssuerUnavailable(f"cannot fetch {url}: {exc.__class__.__name__}") from exc
        if not isinstance(data, dict):
            raise IssuerUnavailable(f"{url} did not return a JSON object")
        return data


def _load(jwks: Mapping[str, Any]) -> KeySet:
    """Public signing keys only; a private or symmetric member is a configuration error."""
    try:
        keys = KeySet.import_key_set({"keys": jwks["keys"]})
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise IssuerUnavailable(f"unusable JWKS: {exc}") from exc
    for key in keys:
        if key.key_type == "oct":
            raise IssuerUnavailable("JWKS holds a symmetric key")
        if key.is_private:
            raise IssuerUnavailable("JWKS holds a private key")
    return keys


_FAMILY = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


def _select(keys: KeySet, kid: str | None, alg: str) -> Key | None:
    """The one signature key matching `kid` and usable with `alg`, else None."""
    family = _FAMILY.get(alg[:2])
    candidates = [
        k
        for k in keys
        if k.key_type == family
        and k.get("use", "sig") == "sig"
        and k.get("alg", alg) == alg
        and (kid is None or k.kid == kid)
    ]
    if kid is None and len(candidates) != 1:
        return None
    return candidates[0] if candidates else None
