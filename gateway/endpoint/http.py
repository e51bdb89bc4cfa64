"""GraphQL over HTTP as the GraphQL Foundation's specification has it.

Strawberry's view answers 200 to everything and plain text to malformed
requests; tools on the open internet expect the specification: content
negotiation between `application/graphql-response+json` and `application/json`,
GET for queries only (405 otherwise), and, with the newer media type, 4xx when
the operation never ran. Our refusals (limits, persisted queries) are 400 under
either media type: the request is refused, not answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from gateway.endpoint.limits import LIMIT_CODES, Limits
from gateway.endpoint.persisted import PersistedQueries, PersistedQueryError
from gateway.endpoint.subscriptions import PROTOCOLS
from gateway.store.deadline import within

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
OFFERS = {GRAPHQL_RESPONSE: GRAPHQL_RESPONSE, JSON: JSON, "application/*": JSON, "*/*": JSON}
REFUSALS = LIMIT_CODES | {"BAD_USER_INPUT", "INTROSPECTION_DISABLED"}

ContextT = TypeVar("ContextT")


class RequestError(Exception):
    """A request refused before execution, answered with `status` and one coded error."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = dict(headers or {})


def error_body(code: str, message: str) -> bytes:
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in: the acceptable one with the highest q, or None (406)."""
    if not accept or not accept.strip():
        return JSON
    best, best_q = None, 0.0
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        offer = OFFERS.get(media.lower())
        if offer is not None and q > best_q:
            best, best_q = offer, q
    return best


def is_request_error(result: ExecutionResult) -> bool:
    """True when the operation never ran: no data and no error from a field."""
    errors = result.errors or []
    return result.data is None and bool(errors) and all(e.path is None for e in errors)


def status_of(result: ExecutionResult, media: str) -> int:
    if not is_request_error(result):
        return 200
    codes = {(e.extensions or {}).get("code") for e in result.errors or ()}
    if codes & REFUSALS or media == GRAPHQL_RESPONSE:
        return 400
    return 200


class GraphQLOverHTTP(GraphQL[ContextT, None], Generic[ContextT]):
    """Strawberry's ASGI view with the HTTP behaviour of the specification.

    `limits` bounds the operation time; `persisted` resolves hashed documents;
    `console` serves the in-browser console to a browser's GET. A subclass makes the
    context (`ContextT`) its operations run with.
    """

    def __init__(
        self,
        schema: Any,
        *,
        limits: Limits,
        persisted: PersistedQueries | None,
        console: bool,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if console else None,
            subscription_protocols=PROTOCOLS,
        )
        self.limits = limits
        self.persisted = persisted
        self.console_enabled = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        media = negotiate(request.headers.get("accept"))
        try:
            response = await self.respond(request, media)
        except RequestError as exc:
            self.refused(exc.code)
            response = Response(
                error_body(exc.code, str(exc)),
                exc.status,
                headers=exc.headers,
                media_type=f"{media or JSON}; charset=utf-8",
            )
        await response(scope, receive, send)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None = None
    ) -> ContextT:
        """The context of one operation; answers are built here, so there is no response."""
        raise NotImplementedError

    def refused(self, code: str) -> None:
        """A request refused before execution with `code`: a hook for metrics."""

    def decode_json(self, data: str | bytes) -> object:
        """orjson: faster, and invalid UTF-8 is a JSON error (400), not a crash."""
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def respond(self, request: Request, media: str | None) -> Response:
        if request.method not in ("GET", "POST"):
            raise RequestError(405, "METHOD_NOT_ALLOWED", "Use GET or POST", {"Allow": "GET, POST"})
        if self.console_enabled and _wants_console(request):
            return await self.render_graphql_ide(request)
        if media is None:
            raise RequestError(
                406, "NOT_ACCEPTABLE", f"Accept must allow {GRAPHQL_RESPONSE} or {JSON}"
            )
        params = await self.read_params(request)
        query = params.get("query")
        if self.persisted is not None:
            try:
                query = self.persisted.resolve(query, params.get("extensions"))
            except PersistedQueryError as exc:
                raise RequestError(400, exc.code, str(exc)) from None
        if query is None:
            raise RequestError(400, "BAD_REQUEST", "No GraphQL query found in the request")
        kept = await self.kept_answer(request, query, params, media)
        if kept is not None:
            return kept
        result = await self.execute(request, query, params)
        body = await self.process_result(request, result)
        if is_request_error(result):
            body.pop("data", None)
        encoded, status = self.encode_json(body), status_of(result, media)
        self.answered(request, result, encoded, status)
        return Response(encoded, status, media_type=f"{media}; charset=utf-8")

    async def kept_answer(
        self, request: Request, query: str, params: dict[str, Any], media: str
    ) -> Response | None:
        """A kept answer to send instead of executing; a hook for a response cache."""
        return None

    def answered(self, request: Request, result: Any, body: bytes, status: int) -> None:
        """An executed answer, about to be sent; a hook for a response cache."""

    async def execute(self, request: Request, query: str, params: dict[str, Any]) -> Any:
        allowed = {OperationType.QUERY}
        if request.method == "POST":
            allowed.add(OperationType.MUTATION)
        context = await self.get_context(request, None)
        run = self.schema.execute(
            query,
            variable_values=params.get("variables"),
            context_value=context,
            operation_name=params.get("operationName"),
            allowed_operation_types=allowed,
            operation_extensions=params.get("extensions"),
        )
        try:
            with within(self.limits.timeout):  # the store's statements end when the request does
                return await asyncio.wait_for(run, self.limits.timeout)
        except InvalidOperationTypeError as exc:
            reason = exc.as_http_error_reason(request.method)
            raise RequestError(405, "METHOD_NOT_ALLOWED", reason, {"Allow": "POST"}) from None
        except CannotGetOperationTypeError as exc:
            raise RequestError(400, "BAD_REQUEST", exc.as_http_error_reason()) from None
        except MissingQueryError:
            raise RequestError(400, "BAD_REQUEST", "No GraphQL query found") from None
        except TimeoutError:
            message = f"The operation did not finish within {self.limits.timeout:g} s"
            raise RequestError(504, "OPERATION_TIMEOUT", message) from None

    async def read_params(self, request: Request) -> dict[str, Any]:
        """The request parameters, each checked for its type (400 otherwise)."""
        if request.method == "GET":
            params: dict[str, Any] = dict(request.query_params)
            for key in ("variables", "extensions"):
                if params.get(key):
                    params[key] = self._json(params[key].encode())
        else:
            media, options = parse_content_type(request.headers.get("content-type", ""))
            if media != JSON or options.get("charset", "utf-8").lower() != "utf-8":
                raise RequestError(415, "UNSUPPORTED_MEDIA_TYPE", f"POST a body of {JSON}")
            body = await request.body()
            if len(body) > self.limits.max_body_bytes:
                raise RequestError(413, "PAYLOAD_TOO_LARGE", "Request body too large")
            params = self._json(body)
            if isinstance(params, list):
                raise RequestError(
                    400, "BATCHING_NOT_SUPPORTED", "Send one operation per request, not an array"
                )
        if not isinstance(params, dict):
            raise RequestError(400, "BAD_REQUEST", "The request body must be a JSON object")
        for key, kind in (
            ("query", str),
            ("operationName", str),
            ("variables", dict),
            ("extensions", dict),
        ):
            if params.get(key) is not None and not isinstance(params[key], kind):
                raise RequestError(400, "BAD_REQUEST", f"{key} must be a {kind.__name__} or null")
        return params

    def _json(self, data: bytes) -> Any:
        try:
            return self.decode_json(data)
        except ValueError:
            raise RequestError(400, "BAD_REQUEST", "The request is not valid JSON") from None


def _wants_console(request: Request) -> bool:
    return (
        request.method == "GET"
        and "query" not in request.query_params
        and "extensions" not in request.query_params
        and "text/html" in request.headers.get("accept", "")
    )
