"""The GraphQL endpoint: our context, deny modes, limits, the console, subscriptions."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from importlib import resources
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry import Schema
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from gateway.endpoint.compiled import Plans, run_plan
from gateway.endpoint.http import GraphQLOverHTTP, RequestError, is_request_error
from gateway.endpoint.limits import limit_extensions
from gateway.endpoint.options import GraphQLOptions
from gateway.endpoint.production import protective_extensions
from gateway.endpoint.responses import Answer, ResponseCache, context_fields, reads_of
from gateway.endpoint.subscriptions import AuditedTransportWS, TextWebSocket, open_session
from gateway.service.context import RequestContext
from gateway.service.services import Services
from policies import PUBLIC
from schema.graphql.objects import DENIED_CODE
from schema.graphql.query import PAGE_ARGUMENTS, build_schema
from schema.source import PassportSource, ReadHeads, Vouching


class PassportGraphQL(GraphQLOverHTTP[RequestContext]):
    """The GraphQL endpoint with our context, limits and the offline console for browsers.

    It holds the one `Services` (the source, the policy, the audit log, the
    verifier that checks a websocket's `connection_init`, ...) and the one
    `GraphQLOptions` (deny mode, limits, persisted documents, production
    mode, the response cache). `schema` is `passport_schema` of the same
    options, built by the caller (or here when None). A caller may ask for the
    stricter deny mode per request with the header `Robopass-On-Denied:
    reject`, never the looser.
    """

    graphql_transport_ws_handler_class = AuditedTransportWS
    websocket_adapter_class = TextWebSocket  # type: ignore[assignment]  # a class is the factory asked for

    def __init__(
        self,
        services: Services,
        options: GraphQLOptions | None = None,
        schema: Schema | None = None,
    ) -> None:
        options = options or GraphQLOptions()
        super().__init__(
            schema or passport_schema(options, services.tracing),
            limits=options.limits,
            persisted=options.persisted,
            console=options.shows_console,
        )
        self.services = services
        self.options = options
        self.answers: ResponseCache | None = None
        self.plans: Plans | None = None
        # Tracing wants every operation run by strawberry, with its spans.
        if options.compiled and services.tracing is None and isinstance(self.schema, Schema):
            self.plans = Plans(self.schema)
        if options.response_cache and _may_keep_answers(services):
            self.answers = ResponseCache(context_fields(self.schema))
        html = resources.files("gateway").joinpath("static/console.html").read_text("utf-8")
        self.console = html.replace("__EXAMPLE_CODE__", options.example_code or "")

    async def get_context(self, request: Any, response: Any = None) -> RequestContext:
        principal = request.scope.get("state", {}).get("principal", PUBLIC)
        context = self.services.context(principal, request, batched=True)
        context.feed_poll_seconds = self.options.feed_poll_seconds
        request.state.passport_context = context
        return context

    async def execute(self, request: Request, query: str, params: dict[str, Any]) -> Any:
        """A known single-robot query through its compiled plan, the rest through strawberry.

        A document is compiled only after strawberry has answered it once without
        a request error: its parsing, validation and limits, which depend on the
        document alone, have then passed. A plan that declines a request (its
        variables do not coerce, an unexpected error) leaves it to strawberry.
        """
        plans = self.plans
        variables = params.get("variables")
        if plans is None or not isinstance(variables, dict | None):
            return await super().execute(request, query, params)
        name = params.get("operationName")
        known, plan = plans.get(query, name)
        if plan is not None:
            context = await self.get_context(request, None)
            run = run_plan(plan, plans.schema, context, variables)
            try:
                result = await asyncio.wait_for(run, self.limits.timeout)
            except TimeoutError:
                message = f"The operation did not finish within {self.limits.timeout:g} s"
                raise RequestError(504, "OPERATION_TIMEOUT", message) from None
            if result is not None:
                plans.answered += 1
                return result
        result = await super().execute(request, query, params)
        if not known and not is_request_error(result):
            plans.learn(query, name)
        return result

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        """Reject if asked to, answer, then audit what the answer holds, before it is sent."""
        result = await self.answer(request.state.passport_context, result)
        response = await super().process_result(request, result)
        metrics = self.services.metrics
        if metrics is not None and result.errors:
            metrics.count_errors(result.errors)
        return response

    async def answer(self, context: RequestContext, result: Any) -> Any:
        """`result` as it may go out (reject mode applied), audited before it is sent."""
        if result.data is not None and _denied(result) and self._rejects(context.request):
            result = type(result)(data=None, errors=result.errors)
        if self.answers is not None and context.request is not None:
            state = context.request.state  # what a response cache keeps, before it is cleared
            state.reads = reads_of(context.views, heads_read(context.source))
            state.disclosed = result.data is not None  # after a rejection, False
        await context.record_disclosures(result.data is not None)
        return result

    async def on_ws_connect(self, context: RequestContext) -> Any:
        """Authenticate a socket at `connection_init`; a bad token closes it (4403)."""
        header = context.request.headers.get("authorization")
        params = context.connection_params
        verifier = self.services.verifier
        context.principal, context.session = await open_session(verifier, params, header)
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
        context = self.services.context(principal, request)
        answer = self.answers.lookup(key, context.source, context.decision)  # type: ignore[arg-type]
        if answer is None:
            return None
        request.state.passport_context = context
        metrics = self.services.metrics
        if metrics is not None:
            metrics.count_errors({"extensions": {"code": c}} for c in answer.error_codes)
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
        heads = heads_read(request.state.passport_context.source)
        answer = Answer(body, status, reads, request.state.disclosed, codes)  # type: ignore[arg-type]
        self.answers.keep(key, answer, heads)

    def refused(self, code: str) -> None:
        if self.services.metrics is not None:
            self.services.metrics.graphql_errors.labels(code).inc()

    def _rejects(self, request: Request) -> bool:
        asked = request.headers.get("robopass-on-denied", "").strip().lower()
        return self.options.on_denied == "reject" or asked == "reject"

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        return HTMLResponse(self.console)

    def decode_json(self, data: str | bytes) -> object:
        """orjson: faster, and invalid UTF-8 is a JSON error (400), not a crash."""
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def passport_schema(options: GraphQLOptions, tracing: Any = None) -> Schema:
    """The schema as `options` shape it: the limits and production mode run as its
    extensions (before any resolver), and `tracing` adds a span per operation."""
    extensions = [
        *limit_extensions(options.limits, PAGE_ARGUMENTS),
        *protective_extensions(
            introspection=options.shows_introspection, mask_errors=options.production
        ),
    ]
    if tracing is not None:
        from gateway.edge.tracing import operation_spans

        extensions.append(operation_spans(tracing))
    return build_schema(extensions, suggestions=not options.production)


def _may_keep_answers(services: Services) -> bool:
    """Answers are kept only where each is decided and audited, and the source's feed
    vouches for what it caches; tracing wants every operation run, so it keeps none."""
    vouches = isinstance(services.source, Vouching)
    audited = services.policy is not None and services.audit is not None
    return audited and vouches and services.tracing is None


def heads_read(source: PassportSource) -> Mapping[str, str]:
    """The version of each current robot a request's source read; none if it keeps no note."""
    return source.heads if isinstance(source, ReadHeads) else {}


def _denied(result: ExecutionResult) -> bool:
    return any((e.extensions or {}).get("code") == DENIED_CODE for e in result.errors or ())
