"""GraphQL over WebSocket (graphql-transport-ws) with the gateway's authentication and audit.

The bearer token comes from the `connection_init` payload's `Authorization`, or
else from the upgrade request's header; it is verified as an HTTP request's is,
and a bad one closes the connection (4403) before any operation runs. Every
result sent over the socket (a subscription's events, or a query's answer) is
first cut by reject mode and then audited, like an HTTP response, so nothing
goes out unrecorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError

from policies import PUBLIC, Principal, TokenError, TokenVerifier

PROTOCOLS = ("graphql-transport-ws",)


async def socket_principal(
    verifier: TokenVerifier | None, params: dict[str, Any] | None, header: str | None
) -> Principal:
    """The caller of a socket: the connection_init token first, the upgrade header second."""
    params = params or {}
    given = params.get("Authorization", params.get("authorization"))
    if given is not None and not isinstance(given, str):
        raise ConnectionRejectionError({"code": "UNAUTHENTICATED", "message": "bad Authorization"})
    token = given or header
    if verifier is None:
        if token:
            raise ConnectionRejectionError(
                {"code": "UNAUTHENTICATED", "message": "this gateway trusts no token issuer"}
            )
        return PUBLIC
    try:
        return await verifier.authenticate(token)
    except TokenError as exc:
        raise ConnectionRejectionError(
            {"code": "UNAUTHENTICATED", "message": exc.error_description}
        ) from None


class TextWebSocket(ASGIWebSocketAdapter):
    """Sends every message as a text frame, as graphql-transport-ws requires (the view's
    JSON encoder gives bytes, which strawberry would send as binary frames)."""

    async def send_json(self, message: Any) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class AuditedTransportWS(BaseGraphQLTransportWSHandler):
    """Strawberry's graphql-transport-ws handler, answering through the view's `answer`."""

    async def _send_result_stream(self, operation: Any, result_source: Any) -> None:
        await super()._send_result_stream(operation, self._answered(result_source))

    async def _answered(self, source: Any) -> AsyncIterator[Any]:
        async for result in source:
            if isinstance(result, ExecutionResult) and not isinstance(result, PreExecutionError):
                result = await self.view.answer(self.context, result)
            yield result
