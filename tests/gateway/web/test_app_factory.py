"""The application factory: one `Services`, one `GraphQLOptions`, one place a context is made."""

from __future__ import annotations

import asyncio
import base64
import inspect

import httpx
import pytest

from adapters import aas
from gateway.endpoint.options import GraphQLOptions
from gateway.endpoint.view import PassportGraphQL
from gateway.service.context import RequestContext
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import RegistryStore
from gateway.web.app import create_app
from policies import AuditLog, PolicySet


def test_the_app_and_the_endpoint_take_a_handful_of_parameters() -> None:
    assert len(inspect.signature(create_app).parameters) <= 6
    endpoint = inspect.signature(PassportGraphQL.__init__).parameters
    assert len(endpoint) - 1 <= 6  # self aside


def test_an_unknown_deny_mode_is_refused_with_the_modes_named() -> None:
    with pytest.raises(ValueError, match="on_denied must be one of null, reject, not 'hide'"):
        GraphQLOptions(on_denied="hide")


def test_every_surface_makes_its_context_through_services(
    store: RegistryStore, tmp_path, monkeypatch
) -> None:
    """GraphQL, a download, bulk export, the AAS API and a report page each ask `Services`
    for their request's context, which then carries its policy and audit log."""
    made: list[RequestContext] = []
    factory = Services.context

    def counted(self: Services, *args, **kwargs) -> RequestContext:
        context = factory(self, *args, **kwargs)
        made.append(context)
        return context

    monkeypatch.setattr(Services, "context", counted)
    audit = AuditLog(tmp_path / "audit.db")
    services = Services(LocalSource(store), PolicySet.demo(), audit=audit)
    app = create_app(services)
    code = store.codes(limit=1)[0]
    shell = base64.urlsafe_b64encode(aas.shell_id(code).encode()).decode().rstrip("=")
    query = {"query": f'{{ robot(code: "{code}") {{ code }} }}'}
    requests = {
        "graphql": ("POST", "/graphql", query),
        "download": ("GET", f"/robots/{code}/export/canonical", None),
        "bulk export": ("GET", "/export/fleet.ndjson", None),
        "AAS API": ("GET", f"/aas/api/v3.0/shells/{shell}", None),
        "report page": ("GET", f"/robots/{code}", None),
    }

    async def ask(method: str, path: str, body: object) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return await client.request(method, path, json=body)

    for surface, (method, path, body) in requests.items():
        made.clear()
        response = asyncio.run(ask(method, path, body))
        assert response.status_code == 200, (surface, response.text[:200])
        assert made, f"{surface} made its context elsewhere"
        assert all(c.policy is services.policy and c.audit is audit for c in made), surface
    assert audit.trail(code), "the surfaces' disclosures reached the one audit log"
