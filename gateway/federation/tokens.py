"""Service tokens for calling registry nodes: OAuth 2.0 client credentials, cached.

One token per registry's credentials, kept until shortly before it expires and
fetched again once when a node answers 401 (a rotated key, a revoked token).
Concurrent callers share one fetch. Neither the token nor the secret is ever
logged or put in an error message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

import httpx

from .config import Credentials

EARLY = 30.0
"""Seconds before expiry a token is no longer handed out, so it cannot expire in flight."""


class TokenError(Exception):
    """The token endpoint refused or could not be reached; says why without secrets."""


class ServiceTokens:
    """Bearer tokens for one registry, from its configured token endpoint."""

    def __init__(
        self,
        credentials: Credentials,
        http: httpx.AsyncClient,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        self.http = http
        self.env = env
        self.clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.fetched = 0

    async def token(self) -> str:
        """A token valid for at least `EARLY` more seconds."""
        if self._token is not None and self.clock() < self._expires:
            return self._token
        async with self._lock:
            if self._token is None or self.clock() >= self._expires:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def refresh(self, rejected: str) -> str:
        """A new token after a node refused `rejected`; one fetch however many callers ask."""
        async with self._lock:
            if self._token == rejected or self._token is None:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def _fetch(self) -> None:
        creds = self.credentials
        try:
            response = await self.http.post(
                creds.token_url,
                data={"grant_type": "client_credentials"},
                auth=(creds.client_id, creds.secret(self.env)),
            )
        except httpx.HTTPError as exc:
            raise TokenError(f"token endpoint unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise TokenError(f"token endpoint answered {response.status_code}")
        try:
            body = response.json()
            token = body["access_token"]
            lifetime = float(body.get("expires_in", 300))
        except (ValueError, KeyError, TypeError):
            raise TokenError("token endpoint answered without an access_token") from None
        self._token = token
        self._expires = self.clock() + max(lifetime - EARLY, lifetime / 2)
        self.fetched += 1
