"""The deadline of the request a store call serves, so the database stops when the caller has.

The GraphQL endpoint gives every operation `limits.timeout` seconds and
answers 504 when they are spent; without more, a query still running in
PostgreSQL would go on holding its pooled connection (and its locks) long
after anyone waits for it. The endpoint sets the deadline here (`within`); a
context variable crosses into the worker thread that `asyncio.to_thread`
runs the store call on, and the PostgreSQL store turns what is left of it
into the connection's `statement_timeout` before the call's statements
(`gateway.store.postgres`). A call without a deadline (the command line,
background work) runs under the server's own setting.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_DEADLINE: ContextVar[float | None] = ContextVar("robopass_store_deadline", default=None)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Store calls made inside (and in tasks and threads started inside) end by then."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def statement_timeout_ms() -> int | None:
    """What is left of the deadline in whole milliseconds, rounded up to the second, or None.

    Rounded up so that requests arriving one after another ask for the same
    value and a pooled connection is set again about once a second, not once
    per call; a statement may so outlive its request by under a second. A
    deadline already past gives 1 ms: the statement is cancelled at once.
    """
    deadline = _DEADLINE.get()
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        return 1
    return 1000 * math.ceil(left)
