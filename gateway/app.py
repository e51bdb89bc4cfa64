"""The Starlette application: GraphQL endpoint, offline console, health probes."""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from strawberry.asgi import GraphQL

from policies import PUBLIC, PolicySet, Principal, TokenVerifier, relationship_of
from schema.graphql.objects import EVERYTHING
from schema.graphql.query import build_schema
from schema.source import PassportSource, RobotRecord

from .auth import Authenticated
from .export import export_document
from .report import DemoSignIn, report_routes


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


class PassportGraphQL(GraphQL):
    """Strawberry's ASGI app with our context and the offline console for browsers."""

    def __init__(
        self, source: PassportSource, policy: PolicySet | None, *, example_code: str | None = None
    ) -> None:
        super().__init__(build_schema(), graphql_ide="graphiql")
        self.source = source
        self.policy = policy
        html = resources.files("gateway").joinpath("static/console.html").read_text("utf-8")
        self.console = html.replace("__EXAMPLE_CODE__", example_code or "")

    async def get_context(self, request: Any, response: Any = None) -> RequestContext:
        principal = request.scope.get("state", {}).get("principal", PUBLIC)
        return RequestContext(self.source, principal, self.policy, request)

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        return HTMLResponse(self.console)

    def decode_json(self, data: str | bytes) -> object:
        """orjson: faster, and invalid UTF-8 is a JSON error (400), not a crash."""
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def create_app(
    source: PassportSource,
    *,
    policy: PolicySet | None,
    verifier: TokenVerifier | None = None,
    mounts: Sequence[Mount] = (),
    example_code: str | None = None,
    ready: Any = None,
    sign_in: DemoSignIn | None = None,
) -> Starlette:
    """The gateway app over one passport source.

    `policy` None serves every field to everyone (say so explicitly); without a
    `verifier` every request is the public principal and any token is refused.
    `mounts` adds sub-applications such as the demo authorization server;
    `ready` is an async check for /readyz. The report pages (`/`, `/robots/{code}`)
    apply the same masks as GraphQL; `sign_in` offers demo parties to act as.
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

    graphql = Authenticated(PassportGraphQL(source, policy, example_code=example_code), verifier)
    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            *report_routes(source, view, verifier, sign_in),
            *mounts,
        ]
    )
