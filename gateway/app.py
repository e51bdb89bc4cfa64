"""The Starlette application: GraphQL endpoint, offline console, health probes."""

from __future__ import annotations

import asyncio
from collections.abc import Container, Sequence
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
from schema.graphql.formats import Loss, LossKind, TranslationResult, invalid_document
from schema.graphql.objects import DENIED_CODE, EVERYTHING, RecordingView, field_denied
from schema.graphql.query import PAGE_ARGUMENTS, build_schema
from schema.source import Page, PassportSource, RobotRecord

from .auth import Authenticated
from .bodylimit import BodyLimit
from .bulk import bulk_routes
from .credentials import RegistrySigner
from .disclosures import disclosure_records, trail_after, trail_page
from .downloads import download_routes
from .export import export_document
from .http import GraphQLOverHTTP
from .limits import Limits, limit_extensions
from .persisted import PersistedQueries
from .production import protective_extensions
from .report import DemoSignIn, report_routes
from .report.session import viewer_of
from .subscriptions import AuditedTransportWS, SocketSession, TextWebSocket, open_session

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
    views: dict[tuple[str, Decision], RecordingView] = field(default_factory=dict)
    connection_params: dict[str, Any] | None = None
    feed_poll_seconds: float = 0.25
    session: SocketSession | None = None

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

    async def record_disclosures(self, answered: bool = True) -> None:
        """Append one audit record per robot touched, in one transaction, then forget them.

        `answered` False (no data went out) records only the refused paths. If
        the log cannot be written this raises and the response is not sent:
        no disclosure goes unrecorded.
        """
        if self.audit is None or not self.views:
            return
        records = disclosure_records(self.principal, self.views, datetime.now(UTC), answered)
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
        self.verifier = verifier
        self.feed_poll_seconds = feed_poll_seconds
        html = resources.files("gateway").joinpath("static/console.html").read_text("utf-8")
        self.console = html.replace("__EXAMPLE_CODE__", example_code or "")

    async def get_context(self, request: Any, response: Any = None) -> RequestContext:
        principal = request.scope.get("state", {}).get("principal", PUBLIC)
        context = RequestContext(self.source, principal, self.policy, request, self.audit)
        context.feed_poll_seconds = self.feed_poll_seconds
        request.state.passport_context = context
        return context

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        """Reject if asked to, answer, then audit what the answer holds, before it is sent."""
        result = await self.answer(request.state.passport_context, result)
        return await super().process_result(request, result)

    async def answer(self, context: RequestContext, result: Any) -> Any:
        """`result` as it may go out (reject mode applied), audited before it is sent."""
        if result.data is not None and _denied(result) and self._rejects(context.request):
            result = type(result)(data=None, errors=result.errors)
        await context.record_disclosures(result.data is not None)
        return result

    async def on_ws_connect(self, context: RequestContext) -> Any:
        """Authenticate a socket at `connection_init`; a bad token closes it (4403)."""
        header = context.request.headers.get("authorization")
        params = context.connection_params
        context.principal, context.session = await open_session(self.verifier, params, header)
        return UNSET

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
) -> Starlette:
    """The gateway app over one passport source.

    `policy` None serves every field to everyone (say so explicitly); without a
    `verifier` every request is the public principal and any token is refused.
    `mounts` adds sub-applications such as the demo authorization server;
    `ready` is an async check for /readyz; `on_denied` is "null" (a denied field is
    null with an error) or "reject" (the whole operation fails). With a `signer`,
    exports can be downloaded signed and its public keys are served at
    /.well-known/jwks.json.
    The report pages (`/`, `/robots/{code}`) apply the same masks as GraphQL;
    `sign_in` offers demo parties to act as. `audit` receives a record of every
    disclosure (GraphQL, downloads, report pages); without it, or without a
    policy, nothing is recorded.
    `limits` bounds each request
    (`Limits()` by default); `persisted` resolves hashed documents (APQ, or a
    safelist); `production`, `introspection`, `console`: see `PassportGraphQL`.
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
            if ready is not None:
                await ready()
        except Exception as exc:  # a probe reports, it does not crash
            return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def context(request: Request) -> RequestContext:
        """The bearer token's principal, else a signed-in person's (the report's cookie).

        Only GET routes take the cookie: it is SameSite=Strict, and GraphQL, which
        accepts POST, stays bearer-only.
        """
        principal = request.scope.get("state", {}).get("principal", PUBLIC)
        if principal.is_public and "authorization" not in request.headers:
            principal = (await viewer_of(request, verifier)).principal
        return RequestContext(source, principal, policy, request, audit)

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
        verifier=verifier,
    )
    graphql = Authenticated(endpoint, verifier)
    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", endpoint),
            *download_routes(context, verifier, signer),
            *bulk_routes(context, verifier),
            *report_routes(source, view, verifier, sign_in),
            *mounts,
        ],
        middleware=[Middleware(BodyLimit, max_bytes=limits.max_body_bytes)],
    )
