"""Retry timing: full jitter, bounded by attempts and by the call's time budget.

Only idempotent reads are retried (a GET, or a batch read sent as POST): an
append is sent once, and its idempotency key is the caller's to retry with.
Full jitter (a uniform delay between zero and the doubled backoff) keeps the
retries of many gateways from arriving at a recovering node in step.
"""

from __future__ import annotations

import random
from collections.abc import Callable

RETRY_STATUSES = frozenset({502, 503, 504})
"""Answers that say "not now" rather than "no": worth one more try for a read."""


def backoff_delay(
    attempt: int, base: float, uniform: Callable[[float, float], float] = random.uniform
) -> float:
    """The pause before retry number `attempt` (1 for the first retry): full jitter."""
    return uniform(0.0, base * (2 ** (attempt - 1)))
