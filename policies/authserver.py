"""A development OAuth 2.0 authorization server for demos and tests.

Client credentials grant only, issuing RFC 9068 JWT access tokens that carry
the robopass claims (`org`, `org_id`, `jurisdiction`, `role`, `purposes`) of
each demo client; `org_id` is the party identifier relationships are matched
on. The protocol work is authlib's; this module only adapts Starlette requests
to it and keeps an RS256 key, generated on first run, in `data_dir`.
Not for production: client secrets are plain text in a JSON file.
"""

from __future__ import annotations

import hmac
import json
import os
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc.jwk import KeyParameters, KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEMO_CLIENTS = Path(__file__).parent / "demo" / "clients.json"
DEFAULT_AUDIENCE = "robopass"
ALG = "RS256"
KEY_FILE = "signing-key.json"


@dataclass(frozen=True)
class Client(ClientMixin):
    """A registered confidential client and the claims its tokens carry."""

    client_id: str
    client_secret: str
    organisation: str
    jurisdiction: str
    role: str
    purposes: tuple[str, ...]
    scope: str
    organisation_id: str | None = None

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(self.client_secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == ClientCredentialsGrant.GRANT_TYPE

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return self.scope
        allowed = set(self.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)


def load_clients(path: str | Path = DEMO_CLIENTS) -> dict[str, Client]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    clients = [Client(**{**c, "purposes": tuple(c.get("purposes", ()))}) for c in data["clients"]]
    return {c.client_id: c for c in clients}


def signing_key(data_dir: str | Path) -> RSAKey:
    """The server's private key, generated and stored (mode 0600) on first use."""
    path = Path(data_dir) / KEY_FILE
    if path.exists():
        return _read_key(str(path), _version(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    params: KeyParameters = {"use": "sig", "alg": ALG}
    key = RSAKey.generate_key(2048, parameters=params, private=True, auto_kid=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(key.as_dict(private=True), f)
    _remember(str(path), _version(path), key)  # the key just made, not read back and checked
    return key


_KEYS: dict[tuple[str, tuple[int, int, int]], RSAKey] = {}
"""Keys by file and version, in the order first made or read; the oldest go past `_KEYS_KEPT`."""
_KEYS_KEPT = 32


def _version(path: Path) -> tuple[int, int, int]:
    """A version of the file at `path`: its inode, mtime and size."""
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _read_key(path: str, version: tuple[int, int, int]) -> RSAKey:
    """The key in `path` as of `version`: loading an RSA key checks it (tens of
    milliseconds), and every token issued asks for it; a file replaced or rewritten has
    another version and is read again."""
    key = _KEYS.get((path, version))
    if key is None:
        key = RSAKey.import_key(json.loads(Path(path).read_text(encoding="utf-8")))
        _remember(path, version, key)
    return key


def _remember(path: str, version: tuple[int, int, int], key: RSAKey) -> None:
    _KEYS[(path, version)] = key
    while len(_KEYS) > _KEYS_KEPT:
        del _KEYS[next(iter(_KEYS))]


#: Seconds an access token of the embedded server is valid. An hour, not authlib's ten days for
#: client credentials: a gateway caches a verified token until its `exp` and cannot revoke it
#: sooner (docs/policies.md), so even a demo should practise short-lived tokens.
TOKEN_LIFETIME = 3600


class TokenGenerator(JWTBearerTokenGenerator):
    def __init__(self, issuer: str, key: RSAKey, audience: str) -> None:
        super().__init__(
            issuer=issuer, alg=ALG, expires_generator=lambda client, grant_type: TOKEN_LIFETIME
        )
        self._keys = KeySet([key])
        self._audience = audience

    def get_jwks(self) -> KeySet:
        return self._keys

    def get_audiences(self, client: Client, user: Any, scope: str) -> str:
        return self._audience

    def get_extra_claims(
        self, client: Client, grant_type: str, user: Any, scope: str
    ) -> dict[str, Any]:
        claims = {
            "org": client.organisation,
            "jurisdiction": client.jurisdiction,
            "role": client.role,
            "purposes": " ".join(client.purposes),
        }
        if client.organisation_id is not None:
            claims["org_id"] = client.organisation_id
        return claims


class _Payload(OAuth2Payload):
    def __init__(self, form: dict[str, str]) -> None:
        self._form = form

    @property
    def data(self) -> dict[str, str]:
        return self._form

    @cached_property
    def datalist(self) -> defaultdict[str, list[str]]:
        out: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in self._form.items():
            out[key].append(value)
        return out


class _Request(OAuth2Request):
    """authlib's request over an already parsed Starlette form."""

    def __init__(self, request: Request, form: dict[str, str]) -> None:
        super().__init__(request.method, str(request.url), headers=request.headers)
        self._form = form
        self.payload = _Payload(form)

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _ClientCredentials(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


class _Server(AuthorizationServer):
    """authlib's server bound to a client table, answering with Starlette responses."""

    def __init__(self, clients: dict[str, Client], generator: TokenGenerator) -> None:
        super().__init__()
        self._clients = clients
        self.register_grant(_ClientCredentials)
        self.register_token_generator("default", generator)

    def query_client(self, client_id: str) -> Client | None:
        return self._clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """JWT access tokens are self-contained; nothing to store."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signal system in this integration."""

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        return JSONResponse(body, status_code=status, headers=dict(headers))


def create_auth_app(
    data_dir: str | Path,
    issuer_url: str,
    clients: str | Path = DEMO_CLIENTS,
    audience: str = DEFAULT_AUDIENCE,
) -> Starlette:
    """The development authorization server as a Starlette app."""
    issuer = issuer_url.rstrip("/")
    key = signing_key(data_dir)
    table = load_clients(clients)
    server = _Server(table, TokenGenerator(issuer, key, audience))
    metadata = AuthorizationServerMetadata(
        issuer=issuer,
        token_endpoint=f"{issuer}/token",
        jwks_uri=f"{issuer}/jwks.json",
        grant_types_supported=["client_credentials"],
        response_types_supported=["token"],
        token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
        scopes_supported=sorted({s for c in table.values() for s in c.scope.split()}),
    )
    metadata.validate()
    public_jwks = {"keys": [key.as_dict(private=False)]}

    async def token(request: Request) -> Response:
        form = await _form(request)
        if form is None:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        return server.create_token_response(_Request(request, form))

    async def jwks(request: Request) -> Response:
        return JSONResponse(public_jwks, headers={"Cache-Control": "max-age=300"})

    async def meta(request: Request) -> Response:
        return JSONResponse(dict(metadata))

    return Starlette(
        routes=[
            Route("/token", token, methods=["POST"]),
            Route("/jwks.json", jwks),
            Route("/.well-known/oauth-authorization-server", meta),
        ]
    )


async def _form(request: Request) -> dict[str, str] | None:
    """The urlencoded body (RFC 6749 section 3.2); None if repeated or of another type."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    try:
        pairs = parse_qsl((await request.body()).decode(), strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None
    form = dict(pairs)
    return form if len(form) == len(pairs) else None


def issue_token(
    client_id: str,
    data_dir: str | Path,
    issuer_url: str,
    clients: str | Path = DEMO_CLIENTS,
    audience: str = DEFAULT_AUDIENCE,
) -> str:
    """An access token for a demo client without HTTP, for `robopass token CLIENT`."""
    table = load_clients(clients)
    if client_id not in table:
        raise KeyError(f"unknown client {client_id!r}; known: {', '.join(sorted(table))}")
    client = table[client_id]
    generator = TokenGenerator(issuer_url.rstrip("/"), signing_key(data_dir), audience)
    token = generator.generate(
        ClientCredentialsGrant.GRANT_TYPE, client, scope=client.scope, include_refresh_token=False
    )
    return token["access_token"]
