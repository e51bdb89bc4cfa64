"""The Starlette application: GraphQL, downloads, reports, the AAS API, health probes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Container, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute

from gateway.aasapi import aas_api
from gateway.credentials.signing import RegistrySigner
from gateway.edge.auth import Authenticated
from gateway.edge.bodylimit import BodyLimit
from gateway.edge.observe import Observed
from gateway.edge.ratelimit import RateLimit, RateLimits
from gateway.endpoint.limits import Limits
from gateway.endpoint.persisted import PersistedQueries
from gateway.endpoint.view import PassportGraphQL
from gateway.ops.metrics import CONTENT_TYPE, METRICS, Metrics, set_breaker_state
from gateway.report import DemoSignIn, report_routes
from gateway.report.session import viewer_of
from gateway.service.context import RequestContext
from gateway.service.writes import Writes
from gateway.web.bulk import bulk_routes
from gateway.web.downloads import download_routes
from policies import (
    PUBLIC,
    AuditLog,
    AuditRecord,
    PolicySet,
    Principal,
    TokenVerifier,
)
from schema.graphql.objects import EVERYTHING
from schema.source import (
    NotServed,
    PassportSource,
    PassportWriter,
    RegistryUnavailable,
    RobotRecord,
)


def create_app(
    source: PassportSource,
    *,
    policy: PolicySet | None,
    verifier: TokenVerifier | None = None,
    mounts: Sequence[Mount] = (),
    example_code: str | None = None,
    ready: Any = None,
    on_denied: str = "null",
    signer: RegistrySigner | None = None,
    sign_in: DemoSignIn | None = None,
    audit: AuditLog | None = None,
    limits: Limits | None = None,
    persisted: PersistedQueries | None = None,
    production: bool = False,
    introspection: bool | None = None,
    console: bool | None = None,
    rate_limits: RateLimits | None = None,
    metrics: Metrics | None = None,
    access_log: bool = False,
    tracing: Any = None,
    writer: PassportWriter | None = None,
) -> Starlette:
    """The gateway app over one passport source.

    `policy` None serves every field to everyone (say so explicitly); without a
    `verifier` every request is the public principal and any token is refused.
    `mounts` adds sub-applications such as the demo authorization server;
    `ready` is an async check for /readyz that raises when not ready and may
    return a mapping of details to report (a federation's registries; with
    "status" other than "ready" the answer is 503); `on_denied` is "null" (a denied field is
    null with an error) or "reject" (the whole operation fails). With a `signer`,
    exports can be downloaded signed and its public keys are served at
    /.well-known/jwks.json.
    The report pages (`/`, `/robots/{code}`) apply the same masks as GraphQL;
    `sign_in` offers demo parties to act as. `audit` receives a record of every
    disclosure (GraphQL, downloads, the AAS API, report pages); without it, or
    without a policy, nothing is recorded. The AAS HTTP API (Part 2, read
    profiles) is served under /aas/api/v3.0 with the same masks.
    `limits` bounds each request
    (`Limits()` by default); `persisted` resolves hashed documents (APQ, or a
    safelist); `production`, `introspection`, `console`: see `PassportGraphQL`.
    `rate_limits` charges /graphql, downloads and report pages to a bucket per
    caller (429 over it). `metrics` serves /metrics and counts requests, errors,
    denials and refusals; `access_log` writes one structured line per request
    (`gateway.edge.observe`); both add an `X-Request-Id` to every response.
    `tracing`, an OpenTelemetry tracer provider, adds spans per request and
    per GraphQL operation (`gateway.edge.tracing`, the `otel` extra).
    `writer` enables the mutations (`gateway.service.writes`); without it they answer
    WRITES_UNAVAILABLE. Writes are audited in `audit` like disclosures.
    """

    def view(principal: Principal, record: RobotRecord) -> Container[str]:
        """The report's mask. A report shows all its view allows, so the whole view is
        recorded, when it is decided: the page is built without a later hook."""
        decision = RequestContext(source, principal, policy).decision(record)
        if decision is None:
            return EVERYTHING
        if audit is not None:
            now = datetime.now(UTC)
            audit.append(AuditRecord.disclosure(principal, record.passport.code, decision, now))
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
        return RequestContext(
            source, principal, policy, request, audit, metrics=metrics, surface="export"
        )

    limits = limits or Limits()
    endpoint = PassportGraphQL(
        source,
        policy,
        example_code=example_code,
        on_denied=on_denied,
        limits=limits,
        persisted=persisted,
        production=production,
        introspection=introspection,
        console=console,
        audit=audit,
        metrics=metrics,
        tracing=tracing,
        writes=Writes(source, writer, policy, audit),
        verifier=verifier,
    )
    graphql = Authenticated(endpoint, verifier)
    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", endpoint),
        *download_routes(context, verifier, signer),
        *bulk_routes(context, verifier),
        aas_api(context, verifier),
        *report_routes(source, view, verifier, sign_in),
        *mounts,
    ]
    middleware = [Middleware(BodyLimit, max_bytes=limits.max_body_bytes)]
    if rate_limits is not None:
        limiter = Middleware(
            RateLimit, limits=rate_limits, verifier=verifier, metrics=metrics or METRICS
        )
        middleware.insert(0, limiter)
    if metrics is not None:
        decoded = getattr(source, "decoded", None)
        if decoded is not None:
            metrics.watch_cache(decoded)
        if endpoint.answers is not None:
            metrics.watch_answers(endpoint.answers)

        async def exposition(request: Request) -> Response:
            for registry in getattr(source, "registries", list)():
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
        lifespan=_stops_background(source),
    )
    if tracing is not None:
        from gateway.edge.tracing import request_spans

        return request_spans(app, tracing)  # type: ignore[return-value]  # the app, wrapped in spans
    return app


async def _unavailable(request: Request, exc: Exception) -> Response:
    """A page or download whose registry node is down: 503 naming it, in GraphQL's shape."""
    assert isinstance(exc, RegistryUnavailable)
    extensions = {"code": "REGISTRY_UNAVAILABLE", "registry": exc.registry}
    body = {"errors": [{"message": str(exc), "extensions": extensions}]}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


async def _not_served(request: Request, exc: Exception) -> Response:
    body = {"errors": [{"message": str(exc), "extensions": {"code": "NOT_FOUND"}}]}
    return JSONResponse(body, status_code=404)


def _stops_background(source: PassportSource) -> Any:
    """A lifespan that stops the source's background work (a federation's feed followers)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        stop = getattr(source, "stop_following", None)
        if stop is not None:
            await stop()

    return lifespan
