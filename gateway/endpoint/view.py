"""The GraphQL endpoint: our context, deny modes, limits, the console, subscriptions."""

from __future__ import annotations

from importlib import resources
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from gateway.endpoint.http import GraphQLOverHTTP
from gateway.endpoint.limits import Limits, limit_extensions
from gateway.endpoint.persisted import PersistedQueries
from gateway.endpoint.production import protective_extensions
from gateway.endpoint.responses import Answer, ResponseCache, context_fields, reads_of
from gateway.endpoint.subscriptions import AuditedTransportWS, TextWebSocket, open_session
from gateway.ops.metrics import Metrics
from gateway.service.context import RequestContext
from gateway.service.writes import Writes
from policies import (
    PUBLIC,
    AuditLog,
    PolicySet,
    TokenVerifier,
)
from schema.graphql.objects import DENIED_CODE
from schema.graphql.query import PAGE_ARGUMENTS, build_schema
from schema.source import (
    PassportSource,
)

ON_DENIED = ("null", "reject")


class PassportGraphQL(GraphQLOverHTTP[RequestContext]):
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
    websocket_adapter_class = TextWebSocket  # type: ignore[assignment]  # a class is the factory asked for

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
            from gateway.edge.tracing import operation_spans

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
        """A kept answer (`gateway.endpoint.responses`), its audit records written again."""
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
        answer = self.answers.lookup(key, self.source, context.decision)  # type: ignore[arg-type]  # it vouches: see __init__
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
        answer = Answer(body, status, reads, request.state.disclosed, codes)  # type: ignore[arg-type]  # all DENIED_CODE
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
