"""The campaign tests' app: the real app over a registry store that keeps campaigns and webhooks,
with real RS256 tokens from the writing tests' issuer and the demo policies."""

from __future__ import annotations

import asyncio

import httpx

from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import Store
from gateway.web.app import create_app
from policies import AuditLog, TokenVerifier, TrustedIssuer
from tests.support.writing import ISSUER, KEY, POLICY


class Api:
    def __init__(
        self, store: Store, audit: AuditLog | None = None, production: bool = False
    ) -> None:
        issuer = TrustedIssuer(
            ISSUER, "robopass", frozenset({"CN", "DE", "FR"}),
            jwks={"keys": [KEY.as_dict(private=False)]},
        )  # fmt: skip
        source = LocalSource(store)
        self.services = Services(
            source, POLICY, verifier=TokenVerifier([issuer]), writer=source,
            campaign_registry=store, webhook_store=store, audit=audit, production=production,
        )  # fmt: skip
        self.app = create_app(self.services)

    def request(self, method: str, path: str, bearer: str | None, **kw) -> httpx.Response:
        headers = {"authorization": f"Bearer {bearer}"} if bearer else {}

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.request(method, path, headers=headers, **kw)

        return asyncio.run(go())

    async def ask_async(self, query: str, variables: dict, bearer: str | None = None) -> dict:
        """`ask` inside the caller's event loop, where the app's background tasks live on."""
        transport = httpx.ASGITransport(app=self.app)
        headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            body = {"query": query, "variables": variables}
            response = await client.post("/graphql", json=body, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    def ask(self, query: str, variables: dict, bearer: str | None = None) -> dict:
        response = self.request(
            "POST", "/graphql", bearer, json={"query": query, "variables": variables}
        )
        assert response.status_code == 200, response.text
        return response.json()
