"""A registry node in process for tests (real store, real tokens, requests through
ASGI), and the bodies its REST API takes.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from gateway.credentials.logkey import event_log_origin
from gateway.edge.auth import demo_issuer
from gateway.federation.config import RegistryConfig
from gateway.federation.source import FederatedSource
from gateway.node import create_node_app
from gateway.service.transparency import EventLog
from gateway.store import Store
from policies import TokenVerifier
from policies.authserver import DEMO_CLIENTS, issue_token
from schema.tlog.note import Signer
from tests.support.stores import record

ISSUER = "http://127.0.0.1/auth"
SERVICE = "robopass-gateway"


def reader_clients(folder: Path) -> Path:
    """The demo clients plus `node-reader`, a service with `registry:read` only."""
    data = json.loads(DEMO_CLIENTS.read_text(encoding="utf-8"))
    service = next(c for c in data["clients"] if c["client_id"] == SERVICE)
    reader = {
        **service,
        "client_id": "node-reader",
        "client_secret": "dev-secret-node-reader",
        "scope": "registry:read",
    }
    data["clients"].append(reader)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "clients.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


class Node:
    """Synchronous calls to a node app in process, with tokens of the demo issuer."""

    def __init__(self, store: Store, fmt: str, data_dir: Path, *, log: bool = False) -> None:
        """`log`: the node also serves its transparency log, signed by a fresh key."""
        self.store = store
        self.data_dir = data_dir
        self.clients = reader_clients(data_dir)
        verifier = TokenVerifier([demo_issuer(ISSUER, data_dir)])
        origin = event_log_origin(store.registry)
        event_log = EventLog(store, Signer.generate(origin)) if log else None
        self.app = create_node_app(store, format=fmt, verifier=verifier, log=event_log)
        self.service = self.token(SERVICE)

    def token(self, client: str) -> str:
        return issue_token(client, self.data_dir, ISSUER, clients=self.clients)

    def call(
        self, method: str, path: str, *, token: str | bool | None = True, **kwargs: Any
    ) -> httpx.Response:
        """`token=True` is the service token, a string is that token, None sends none."""
        headers = dict(kwargs.pop("headers", {}))
        bearer = self.service if token is True else token
        if bearer:
            headers["authorization"] = f"Bearer {bearer}"

        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
                return await client.request(method, path, headers=headers, **kwargs)

        return asyncio.run(send())

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("POST", path, **kwargs)


class WithToken(httpx.AsyncBaseTransport):
    """The node app in process, every request carrying the gateway's service token."""

    def __init__(self, node: Node) -> None:
        self.inner = httpx.ASGITransport(app=node.app)
        self.token = node.service

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["authorization"] = f"Bearer {self.token}"
        return await self.inner.handle_async_request(request)


def federation(node: Node) -> FederatedSource:
    """A federation of the one node; no feed follower, so each read asks the node.

    The node runs on the test's own event loop and CPU, so a call's deadline is
    generous: under a loaded CI machine the default 2 s would time out calls that
    wait only for their neighbour's document to be checked, not for the node.
    """
    config = RegistryConfig(
        "cn-heis", "cn-miit", "http://node", ("CN",), ("CN",), freshness=0, timeout=30.0
    )
    return FederatedSource([config], transports={"cn-heis": WithToken(node)})


UNKNOWN = "CNH7K2H0A1B32605281000012345A"


maintenance = record  # a maintenance record's payload, as the node's API takes it


def append_body(hours: float = 1234.0) -> dict:
    return {
        "type": "MAINTENANCE_RECORDED",
        "at": "2026-10-30T08:00:00Z",
        "payload": maintenance(hours),
    }
