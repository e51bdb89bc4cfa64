"""A robot's audit trail as the GraphQL layer receives it from the gateway.

The gateway reads the log and decides who may see it; the schema only knows
these plain types, which keeps `schema` free of any policy import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One audit-log entry; None wherever the reader may not see the value.

    `salt` opens `commitment` and is shown only with the whole record. A
    scheme-1 (legacy) hash is computed over the record's content itself, so
    it is None for a reader who may not see that content.
    """

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
    hash: str | None
    prev_hash: str | None
    action: str | None = None
    scheme: int = 2
    commitment: str | None = None
    salt: str | None = None


class TrailDenied(PermissionError):
    """The caller is neither the registry's authority nor the robot's current owner."""


class TrailUnavailable(RuntimeError):
    """This gateway keeps no audit log."""
