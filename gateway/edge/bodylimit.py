"""A cap on request bodies, enforced while they arrive.

A declared Content-Length over the cap is refused before a byte of the body is
read; a chunked body is counted as it streams and refused the moment it passes
the cap, so no request can make the gateway buffer more than the cap.
"""

from __future__ import annotations

import orjson
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"


class BodyTooLarge(Exception):
    """Raised from `receive` when the body passes the cap."""


class BodyLimit:
    """ASGI middleware answering 413 to a body longer than `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self.refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if started:
                raise
            await self.refuse(scope, receive, send)

    async def refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = {
            "message": f"Request body exceeds {self.max_bytes} bytes",
            "extensions": {"code": PAYLOAD_TOO_LARGE},
        }
        response = Response(
            orjson.dumps({"errors": [error]}),
            413,
            media_type="application/json",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
