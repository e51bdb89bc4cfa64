"""Service tokens at the node: RFC 9068 access tokens checked as the gateway checks them.

Callers are services (the gateway's federation client), so the node decides by
scope alone: `registry:read` to read, `registry:write` to append and link. It
returns whole records; applying field policies is the gateway's job.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.requests import Request

from policies import (
    InsufficientScope,
    Principal,
    TokenError,
    TokenVerifier,
    TrustedIssuer,
    require_scope,
    www_authenticate,
)
from policies.authserver import DEFAULT_AUDIENCE

from .problems import Problem

READ = "registry:read"
WRITE = "registry:write"
REALM = "robopass-registry"
SERVICE_JURISDICTIONS = frozenset({"CN", "DE", "FR", "US", "JP", "SG", "GB", "CH"})
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def trusted_issuer(url: str, audience: str = DEFAULT_AUDIENCE) -> TrustedIssuer:
    """An issuer trusted by URL: its keys come by discovery (RFC 8414, then OpenID).

    Plain http is accepted on loopback only, where a development server runs.
    """
    issuer = url.rstrip("/")
    host = urlsplit(issuer).hostname or ""
    return TrustedIssuer(
        issuer=issuer,
        audience=audience,
        jurisdictions=SERVICE_JURISDICTIONS,
        allow_http=host in LOOPBACK,
    )


def verifier_for(issuers: Iterable[str], audience: str = DEFAULT_AUDIENCE) -> TokenVerifier:
    return TokenVerifier([trusted_issuer(url, audience) for url in issuers])


async def authorize(request: Request, verifier: TokenVerifier, scope: str) -> Principal:
    """The caller, if its token is valid and carries `scope`; a 401 or 403 problem otherwise."""
    header = request.headers.get("authorization")
    if header is None:
        raise Problem(
            401,
            "UNAUTHENTICATED",
            "a bearer token is required",
            headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'},
        )
    try:
        principal = await verifier.authenticate(header)
        require_scope(principal, scope)
    except InsufficientScope as exc:
        raise _problem(403, "FORBIDDEN", exc) from None
    except TokenError as exc:
        raise _problem(401, "UNAUTHENTICATED", exc) from None
    return principal


def _problem(status: int, code: str, exc: TokenError) -> Problem:
    challenge = www_authenticate(exc, realm=REALM)
    return Problem(status, code, exc.error_description, headers={"WWW-Authenticate": challenge})
