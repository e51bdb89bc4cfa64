"""The errors the store raises on purpose, each with the code a caller is answered with.

Their own module, so that the store's parts (the SQL core, telemetry, recommits) raise
them without importing one another; `gateway.store.base` re-exports them.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the store raises on purpose."""

    code = "STORE_ERROR"


class RobotExists(StoreError):
    code = "ROBOT_EXISTS"


class UnknownRobot(StoreError):
    code = "NOT_FOUND"


class EventRejected(StoreError):
    """The event does not apply to the passport as it stands; nothing was written."""

    code = "EVENT_REJECTED"


class IdempotencyConflict(StoreError):
    """The idempotency key was used before with a different request."""

    code = "IDEMPOTENCY_CONFLICT"
