"""The registry store: robots, hash-chained event logs and snapshots on SQLite or PostgreSQL.

What callers use is here: `Store` (the backend-neutral base), `SqliteStore`
(`RegistryStore` is its deprecated alias, kept for one release),
`PostgresStore` and the store's errors. `PostgresStore` is imported on first
use, since psycopg is an optional dependency (`pip install robopass[postgres]`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.store.base import Store
from gateway.store.decoded import DecodedPassports
from gateway.store.errors import (
    EventRejected,
    IdempotencyConflict,
    RobotExists,
    StoreError,
    StoreUnavailable,
    UnknownRobot,
)
from gateway.store.sqlite import RegistryStore, SqliteStore

if TYPE_CHECKING:
    from gateway.store.postgres import PostgresStore

__all__ = [
    "DecodedPassports",
    "EventRejected",
    "IdempotencyConflict",
    "PostgresStore",
    "RegistryStore",
    "RobotExists",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "UnknownRobot",
]


def __getattr__(name: str) -> Any:
    """`PostgresStore` on first use: importing the store must not need psycopg."""
    if name == "PostgresStore":
        from gateway.store.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
