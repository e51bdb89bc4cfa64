"""An audited gateway in process (the demo policy, a real audit log on each backend)
and the tokens, robots and queries the audit and side-channel tests share.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import SqliteStore
from gateway.web.app import create_app
from policies import (
    AuditLog,
    PolicySet,
    TokenVerifier,
    TrustedIssuer,
)
from tests.support import auditdb

audit_url = auditdb.audit_url


ISSUER = "https://as.test.example"


KEY = RSAKey.generate_key(2048, parameters={"kid": "audit-test"}, private=True)


POLICY = PolicySet.demo()


BUYER = {"role": "buyer", "org": "Second Life Robots GmbH", "purposes": "due_diligence"}


QUERY = """query ($code: RobotCode!) { robot(code: $code) {
  code manufacturer { name } ownership { owner jurisdiction } condition { batteryHealthPct }
  maintenance { performedBy } incidents { findings } } }"""


TRAIL = """query ($code: RobotCode!, $first: Int!, $after: String) {
  auditTrail(code: $code, first: $first, after: $after) {
    edges { cursor node { id role organisation tokenId served denied purposes policyVersion } }
    pageInfo { hasNextPage endCursor } } }"""


def token(jti: str | None = None, **claims: str) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "sub": "client-" + claims.get("role", "x"),
        "aud": "robopass",
        "iat": now - 5,
        "exp": now + 600,
        "jti": jti or uuid.uuid4().hex,
        "scope": "robopass:read",
        "client_id": "client-" + claims.get("role", "x"),
        "jurisdiction": "DE",
        **claims,
    }
    header = {"alg": "RS256", "typ": "at+jwt", "kid": KEY.kid}
    return jwt.encode(header, payload, KEY, algorithms=["RS256"])


def busy_robot(store: SqliteStore) -> tuple[str, str]:
    """A robot with owners, maintenance, incidents and condition, and its current owner."""
    for code in store.codes():
        p = store.record(code).passport
        if p.ownership and p.maintenance and p.incidents and p.condition:
            return code, p.current_owner.owner
    raise AssertionError("the test fleet has no robot with every history")


class Gateway:
    """The app over `store` with the demo policies, auditing into `log`."""

    def __init__(self, store: SqliteStore, log: AuditLog, policy: PolicySet | None = POLICY):
        issuer = TrustedIssuer(
            ISSUER, "robopass", frozenset({"CN", "DE"}), jwks={"keys": [KEY.as_dict(private=False)]}
        )
        self.app = create_app(
            Services(LocalSource(store), policy, verifier=TokenVerifier([issuer]), audit=log)
        )

    def get(self, path: str, bearer: str | None = None) -> httpx.Response:
        headers = {"authorization": f"Bearer {bearer}"} if bearer else {}

        async def fetch() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.get(path, headers=headers)

        return asyncio.run(fetch())

    def ask(self, query: str, variables: dict, bearer: str | None = None, **headers: str) -> dict:
        if bearer:
            headers["authorization"] = f"Bearer {bearer}"

        async def post() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.post(
                    "/graphql", json={"query": query, "variables": variables}, headers=headers
                )

        response = asyncio.run(post())
        assert response.status_code == 200, response.text
        return response.json()
