"""The Starlette application: GraphQL endpoint, offline console, health probes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Container, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import orjson
from graphql import ExecutionResult
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from strawberry.types.unset import UNSET

from adapters.errors import InvalidDocument
from adapters.translate import translate
from policies import (
    PUBLIC,
    AuditLog,
    AuditRecord,
    Decision,
    PolicySet,
    Principal,
    TokenVerifier,
    TrailAccess,
    is_own,
    relationship_of,
    trail_access,
)
from schema.disclosure import Disclosure, TrailDenied, TrailUnavailable
from schema.events import EventType, TransferOffer
from schema.graphql.formats import Loss, LossKind, TranslationResult, invalid_document
from schema.graphql.objects import DENIED_CODE, EVERYTHING, RecordingView, field_denied
from schema.graphql.query import PAGE_ARGUMENTS, build_schema
from schema.passport import ConditionSnapshot
from schema.source import (
    Appended,
    ConditionPoint,
    NotServed,
    Page,
    PassportSource,
    PassportWriter,
    RegistryStatus,
    RegistryUnavailable,
    RobotRecord,
    TelemetrySource,
)

from .aasapi import aas_api
from .auth import Authenticated
from .bodylimit import BodyLimit
from .bulk import bulk_routes
from .credentials import RegistrySigner
from .disclosures import disclosure_records, trail_after, trail_page
from .downloads import download_routes
from .export import export_document
from .http import GraphQLOverHTTP
from .limits import Limits, limit_extensions
from .local import merge_history
from .metrics import CONTENT_TYPE, METRICS, Metrics, set_breaker_state
from .observe import Observed
from .persisted import PersistedQueries
from .production import protective_extensions
from .ratelimit import RateLimit, RateLimits
from .report import DemoSignIn, report_routes
from .report.session import viewer_of
from .responses import Answer, ResponseCache, context_fields, reads_of
from .subscriptions import AuditedTransportWS, SocketSession, TextWebSocket, open_session
from .writes import Writes

ON_DENIED = ("null", "reject")


@dataclass(slots=True)
class RequestContext:
    """Per-request context: where passports come from and what this caller may see.

    With no policy set, nothing is hidden and nothing is audited: that is for
    benchmarks' baselines and trusted in-process use only; `create_app` callers
    choose it explicitly. With a policy and an audit log, every robot the
    request touches gets a `RecordingView`, and `record_disclosures` appends
    what was served and denied once the response is computed.
    """

    source: PassportSource
    principal: Principal = PUBLIC
    policy: PolicySet | None = None
    request: Any = None
    audit: AuditLog | None = None
    writes: Writes | None = None
    views: dict[tuple[str, Decision], RecordingView] = field(default_factory=dict)
    metrics: Metrics | None = None
    surface: str = "graphql"
    partial_errors: list[Any] = field(default_factory=list)
    connection_params: dict[str, Any] | None = None
    feed_poll_seconds: float = 0.25
    session: SocketSession | None = None

    def registries(self) -> list[RegistryStatus]:
        """The registries behind the source (a federation's); none for a local store."""
        listing = getattr(self.source, "registries", None)
        return listing() if listing is not None else []

    def may_filter_by_owner(self, owner: str) -> bool:
        """Owner names are PERSONAL: a caller may list by owner only its own robots.

        Otherwise the filter would answer "which robots does this person own"
        to a caller who may not see owners at all.
        """
        return self.policy is None or is_own(self.principal, owner)

    async def still_authenticated(self) -> bool:
        """False once a websocket's token has expired or stopped verifying; True over HTTP."""
        return self.session is None or await self.session.valid()

    def fleet_owner(self, owner: str | None) -> str | None:
        """The owner a change feed follows; the caller's own organisation by default."""
        if owner is not None:
            if not self.may_filter_by_owner(owner):
                raise field_denied("ownership.owner")
            return owner
        if self.policy is None:
            return None
        if self.principal.is_public or not self.principal.organisation:
            raise field_denied("ownership.owner")
        return self.principal.organisation

    def view(self, record: RobotRecord) -> Container[str]:
        """The mask for this caller and robot; the policy set caches it per class of caller."""
        decision = self.decision(record)
        if decision is None:
            return EVERYTHING
        if self.audit is None:
            return decision.mask
        key = (record.passport.code, decision)
        view = self.views.get(key)
        if view is None:
            view = self.views[key] = RecordingView(decision.mask.visible)
        return view

    def decision(self, record: RobotRecord) -> Decision | None:
        """The policy's decision for this caller and robot; None in trusted mode."""
        if self.policy is None:
            return None
        passport = record.passport
        relationship = relationship_of(self.principal, passport)
        return self.policy.decide(self.principal, relationship, passport.code[:2])

    def export(self, record: RobotRecord, fmt: str) -> Any:
        """The robot in format `fmt`, redacted by this caller's mask.

        Outside GraphQL (a REST download), await `record_disclosures()` once
        the document is ready and before sending it.
        """
        mask = self.view(record)
        return export_document(record.passport, fmt, None if mask is EVERYTHING else mask)

    def translate(self, document: Any, source: str, target: str) -> TranslationResult:
        """Translation discloses nothing stored: it only converts what the caller sent."""
        try:
            result = translate(document, source, target)
        except InvalidDocument as exc:
            violations = [(v.pointer or "/", v.message) for v in exc.violations]
            raise invalid_document(exc.format, violations) from None
        losses = [
            Loss(path=e.path, kind=LossKind(e.kind.value), reason=e.reason, count=e.count)
            for e in result.report.entries()
        ]
        return TranslationResult(output=result.output, lossless=not losses, losses=losses)

    async def condition_history(
        self, record: RobotRecord, since: datetime | None, until: datetime | None, last: int
    ) -> list[ConditionPoint]:
        """From the source's telemetry when it keeps any, else the passport's snapshots."""
        code = record.passport.code
        if record.as_of is None and isinstance(self.source, TelemetrySource):
            points = await self.source.condition_history(code, since, until, last)
            if points is not None:
                return points
        points = merge_history(record.passport, [], [], since, until)
        return points[-last:] if last else []

    def _writes(self) -> Writes:
        if self.writes is None:
            return Writes(self.source, None, self.policy, self.audit)
        return self.writes

    async def write(self, code: str, type: EventType, body: Any, key: str) -> Appended:
        return await self._writes().append(self.principal, code, type, body, key)

    async def offer_transfer(self, code: str, offer: TransferOffer, key: str) -> Appended:
        return await self._writes().offer_transfer(self.principal, code, offer, key)

    async def accept_transfer(self, code: str, at: datetime, key: str) -> Appended:
        return await self._writes().accept_transfer(self.principal, code, at, key)

    async def ingest_conditions(
        self, samples: Sequence[tuple[str, ConditionSnapshot]], key: str
    ) -> list[Appended]:
        return await self._writes().ingest(self.principal, samples, key)

    async def record_disclosures(self, answered: bool = True) -> None:
        """Append one audit record per robot touched, in one transaction, then forget them.

        `answered` False (no data went out) records only the refused paths. If
        the log cannot be written this raises and the response is not sent:
        no disclosure goes unrecorded.
        """
        if self.audit is None or not self.views:
            return
        records = disclosure_records(self.principal, self.views, datetime.now(UTC), answered)
        if self.metrics is not None:
            denied = sum(len(r.denied) for r in records)
            if denied:
                self.metrics.denials.labels(self.surface).inc(denied)
        self.views.clear()
        if self.audit.remote:
            await asyncio.to_thread(self.audit.append_many, records)
        else:  # a local WAL commit is quicker than the hop to a worker thread
            self.audit.append_many(records)

    async def audit_trail(
        self, code: str, first: int, after: str | None
    ) -> Page[Disclosure] | None:
        """The robot's disclosures for its registry's authority or its current owner.

        Trusted mode (no policy) reads the whole trail, as it reads everything.
        """
        if self.audit is None:
            raise TrailUnavailable
        start = trail_after(after)
        record = await self.source.robot(code)
        if record is None:
            return None
        access = TrailAccess.AUTHORITY
        if self.policy is not None:
            relationship = relationship_of(self.principal, record.passport)
            access = trail_access(self.principal, relationship, code[:2])
        if access is TrailAccess.NONE:
            raise TrailDenied
        rows = await asyncio.to_thread(self.audit.trail, code, first + 1, start)
        return trail_page(rows, first, access)


class PassportGraphQL(GraphQLOverHTTP):
    """The GraphQL endpoint with our context, limits and the offline console for browsers.

    `on_denied` "null" answers a denied field with null and an error; "reject"
    fails the whole operation instead. A caller may ask for the stricter mode
    per request with the header `Robopass-On-Denied: reject`, never the looser.
    `production` turns introspection, the console and suggestions off and masks
    internal errors; `introspection` and `console` override it either way.
    Over a websocket (graphql-transport-ws), `verifier` checks the token of
    `connection_init`, and `feed_poll_seconds` paces subscriptions' polls.
    """

    graphql_transport_ws_handler_class = AuditedTransportWS
    websocket_adapter_class = TextWebSocket

    def __init__(
        self,
        source: PassportSource,
        policy: PolicySet | None,
        *,
        example_code: str | None = None,
        on_denied: str = "null",
        audit: AuditLog | None = None,
        limits: Limits | None = None,
        persisted: PersistedQueries | None = None,
        production: bool = False,
        introspection: bool | None = None,
        console: bool | None = None,
        metrics: Metrics | None = None,
        tracing: Any = None,
        writes: Writes | None = None,
        verifier: TokenVerifier | None = None,
        feed_poll_seconds: float = 0.25,
    ) -> None:
        if on_denied not in ON_DENIED:
            raise ValueError(f"on_denied must be one of {', '.join(ON_DENIED)}, not {on_denied!r}")
        limits = limits or Limits()
        extensions = [
            *limit_extensions(limits, PAGE_ARGUMENTS),
            *protective_extensions(
                introspection=not production if introspection is None else introspection,
                mask_errors=production,
            ),
        ]
        if tracing is not None:
            from .tracing import operation_spans

            extensions.append(operation_spans(tracing))
        super().__init__(
            build_schema(extensions, suggestions=not production),
            limits=limits,
            persisted=persisted,
            console=not production if console is None else console,
        )
        self.source = source
        self.policy = policy
        self.on_denied = on_denied
        self.audit = audit
        self.metrics = metrics
        self.writes = writes
        self.verifier = verifier
        self.feed_poll_seconds = feed_poll_seconds
        self.answers: ResponseCache | None = None
        vouches = getattr(source, "vouched", None) is not None
        if policy is not None and audit is not None and tracing is None and vouches:
            self.answers = ResponseCache(context_fields(self.schema))
        html = resources.files("gateway").joinpath("static/console.html").read_text("utf-8")
        self.console = html.replace("__EXAMPLE_CODE__", example_code or "")

    async def get_context(self, request: Any, response: Any = None) -> RequestContext:
        principal = request.scope.get("state", {}).get("principal", PUBLIC)
        context = RequestContext(
            request_source(self.source),
            principal,
            self.policy,
            request,
            self.audit,
            self.writes,
            metrics=self.metrics,
        )
        context.feed_poll_seconds = self.feed_poll_seconds
        request.state.passport_context = context
        return context

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        """Reject if asked to, answer, then audit what the answer holds, before it is sent."""
        result = await self.answer(request.state.passport_context, result)
        response = await super().process_result(request, result)
        if self.metrics is not None and result.errors:
            self.metrics.count_errors(result.errors)
        return response

    async def answer(self, context: RequestContext, result: Any) -> Any:
        """`result` as it may go out (reject mode applied), audited before it is sent."""
        if result.data is not None and _denied(result) and self._rejects(context.request):
            result = type(result)(data=None, errors=result.errors)
        if self.answers is not None and context.request is not None:
            state = context.request.state  # what a response cache keeps, before it is cleared
            state.reads = reads_of(context.views, getattr(context.source, "heads", {}))
            state.disclosed = result.data is not None  # after a rejection, False
        await context.record_disclosures(result.data is not None)
        return result

    async def on_ws_connect(self, context: RequestContext) -> Any:
        """Authenticate a socket at `connection_init`; a bad token closes it (4403)."""
        header = context.request.headers.get("authorization")
        params = context.connection_params
        context.principal, context.session = await open_session(self.verifier, params, header)
        return UNSET

    async def kept_answer(
        self, request: Request, query: str, params: dict[str, Any], media: str
    ) -> Response | None:
        """A kept answer (`gateway.responses`), its audit records written again."""
        if self.answers is None:
            return None
        principal = request.scope.get("state", {}).get("principal", PUBLIC)
        key = self.answers.key(query, params, media, self._rejects(request), principal)
        request.state.answer_key = key
        if key is None:
            return None
        context = RequestContext(
            self.source, principal, self.policy, request, self.audit, metrics=self.metrics
        )
        answer = self.answers.lookup(key, self.source, context.decision)  # type: ignore[arg-type]
        if answer is None:
            return None
        request.state.passport_context = context
        if self.metrics is not None:
            self.metrics.count_errors({"extensions": {"code": c}} for c in answer.error_codes)
        context.views.update(answer.views())
        await context.record_disclosures(answer.answered)
        return Response(answer.body, answer.status, media_type=f"{media}; charset=utf-8")

    def answered(self, request: Request, result: Any, body: bytes, status: int) -> None:
        """Keep a single-robot answer whose only errors are denials."""
        key = getattr(request.state, "answer_key", None)
        reads = getattr(request.state, "reads", None)
        if self.answers is None or key is None or not reads:
            return
        codes = tuple((e.extensions or {}).get("code") for e in result.errors or ())
        if any(code != DENIED_CODE for code in codes):
            return
        heads = getattr(request.state.passport_context.source, "heads", {})
        answer = Answer(body, status, reads, request.state.disclosed, codes)  # type: ignore[arg-type]
        self.answers.keep(key, answer, heads)

    def refused(self, code: str) -> None:
        if self.metrics is not None:
            self.metrics.graphql_errors.labels(code).inc()

    def _rejects(self, request: Request) -> bool:
        asked = request.headers.get("robopass-on-denied", "").strip().lower()
        return self.on_denied == "reject" or asked == "reject"

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        return HTMLResponse(self.console)

    def decode_json(self, data: str | bytes) -> object:
        """orjson: faster, and invalid UTF-8 is a JSON error (400), not a crash."""
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def request_source(source: PassportSource) -> PassportSource:
    """The source as one request uses it: a federation batches that request's robot reads.

    A local store has no such scope and is used as it is.
    """
    scope = getattr(source, "request_scope", None)
    return scope() if scope is not None else source


def _denied(result: ExecutionResult) -> bool:
    return any((e.extensions or {}).get("code") == DENIED_CODE for e in result.errors or ())


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
    (`gateway.observe`); both add an `X-Request-Id` to every response.
    `tracing`, an OpenTelemetry tracer provider, adds spans per request and
    per GraphQL operation (`gateway.tracing`, the `otel` extra).
    `writer` enables the mutations (`gateway.writes`); without it they answer
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
        from .tracing import request_spans

        return request_spans(app, tracing)  # type: ignore[return-value]
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
