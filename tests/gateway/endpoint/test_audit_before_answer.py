"""No answer goes out unaudited, with concurrent requests sharing audit transactions.

The real app served by uvicorn on loopback, real RS256 tokens of a trusted
issuer, a real audit log on SQLite and on PostgreSQL whose inserts a database
trigger refuses for a while.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from gateway.web.app import create_app
from policies import AuditLog, PolicySet, TokenVerifier, TrustedIssuer
from tests.support import auditdb
from tests.support.auditdb import audit_url
from tests.support.loopback import serving

__all__ = ["audit_url"]

ISSUER = "https://as.unaudited.example"
KEY = RSAKey.generate_key(2048, parameters={"kid": "unaudited"}, private=True)
QUERY = "query ($code: RobotCode!) { robot(code: $code) { code manufacturer { name } } }"


def token() -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER, "sub": "kba", "aud": "robopass", "iat": now - 5, "exp": now + 600,
        "jti": uuid.uuid4().hex, "scope": "robopass:read", "client_id": "kba",
        "jurisdiction": "DE", "role": "regulator", "org": "KBA",
    }  # fmt: skip
    header = {"alg": "RS256", "typ": "at+jwt", "kid": KEY.kid}
    return jwt.encode(header, claims, KEY, algorithms=["RS256"])


@pytest.fixture
def served(tmp_path: Path, audit_url: str) -> Iterator[tuple[str, AuditLog, list[str], str]]:
    store = SqliteStore(tmp_path / "registry.db")
    store.import_histories(synthetic_fleet(12, seed=16, country="DE", registry="de-kba"))
    codes = store.codes()
    log = AuditLog(audit_url)
    issuer = TrustedIssuer(
        ISSUER, "robopass", frozenset({"DE", "CN"}), jwks={"keys": [KEY.as_dict(private=False)]}
    )
    services = Services(
        LocalSource(store), PolicySet.demo(), verifier=TokenVerifier([issuer]), audit=log
    )
    with serving(create_app(services)) as url:
        yield url, log, codes, audit_url
    log.close()
    store.close()


async def ask_all(url: str, codes: list[str], bearer: str) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return await asyncio.gather(
            *(
                client.post(
                    "/graphql",
                    json={"query": QUERY, "variables": {"code": code}},
                    headers={"authorization": f"Bearer {bearer}"},
                )
                for code in codes
            )
        )


def test_no_answer_is_sent_while_its_audit_records_cannot_be_committed(served) -> None:
    url, log, codes, db = served
    bearer = token()
    names = {
        r.json()["data"]["robot"]["manufacturer"]["name"]
        for r in asyncio.run(ask_all(url, codes[:1], bearer))
    }
    assert log.head()[0] == 1 and names
    auditdb.refuse(db)
    failed = asyncio.run(ask_all(url, codes, bearer))
    for response in failed:
        assert response.status_code == 500
        assert "data" not in response.text and not any(n in response.text for n in names)
    assert log.head()[0] == 1
    auditdb.allow(db)
    answered = asyncio.run(ask_all(url, codes, bearer))
    assert [r.json()["data"]["robot"]["code"] for r in answered] == codes
    assert log.head()[0] == 1 + len(codes) and log.verify() is None
