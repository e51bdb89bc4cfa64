"""A cap on the size of a request's headers, with one answer whatever the network does.

uvicorn's HTTP/1.1 parser (h11) refuses headers larger than its buffer only when
they arrive in several reads: the same 94 KB `Authorization` was answered by
the app (401) when it came in one read and by uvicorn (400, or a reset) when it
came in many. So the parser reads up to twice `server.max_header_bytes`
(`parser_buffer`; `serve` runs httptools bounded by it, `gateway.edge.headcap`,
which answers a longer head with this same 431), every request up to that
size reaches this middleware whole, and this middleware answers any request
whose headers exceed the cap
with 431 (RFC 6585) before anything reads them: a token cannot be too large for
the token check and still be read.
"""

from __future__ import annotations

import orjson
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

HEADERS_TOO_LARGE = "REQUEST_HEADERS_TOO_LARGE"


def parser_buffer(max_header_bytes: int) -> int:
    """The bytes of a request's head the parser reads for a cap: room for any request under it."""
    return 2 * max_header_bytes + 4096


def refusal_body(max_bytes: int) -> bytes:
    """The 431's body: what was too large, and what to do instead."""
    error = {
        "message": f"Request headers exceed {max_bytes} bytes"
        " (server.max_header_bytes): send a shorter token or fewer headers",
        "extensions": {"code": HEADERS_TOO_LARGE},
    }
    return orjson.dumps({"errors": [error]})


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
        response = Response(
            refusal_body(self.max_bytes),
            431,
            media_type="application/json",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
