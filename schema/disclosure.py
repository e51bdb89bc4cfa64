"""A robot's audit trail as the GraphQL layer receives it from the gateway.

The gateway reads the log and decides who may see it; the schema only knows
these plain types, which keeps `schema` free of any policy import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One audit-log entry; requester identity is None where the reader may not see it."""

    id: int
    at: datetime
    role: str
    issuer: str
    subject: str | None
    organisation: str | None
    token_id: str | None
    served: tuple[str, ...]
    denied: tuple[str, ...]
    purposes: tuple[str, ...]
    agreements: tuple[str, ...]
    policy_version: str
    hash: str
    prev_hash: str
    action: str | None = None


class TrailDenied(PermissionError):
    """The caller is neither the registry's authority nor the robot's current owner."""


class TrailUnavailable(RuntimeError):
    """This gateway keeps no audit log."""
