"""A circuit breaker per registry: stop calling a node that keeps failing, try again later.

Closed: calls pass; `failures` consecutive failed calls open it. Open: calls
fail at once, without touching the network, for `reset_after` seconds. Then
half-open: exactly one call goes through as a probe; its success closes the
breaker, its failure opens it for another `reset_after`. A failed registry
therefore costs its callers nothing but an error while it is down.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum


class State(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Counts consecutive failed calls; `clock` is injectable so tests need not sleep."""

    def __init__(
        self,
        failures: int,
        reset_after: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = failures
        self.reset_after = reset_after
        self.clock = clock
        self.failures = 0
        self.opened_at = 0.0
        self._state = State.CLOSED
        self._probing = False

    @property
    def state(self) -> State:
        """The state now: an open breaker whose time is up reads as half-open."""
        if self._state is State.OPEN and self.clock() - self.opened_at >= self.reset_after:
            return State.HALF_OPEN
        return self._state

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open, only the one probe may."""
        state = self.state
        if state is State.CLOSED:
            return True
        if state is State.OPEN or self._probing:
            return False
        self._state = State.HALF_OPEN
        self._probing = True
        return True

    def success(self) -> None:
        self.failures = 0
        self._probing = False
        self._state = State.CLOSED

    def failure(self) -> None:
        self.failures += 1
        self._probing = False
        if self._state is State.HALF_OPEN or self.failures >= self.threshold:
            self._state = State.OPEN
            self.opened_at = self.clock()

    def abandon(self) -> None:
        """A call let through ended neither way (cancelled): let another probe go."""
        self._probing = False
