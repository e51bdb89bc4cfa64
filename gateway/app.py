"""The Starlette application: GraphQL endpoint, offline console, health probes."""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson
from graphql import ExecutionResult
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from strawberry.asgi import GraphQL

from adapters.errors import InvalidDocument
from adapters.translate import translate
from policies import PUBLIC, PolicySet, Principal, TokenVerifier, relationship_of
from schema.graphql.formats import Loss, LossKind, TranslationResult, invalid_document
from schema.graphql.objects import DENIED_CODE, EVERYTHING
from schema.graphql.query import build_schema
from schema.source import PassportSource, RobotRecord

from .auth import Authenticated
from .credentials import RegistrySigner
from .downloads import download_routes
from .export import export_document
from .report import DemoSignIn, report_routes
from .report.session import viewer_of

ON_DENIED = ("null", "reject")


@dataclass(slots=True)
class RequestContext:
    """Per-request context: where passports come from and what this caller may see.

    With no policy set, nothing is hidden: that is for benchmarks' baselines and
    trusted in-process use only; `create_app` callers choose it explicitly.
    """

    source: PassportSource
    principal: Principal = PUBLIC
    policy: PolicySet | None = None
    request: Any = None

    def may_filter_by_owner(self, owner: str) -> bool:
        """Owner names are PERSONAL: a caller may list by owner only its own robots.

        Otherwise the filter would answer "which robots does this person own"
        to a caller who may not see owners at all.
        """
        if self.policy is None:
            return True
        own = self.principal.organisation
        return (
            own is not None
            and " ".join(own.split()).casefold() == " ".join(owner.split()).casefold()
        )

    def view(self, record: RobotRecord) -> Container[str]:
        """The mask for this caller and robot; the policy set caches it per class of caller."""
        if self.policy is None:
            return EVERYTHING
        passport = record.passport
        relationship = relationship_of(self.principal, passport)
        return self.policy.decide(self.principal, relationship, passport.code[:2]).mask

    def export(self, record: RobotRecord, fmt: str) -> Any:
        """The robot in format `fmt`, redacted by this caller's mask."""
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


class PassportGraphQL(GraphQL):
    """Strawberry's ASGI app with our context and the offline console for browsers.

    `on_denied` "null" answers a denied field with null and an error; "reject"
    fails the whole operation instead. A caller may ask for the stricter mode
    per request with the header `Robopass-On-Denied: reject`, never the looser.
    """

    def __init__(
        self,
        source: PassportSource,
        policy: PolicySet | None,
        *,
        example_code: str | None = None,
        on_denied: str = "null",
    ) -> None:
        if on_denied not in ON_DENIED:
            raise ValueError(f"on_denied must be one of {', '.join(ON_DENIED)}, not {on_denied!r}")
        super().__init__(build_schema(), graphql_ide="graphiql")
        self.source = source
        self.policy = policy
        self.on_denied = on_denied
        html = resources.files("gateway").joinpath("static/console.html").read_text("utf-8")
        self.console = html.replace("__EXAMPLE_CODE__", example_code or "")

    async def get_context(self, request: Any, response: Any = None) -> RequestContext:
        principal = request.scope.get("state", {}).get("principal", PUBLIC)
        return RequestContext(self.source, principal, self.policy, request)

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        if result.data is not None and _denied(result) and self._rejects(request):
            result = ExecutionResult(data=None, errors=result.errors)
        return await super().process_result(request, result)

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
    `sign_in` offers demo parties to act as.
    """

    def view(principal: Principal, record: RobotRecord) -> Container[str]:
        return RequestContext(source, principal, policy).view(record)

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
        return RequestContext(source, principal, policy, request)

    endpoint = PassportGraphQL(source, policy, example_code=example_code, on_denied=on_denied)
    graphql = Authenticated(endpoint, verifier)
    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            *download_routes(context, verifier, signer),
            *report_routes(source, view, verifier, sign_in),
            *mounts,
        ]
    )
