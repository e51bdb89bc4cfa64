"""The registry client against real HTTP servers on loopback: retries, budget, breaker, tokens.

The node here is a small Starlette app that answers as a failing node would
(503, a hang, a rotated key): the real node cannot be told to fail on cue. The
tokens are real, from the development authorization server, and the node
checks them with the gateway's own verifier.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.federation.breaker import State
from gateway.federation.client import RegistryClient
from gateway.federation.config import Breaker, Credentials, RegistryConfig, Retry
from gateway.federation.source import FederatedSource
from policies import InvalidToken, TokenVerifier, TrustedIssuer
from policies.authserver import create_auth_app
from schema.events import EventType
from schema.source import RegistryUnavailable
from tests.support.loopback import free_port, serving

pytestmark = pytest.mark.process

CODE = "CNH7K2H0A1B32605281000012345A"
SECRET_ENV = {"GATEWAY_SECRET": "dev-secret-de-msa"}


class FakeNode:
    """Counts requests by route and answers as `mode` says: ok, 503, hang or rotate."""

    def __init__(self, verifier: TokenVerifier | None = None) -> None:
        self.mode = "ok"
        self.hits: Counter[str] = Counter()
        self.tokens: list[str] = []
        self.verifier = verifier
        self.refused: set[str] = set()

    async def handle(self, request: Request) -> Response:
        route = f"{request.method} {request.url.path}"
        self.hits[route] += 1
        if self.verifier is not None:
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            self.tokens.append(token)
            try:
                await self.verifier.verify(token)
            except InvalidToken:
                return JSONResponse({"code": "UNAUTHENTICATED"}, status_code=401)
            if self.mode == "rotate" and not self.refused:
                self.refused.add(token)
            if token in self.refused:
                return JSONResponse({"code": "UNAUTHENTICATED"}, status_code=401)
        if self.mode == "503":
            return JSONResponse({"code": "STORE_UNAVAILABLE"}, status_code=503)
        if self.mode == "hang":
            await asyncio.sleep(5)
        return JSONResponse({"count": 7})

    def app(self) -> Starlette:
        paths = ["/robots:count", "/robots/{code}/events"]
        return Starlette(routes=[Route(p, self.handle, methods=["GET", "POST"]) for p in paths])


def config(base: str, **changes) -> RegistryConfig:
    values = {
        "id": "cn-heis",
        "format": "cn-miit",
        "base_url": base,
        "countries": ("CN",),
        "jurisdictions": ("CN",),
        "timeout": 1.0,
        "retry": Retry(attempts=3, backoff=0.01),
        "breaker": Breaker(failures=50, reset_after=0.3),
        **changes,
    }
    return RegistryConfig(**values)


@pytest.fixture
def node() -> Iterator[tuple[FakeNode, str]]:
    fake = FakeNode()
    with serving(fake.app()) as base:
        yield fake, base


def test_reads_are_retried_and_appends_never(node: tuple[FakeNode, str]) -> None:
    fake, base = node
    fake.mode = "503"
    seen: list[tuple[str, str, str]] = []

    async def run() -> None:
        def hook(registry: str, route: str, seconds: float, outcome: str) -> None:
            seen.append((registry, route, outcome))

        source = FederatedSource([config(base)], on_upstream=hook)
        try:
            with pytest.raises(RegistryUnavailable, match="answered HTTP 503") as caught:
                await source.history(CODE, 10, None)
            assert caught.value.registry == "cn-heis"
            with pytest.raises(RegistryUnavailable):
                await _count(source)
            with pytest.raises(RegistryUnavailable):
                await source.append(
                    CODE,
                    EventType.MAINTENANCE_RECORDED,
                    {},
                    datetime(2026, 1, 1, tzinfo=UTC),
                    idempotency_key="k1",
                )
        finally:
            await source.aclose()

    asyncio.run(run())
    assert fake.hits["GET /robots:count"] == 3
    assert fake.hits[f"GET /robots/{CODE}/events"] == 3
    assert fake.hits[f"POST /robots/{CODE}/events"] == 1
    assert ("cn-heis", "POST /robots/{code}/events", "5xx") in seen
    assert [o for _, route, o in seen if route == "GET /robots:count"] == ["5xx"] * 3


async def _count(source: FederatedSource) -> int:
    from schema.source import RobotFilter

    return await source.count(RobotFilter())


def test_the_timeout_bounds_the_whole_call_retries_included(node: tuple[FakeNode, str]) -> None:
    fake, base = node
    fake.mode = "hang"

    async def run() -> float:
        client = RegistryClient(config(base, timeout=0.4))
        try:
            started = time.monotonic()
            with pytest.raises(RegistryUnavailable, match="timed out"):
                await client.call("GET", "GET /robots:count", "/robots:count", idempotent=True)
            return time.monotonic() - started
        finally:
            await client.aclose()

    elapsed = asyncio.run(run())
    assert elapsed < 0.4 + 0.5, f"a 0.4 s budget took {elapsed:.2f} s"
    assert fake.hits["GET /robots:count"] == 1  # the one hanging attempt used the whole budget


def test_the_breaker_opens_fails_fast_and_closes_after_a_good_probe(
    node: tuple[FakeNode, str],
) -> None:
    fake, base = node
    fake.mode = "503"
    outcomes: list[str] = []

    async def call(client: RegistryClient) -> None:
        await client.call("GET", "GET /robots:count", "/robots:count", idempotent=True)

    async def run() -> None:
        client = RegistryClient(
            config(base, retry=Retry(1, 0.0), breaker=Breaker(failures=2, reset_after=0.3)),
            on_upstream=lambda r, route, s, outcome: outcomes.append(outcome),
        )
        try:
            for _ in range(2):
                with pytest.raises(RegistryUnavailable, match="HTTP 503"):
                    await call(client)
            assert client.state is State.OPEN
            assert client.last_error == "answered HTTP 503"
            with pytest.raises(RegistryUnavailable, match="circuit breaker open"):
                await call(client)
            assert fake.hits["GET /robots:count"] == 2  # the open breaker sent nothing
            fake.mode = "ok"
            await asyncio.sleep(0.35)
            assert client.state is State.HALF_OPEN
            await call(client)  # the probe succeeds
            assert client.state is State.CLOSED
        finally:
            await client.aclose()

    asyncio.run(run())
    assert outcomes == ["5xx", "5xx", "breaker_open", "2xx"]


@pytest.fixture
def authorised(tmp_path: Path) -> Iterator[tuple[FakeNode, str, str]]:
    """A node that checks real tokens of the development authorization server."""
    auth_port = free_port()
    issuer = f"http://127.0.0.1:{auth_port}"
    with serving(create_auth_app(tmp_path, issuer), auth_port):
        trusted = TrustedIssuer(issuer, "robopass", frozenset({"DE"}), allow_http=True)
        fake = FakeNode(TokenVerifier([trusted]))
        with serving(fake.app()) as base:
            yield fake, base, issuer


def test_service_tokens_are_cached_refreshed_once_on_401_and_never_logged(
    authorised: tuple[FakeNode, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, base, issuer = authorised
    creds = Credentials(issuer + "/token", "de-msa", "GATEWAY_SECRET")

    async def run() -> RegistryClient:
        client = RegistryClient(config(base, credentials=creds), env=SECRET_ENV)
        try:
            for _ in range(3):
                await client.call("GET", "GET /robots:count", "/robots:count", idempotent=True)
            assert client.tokens is not None and client.tokens.fetched == 1
            fake.mode = "rotate"  # the node now refuses the token it was given
            response = await client.call(
                "GET", "GET /robots:count", "/robots:count", idempotent=True
            )
            assert response.status_code == 200
            assert client.tokens.fetched == 2
        finally:
            await client.aclose()
        return client

    # The client library's own request lines too, whatever an earlier test set its logger to.
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.INFO, logger="httpx"):
        asyncio.run(run())
    assert len(set(fake.tokens)) == 2 and fake.hits["GET /robots:count"] == 5
    # The authorization server in this process logs what it issues; the gateway's side must not.
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("authlib"))
    assert "HTTP Request: GET" in ours  # the client's requests were logged, without credentials
    for token in fake.tokens:
        assert token not in ours
    assert "dev-secret-de-msa" not in ours


def test_a_wrong_secret_is_a_token_error_not_a_retry_storm(
    authorised: tuple[FakeNode, str, str],
) -> None:
    fake, base, issuer = authorised
    creds = Credentials(issuer + "/token", "de-msa", "GATEWAY_SECRET")

    async def run() -> None:
        client = RegistryClient(config(base, credentials=creds), env={"GATEWAY_SECRET": "wrong"})
        try:
            with pytest.raises(RegistryUnavailable, match="no service token") as caught:
                await client.call("GET", "GET /robots:count", "/robots:count", idempotent=True)
            assert "wrong" not in str(caught.value)
        finally:
            await client.aclose()

    asyncio.run(run())
    assert fake.hits["GET /robots:count"] == 0
