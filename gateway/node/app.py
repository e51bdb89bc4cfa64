"""The node's Starlette application: REST routes, problem errors, metrics, OpenAPI."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route

from gateway.node.subgraph import subgraph_routes
from gateway.service.transparency import EventLog
from gateway.service.witnessing import WitnessedLog
from gateway.store import Store
from policies import TokenVerifier

from .campaigns import NodeCampaigns
from .metrics import Measured, NodeMetrics
from .openapi import openapi_document
from .problems import Problem
from .records import Documents
from .routes import NodeApi, json_response
from .telemetry import ingest_conditions
from .tlog import log_routes
from .webhooks import NodeWebhooks, sending


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 (no such route or method), as problem details too."""
    assert isinstance(exc, HTTPException)
    code = "NOT_FOUND" if exc.status_code == 404 else "BAD_REQUEST"
    detail = f"{request.method} {request.url.path}: {exc.detail}"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return Problem(exc.status_code, code, detail, headers=headers).response()


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (RFC 9110 15.5.6): Starlette's own
    `Allow` names only the first route that matched the path, and a path served by two
    routes (GET and POST of /robots/{code}/events) would lose the other's."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches({**request.scope, "method": "GET"})
            if match is not Match.NONE:
                methods |= route.methods
    return sorted(methods)


def create_node_app(
    store: Store,
    *,
    format: str,
    verifier: TokenVerifier,
    log: EventLog | None = None,
    witnessed: WitnessedLog | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """A registry node over `store`, speaking `format` (cn-miit or aas) on the wire.

    `log`, when given, is served under /log (gateway/node/tlog.py).
    `extra_routes` (a GraphQL subgraph, say) are served beside the REST routes
    and counted by the same metrics.
    """
    api = NodeApi(store, Documents(format), verifier)
    metrics = NodeMetrics()
    document = openapi_document(store.registry, format, log=log is not None)

    async def openapi(request: Request) -> Response:
        return json_response(document)

    async def conditions(request: Request) -> Response:
        return await ingest_conditions(api, request)

    routes = [
        *api.routes(),
        *NodeCampaigns(api).routes(),
        *NodeWebhooks(api).routes(),
        Route("/robots:conditions", conditions, methods=["POST"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/metrics", metrics.endpoint, methods=["GET"]),
        *subgraph_routes(store, verifier),
        *(log_routes(log, verifier, witnessed) if log is not None else []),
        *extra_routes,
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={Problem: _problem, HTTPException: _http_error},
        lifespan=sending(store),
    )
    app.add_middleware(Measured, metrics=metrics, routes=routes)
    app.state.store = store
    app.state.metrics = metrics
    return app
