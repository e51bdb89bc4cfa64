"""GraphQL over WebSocket (graphql-transport-ws) with the gateway's authentication and audit.

The bearer token comes from the `connection_init` payload's `Authorization`, or
else from the upgrade request's header; it is verified as an HTTP request's is,
and a bad one closes the connection (4403) before any operation runs. A socket
outlives requests, so its token is checked again (`SocketSession`): at its
expiry, and every `RECHECK_SECONDS` in case it was revoked; a subscription then
ends with UNAUTHENTICATED and a new operation closes the socket. Every
result sent over the socket (a subscription's events, or a query's answer) is
first cut by reject mode and then audited, like an HTTP response, so nothing
goes out unrecorded.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.schema import StreamResult
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError

from gateway.service.context import RequestContext
from policies import PUBLIC, Principal, TokenError, TokenVerifier

PROTOCOLS = ("graphql-transport-ws",)
RECHECK_SECONDS = 30.0


@dataclass(slots=True)
class SocketSession:
    """The token a socket was opened with, checked again while the socket lives."""

    verifier: TokenVerifier | None
    authorization: str | None
    expires_at: float | None
    checked_at: float

    async def valid(self) -> bool:
        now = time.time()
        if self.expires_at is not None and now >= self.expires_at:
            return False
        if self.authorization is None or now - self.checked_at < RECHECK_SECONDS:
            return True
        try:
            await socket_principal(self.verifier, None, self.authorization)
        except ConnectionRejectionError:
            return False
        self.checked_at = now
        return True


async def open_session(
    verifier: TokenVerifier | None, params: dict[str, Any] | None, header: str | None
) -> tuple[Principal, SocketSession]:
    """The socket's caller and its session: the connection_init token first, the header second."""
    given = (params or {}).get("Authorization", (params or {}).get("authorization"))
    authorization = given if isinstance(given, str) and given else header
    principal = await socket_principal(verifier, params, header)
    expires = _expiry(authorization) if authorization else None
    return principal, SocketSession(verifier, authorization, expires, time.time())


def _expiry(authorization: str) -> float | None:
    """The `exp` of a JWT already verified (None for an opaque token: rechecked instead)."""
    parts = authorization.strip().partition(" ")[2].split(".")
    if len(parts) != 3:
        return None
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


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


class AuditedTransportWS(BaseGraphQLTransportWSHandler[RequestContext, None]):
    """Strawberry's graphql-transport-ws handler, answering through the view's `answer`."""

    async def handle_subscribe(self, message: Any) -> None:
        """A new operation on a socket whose token has lapsed closes it instead."""
        if self.connection_acknowledged and not await self.context.still_authenticated():
            await self.websocket.close(code=4403, reason="Forbidden: the token has expired")
            return
        await super().handle_subscribe(message)

    async def _send_result_stream(self, operation: Any, result_source: StreamResult) -> None:
        await super()._send_result_stream(operation, self._answered(result_source))

    async def _answered(self, source: StreamResult) -> StreamResult:
        async for result in source:
            if isinstance(result, ExecutionResult) and not isinstance(result, PreExecutionError):
                result = await self.view.answer(self.context, result)  # type: ignore[attr-defined]  # self.view is PassportGraphQL
            yield result
