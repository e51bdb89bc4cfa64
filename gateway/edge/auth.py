"""Authentication at the HTTP edge: a bearer token becomes a `Principal` or a 401.

It runs before GraphQL so that a bad token gets the RFC 6750 answer (status,
`WWW-Authenticate`) and no data, whatever the operation asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from policies import (
    PUBLIC,
    InvalidToken,
    Principal,
    TokenError,
    TokenVerifier,
    TrustedIssuer,
    www_authenticate,
)
from policies.authserver import DEFAULT_AUDIENCE, signing_key

# Scope state key: (Authorization header, principal) a middleware before us already verified.
VERIFIED = "verified_bearer"
# Scope state key: the principal a session cookie or token named, for logs only.
CALLER = "caller"


class Authenticated:
    """ASGI wrapper that puts the caller's principal into `scope["state"]`.

    `refusal` shapes the 401 body for an API with its own error format (the
    AAS API's `Result`); by default it is GraphQL's `errors` list.
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: TokenVerifier | None,
        refusal: Callable[[int, str], Response] | None = None,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.refusal = refusal or _graphql_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = Headers(scope=scope).get("authorization")
            try:
                principal = await self._principal(header, scope)
            except TokenError as exc:
                response = self.refusal(exc.status_code, exc.error_description)
                response.headers["WWW-Authenticate"] = www_authenticate(exc)
                await response(scope, receive, send)
                return
            scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _principal(self, header: str | None, scope: Scope) -> Principal:
        verified = scope.get("state", {}).get(VERIFIED)
        if verified is not None and header is not None and verified[0] == header:
            return verified[1]
        if self.verifier is None:
            if header is not None:
                raise InvalidToken("this gateway trusts no token issuer")
            return PUBLIC
        return await self.verifier.authenticate(header)


def _graphql_refusal(status: int, message: str) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}
    return JSONResponse(body, status_code=status)


def demo_issuer(issuer_url: str, data_dir: str | Path) -> TrustedIssuer:
    """The embedded development authorization server, trusted with its key read from disk."""
    key = signing_key(data_dir)
    return TrustedIssuer(
        issuer=issuer_url.rstrip("/"),
        audience=DEFAULT_AUDIENCE,
        jurisdictions=frozenset({"CN", "DE", "FR", "US", "JP", "SG", "GB", "CH"}),
        jwks={"keys": [key.as_dict(private=False)]},
        allow_http=True,
    )
