"""The Starlette application: GraphQL, downloads, reports, the AAS API, health probes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Container, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute

from gateway.aasapi import aas_api
from gateway.edge.auth import Authenticated
from gateway.edge.bodylimit import BodyLimit
from gateway.edge.observe import Observed
from gateway.edge.ratelimit import RateLimit
from gateway.endpoint.options import GraphQLOptions
from gateway.endpoint.view import PassportGraphQL, passport_schema
from gateway.ops.metrics import CONTENT_TYPE, METRICS, set_breaker_state
from gateway.report import DemoSignIn, report_routes
from gateway.report.session import viewer_of
from gateway.service.context import RequestContext
from gateway.service.services import Services
from gateway.service.webhooks import WebhookSender
from gateway.store.webhooks import WebhookStore
from gateway.web.bulk import bulk_routes
from gateway.web.campaign_export import campaign_routes
from gateway.web.downloads import download_routes
from policies import PUBLIC, AuditRecord, Principal
from schema.graphql.objects import EVERYTHING
from schema.source import (
    DecodedCache,
    FeedFollowing,
    NotServed,
    RegistryDirectory,
    RegistryUnavailable,
    RegistryUntrusted,
    RobotRecord,
)


def create_app(
    services: Services,
    options: GraphQLOptions | None = None,
    *,
    ready: Any = None,
    sign_in: DemoSignIn | None = None,
    mounts: Sequence[Mount] = (),
    access_log: bool = False,
) -> Starlette:
    """The gateway app over `services` (`gateway.service.services`), GraphQL as `options` say.

    Every surface holds the same `services`: GraphQL over HTTP and websockets,
    export downloads (signed with its `signer`, whose public keys are then at
    /.well-known/jwks.json), bulk export, the report pages (`/`,
    `/robots/{code}`, which `sign_in` lets a person view as a demo party), and
    the AAS HTTP API (Part 2, read profiles) under /aas/api/v3.0; each applies
    the same masks and audits what it discloses. `ready` is an async check for
    /readyz that raises when not ready and may return a mapping of details to
    report (a federation's registries; with "status" other than "ready" the
    answer is 503). `mounts` adds sub-applications such as the demo
    authorization server. `access_log` writes one structured line per request
    (`gateway.edge.observe`); it and `services.metrics` each add an
    `X-Request-Id` to every response.
    """
    options = options or GraphQLOptions()
    source, verifier, metrics = services.source, services.verifier, services.metrics

    def view(principal: Principal, record: RobotRecord) -> Container[str]:
        """The report's mask. A report shows all its view allows, so the whole view is
        recorded, when it is decided: the page is built without a later hook."""
        decision = services.context(principal).decision(record)
        if decision is None:
            return EVERYTHING
        if services.audit is not None:
            now = datetime.now(UTC)
            disclosure = AuditRecord.disclosure(principal, record.passport.code, decision, now)
            services.audit.append(disclosure)
        return decision.mask

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            detail = await ready() if ready is not None else None
        except Exception as exc:  # a probe reports, it does not crash
            return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
        body = {"status": "ready", **(detail or {})}
        return JSONResponse(body, status_code=503 if body["status"] != "ready" else 200)

    async def context(request: Request) -> RequestContext:
        """The bearer token's principal, else a signed-in person's (the report's cookie).

        Only GET routes take the cookie: it is SameSite=Strict, and GraphQL, which
        accepts POST, stays bearer-only.
        """
        principal = request.scope.get("state", {}).get("principal", PUBLIC)
        if principal.is_public and "authorization" not in request.headers:
            principal = (await viewer_of(request, verifier)).principal
        return services.context(principal, request, surface="export")

    endpoint = PassportGraphQL(services, options, passport_schema(options, services.tracing))
    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/graphql", Authenticated(endpoint, verifier), methods=["GET", "POST"]),
        WebSocketRoute("/graphql", endpoint),
        *download_routes(services, context),
        *bulk_routes(services, context),
        *campaign_routes(services, context),
        aas_api(services, context),
        *report_routes(services, view, sign_in),
        *mounts,
    ]
    middleware = [Middleware(BodyLimit, max_bytes=options.limits.max_body_bytes)]
    if services.rate_limits is not None:
        limiter = Middleware(
            RateLimit, limits=services.rate_limits, verifier=verifier, metrics=metrics or METRICS
        )
        middleware.insert(0, limiter)
    if metrics is not None:
        if isinstance(source, DecodedCache):
            metrics.watch_cache(source.decoded)
        if endpoint.answers is not None:
            metrics.watch_answers(endpoint.answers)

        async def exposition(request: Request) -> Response:
            statuses = source.registries() if isinstance(source, RegistryDirectory) else []
            for registry in statuses:
                set_breaker_state(registry.id, registry.breaker, metrics)
            return Response(metrics.exposition(), media_type=CONTENT_TYPE)

        routes.insert(0, Route("/metrics", exposition))
    if metrics is not None or access_log:
        observed = Middleware(Observed, routes=routes, metrics=metrics, log=access_log)
        middleware.insert(0, observed)
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={RegistryUnavailable: _unavailable, NotServed: _not_served},
        lifespan=_background(services),
    )
    if services.tracing is not None:
        from gateway.edge.tracing import request_spans

        return request_spans(app, services.tracing)  # type: ignore[return-value]
    return app


async def _unavailable(request: Request, exc: Exception) -> Response:
    """A page or download whose registry node is down: 503 naming it, in GraphQL's shape."""
    assert isinstance(exc, RegistryUnavailable)
    extensions = {"code": "REGISTRY_UNAVAILABLE", "registry": exc.registry}
    if isinstance(exc, RegistryUntrusted):
        extensions = {
            "code": "REGISTRY_UNTRUSTED",
            "registry": exc.registry,
            "evidence": exc.reason,
        }
    body = {"errors": [{"message": str(exc), "extensions": extensions}]}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


async def _not_served(request: Request, exc: Exception) -> Response:
    body = {"errors": [{"message": str(exc), "extensions": {"code": "NOT_FOUND"}}]}
    return JSONResponse(body, status_code=404)


def _background(services: Services) -> Any:
    """A lifespan for the background work: webhook deliveries while the app runs (with a
    webhook store), the audit log's witnessing (when configured), and stopping the
    source's own (a federation's feed followers)."""
    source = services.source

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sender = None
        if isinstance(services.webhook_store, WebhookStore):  # a federation's nodes send theirs
            client = httpx.AsyncClient()
            work = WebhookSender(services.webhook_store, client, production=services.production)
            sender = asyncio.create_task(work.run())
        witnessing = None
        if services.audit_witnessing is not None:
            witnessing = asyncio.create_task(services.audit_witnessing.run())
        try:
            yield
        finally:
            if witnessing is not None:
                witnessing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await witnessing
            if sender is not None:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender
                await client.aclose()
            if isinstance(source, FeedFollowing):
                await source.stop_following()

    return lifespan
