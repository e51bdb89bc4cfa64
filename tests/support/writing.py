"""A writing gateway for the mutation and telemetry tests.

The real app in process over a real registry store, with the demo policies,
a real audit log on SQLite and real RS256 access tokens from a trusted issuer.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

from gateway.service.local import LocalSource
from gateway.service.passport_vc import Issuer
from gateway.service.services import Services
from gateway.store import Store
from gateway.web.app import create_app
from policies import AuditLog, PolicySet, TokenVerifier, TrustedIssuer
from schema.passport import Passport

ISSUER = "https://as.writes.example"
KEY = RSAKey.generate_key(2048, parameters={"kid": "writes-test"}, private=True)
POLICY = PolicySet.demo()
WRITE = "robopass:read robopass:write"


def party(name: str) -> str:
    """A test party's identifier, stable per name, as a register would issue it."""
    return "reg:DE:T" + hashlib.sha256(name.encode()).hexdigest()[:12].upper()


def token(
    role: str,
    org: str | None,
    *,
    jurisdiction: str = "DE",
    scope: str = WRITE,
    org_id: str | None = None,
) -> str:
    """A signed access token of a party; the subject follows role and organisation.

    Only `org_id` relates the party to a robot; `org` is the name it shows.
    """
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": f"{role}:{org}",
        "aud": "robopass",
        "iat": now - 5,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "scope": scope,
        "client_id": f"client-{role}",
        "jurisdiction": jurisdiction,
        "role": role,
    }
    if org is not None:
        claims["org"] = org
    if org_id is not None:
        claims["org_id"] = org_id
    header = {"alg": "RS256", "typ": "at+jwt", "kid": KEY.kid}
    return jwt.encode(header, claims, KEY, algorithms=["RS256"])


class Gateway:
    """The app over `store`, auditing into `audit`, writing through `LocalSource`.

    With `credentials` it also issues and verifies SD-JWT VCs with that issuer's key.
    """

    def __init__(
        self,
        store: Store,
        audit: AuditLog | None,
        policy: PolicySet | None = POLICY,
        *,
        credentials: Issuer | None = None,
    ):
        issuer = TrustedIssuer(
            ISSUER,
            "robopass",
            frozenset({"CN", "DE", "FR", "US"}),
            jwks={"keys": [KEY.as_dict(private=False)]},
        )
        source = LocalSource(store)
        self.app = create_app(
            Services(
                source,
                policy,
                verifier=TokenVerifier([issuer]),
                audit=audit,
                writer=source,
                signer=None if credentials is None else credentials.signer,
                credentials=credentials,
            )
        )

    def ask(self, query: str, variables: dict, bearer: str | None = None) -> dict:
        headers = {"authorization": f"Bearer {bearer}"} if bearer else {}

        async def post() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.post(
                    "/graphql", json={"query": query, "variables": variables}, headers=headers
                )

        response = asyncio.run(post())
        assert response.status_code == 200, response.text
        return response.json()


def pick(store: Store, wanted: Callable[[Passport], bool]) -> Passport:
    """The first robot of the store whose passport satisfies `wanted`."""
    for code in store.codes():
        passport = store.record(code).passport
        if wanted(passport):
            return passport
    raise AssertionError("no robot in the test fleet fits")


def active(p: Passport) -> bool:
    return p.identity.status.value == "ACTIVE" and p.current_owner is not None


BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def soon(minutes: float = 0) -> str:
    """A time `minutes` after a fixed moment half an hour before the tests started.

    Writes may not be in the future; the same offset is the same time, so a
    retried request is the same request.
    """
    return (BASE + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def event_count(store: Store) -> int:
    with store._reading() as db:
        return db.execute("SELECT COUNT(*) FROM events").fetchone()[0]


def sample_count(store: Store) -> int:
    with store._reading() as db:
        return db.execute("SELECT COUNT(*) FROM condition_samples").fetchone()[0]
