"""Sign-in for people: the access token lives in a cookie, checked like a bearer token.

The cookie is HttpOnly (no script can read the token) and SameSite=Strict (no
other site can make the browser send it). Each request verifies the token
with the gateway's `TokenVerifier` exactly as the GraphQL edge verifies an
`Authorization: Bearer` header, so the page never sees more than the API
would give the same token. A token that no longer verifies signs the person
out with a notice; it is never an error page, and it is never logged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from policies import PUBLIC, Principal, TokenError, TokenVerifier
from policies.authserver import issue_token, load_clients

COOKIE = "robopass_session"
LANG_COOKIE = "robopass_lang"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking; `expired` when a cookie was sent but its token was refused."""

    principal: Principal
    expired: bool = False

    @property
    def signed_in(self) -> bool:
        return not self.principal.is_public


@dataclass(frozen=True, slots=True)
class DemoParty:
    """A demo client a person may act as, described for the sign-in page."""

    client_id: str
    organisation: str
    role: str
    jurisdiction: str


@dataclass(frozen=True, slots=True)
class DemoSignIn:
    """The demo parties and how to get a token for one of them."""

    parties: tuple[DemoParty, ...]
    issue: Callable[[str], str]


async def viewer_of(request: Request, verifier: TokenVerifier | None) -> Viewer:
    """The request's principal from its session cookie; PUBLIC without one."""
    token = request.cookies.get(COOKIE)
    if not token:
        return Viewer(PUBLIC)
    principal = await principal_of(token, verifier)
    return Viewer(PUBLIC, expired=True) if principal is None else Viewer(principal)


async def principal_of(token: str, verifier: TokenVerifier | None) -> Principal | None:
    """The principal `token` stands for, or None when the gateway does not accept it."""
    if verifier is None:
        return None
    try:
        return await verifier.authenticate(f"Bearer {token}")
    except TokenError:
        return None


def keep_token(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(COOKIE, token, path="/", httponly=True, samesite="strict", secure=secure)


def drop_token(response: Response, *, secure: bool) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=secure)


def keep_language(response: Response, lang: str, *, secure: bool) -> None:
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=365 * 24 * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def demo_sign_in(data_dir: str | Path, issuer_url: str) -> DemoSignIn:
    """The demo clients that read passports, with tokens from the embedded authorization server.

    A service client (the gateway's token for registry nodes) is no party a person signs in as.
    """
    clients = load_clients()
    parties = tuple(
        DemoParty(c.client_id, c.organisation, c.role, c.jurisdiction)
        for c in clients.values()
        if "robopass:read" in c.scope.split()
    )
    return DemoSignIn(parties, lambda client_id: issue_token(client_id, data_dir, issuer_url))
