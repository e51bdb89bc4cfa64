"""A cap on the size of a request's headers, with one answer whatever the network does.

uvicorn's HTTP/1.1 parser (h11) refuses headers larger than its buffer only when
they arrive in several reads: the same 94 KB `Authorization` was answered by
the app (401) when it came in one read and by uvicorn (400, or a reset) when it
came in many. So the buffer is set to twice `server.max_header_bytes` (`serve`
passes `parser_buffer`), every request up to that size reaches this middleware
whole, and this middleware answers any request whose headers exceed the cap
with 431 (RFC 6585) before anything reads them: a token cannot be too large for
the token check and still be read. Headers larger than the buffer itself are
refused by uvicorn with 400, which docs/operations.md says too.
"""

from __future__ import annotations

import orjson
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

HEADERS_TOO_LARGE = "REQUEST_HEADERS_TOO_LARGE"


def parser_buffer(max_header_bytes: int) -> int:
    """uvicorn's `h11_max_incomplete_event_size` for a cap: room for any request under it."""
    return 2 * max_header_bytes + 4096


class HeaderLimit:
    """ASGI middleware answering 431 to a request whose headers total more than `max_bytes`.

    Counted as on the wire: each name and value plus ": " and CRLF.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            size = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            if size > self.max_bytes:
                if scope["type"] == "http":
                    await self.refuse(scope, receive, send)
                else:
                    await send({"type": "websocket.close", "code": 1009})
                return
        await self.app(scope, receive, send)

    async def refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = {
            "message": f"Request headers exceed {self.max_bytes} bytes"
            " (server.max_header_bytes): send a shorter token or fewer headers",
            "extensions": {"code": HEADERS_TOO_LARGE},
        }
        response = Response(
            orjson.dumps({"errors": [error]}),
            431,
            media_type="application/json",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
