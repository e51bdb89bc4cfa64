"""The errors the store raises on purpose, each with the code an API answers it by.

Kept apart from the backends so that callers (the node, the federation, the
request services) can catch them without importing a database driver.
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


class StoreUnavailable(StoreError):
    """The database cannot be reached."""

    code = "STORE_UNAVAILABLE"
