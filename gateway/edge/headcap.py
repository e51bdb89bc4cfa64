"""uvicorn's httptools protocol with a bound on a request's head, answered as the cap answers.

httptools (llhttp) has no limit of its own on the size of a request's line and
headers: it keeps a header's pieces until the header ends, however long, so
an unbounded `Authorization` would be held in memory before any middleware
could refuse it. h11 has a buffer (`h11_max_incomplete_event_size`), which is
why `robopass serve` used h11 (issue 21). This protocol gives httptools the
same bound: the bytes received since a request began, until its headers are
complete, are counted, and past `parser_buffer(max_header_bytes)` the
connection gets the header cap's own 431 (`HeaderLimit`'s body), the rest
is read and dropped for a moment so that the client reads the answer before
the close, and nothing more is parsed. Every request under that bound reaches
`HeaderLimit` whole, as under h11, so a too-large header is answered 431
whatever its size and however the network splits it (h11 answers 400 above
its buffer; here the answer is 431 there too).
"""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.edge.headerlimit import parser_buffer, refusal_body

REASON = b"Request Header Fields Too Large"
LINGER = 2.0
"""Seconds a refused connection is still read (and dropped) before it is closed."""


def capped_httptools(max_header_bytes: int) -> type:
    """uvicorn's `HttpToolsProtocol` bounded for a cap of `max_header_bytes` (see above)."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    bound = parser_buffer(max_header_bytes)
    body = refusal_body(max_header_bytes)
    refusal = (
        b"HTTP/1.1 431 " + REASON + b"\r\ncontent-type: application/json\r\n"
        b"connection: close\r\ncontent-length: %d\r\n\r\n" % len(body) + body
    )

    class CappedHttpTools(HttpToolsProtocol):
        """httptools, refusing a request head longer than the parser buffer h11 would have."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.head_bytes = 0
            self.in_head = True
            self.refused = False

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.in_head = True

        def on_headers_complete(self) -> None:
            self.in_head = False
            self.head_bytes = 0
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            if self.refused:  # the rest of a refused head: read and dropped, so that closing
                return  # does not reset the connection before the client reads the 431
            if self.in_head:
                self.head_bytes += len(data)
                if self.head_bytes > bound:
                    self.refused = True
                    self.transport.write(refusal)
                    if self.transport.can_write_eof():
                        self.transport.write_eof()
                    asyncio.get_running_loop().call_later(LINGER, self.transport.close)
                    return
            super().data_received(data)

    return CappedHttpTools
