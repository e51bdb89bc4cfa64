"""Who is asking: the verified identity a token resolves to.

A principal holds ids and policy attributes only, never the raw token. The
organisation may be a natural person's name (a private owner) and its
identifier a person's pseudonymous id, so both are kept out of `repr` and
therefore out of logs and tracebacks. The name is shown; only
`organisation_id` (schema/parties.py) establishes a relationship to a robot.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Role(enum.Enum):
    """The capacity in which a party reads or writes a passport."""

    REGULATOR = "regulator"
    MARKET_SURVEILLANCE = "market_surveillance"
    CUSTOMS = "customs"
    LAW_ENFORCEMENT = "law_enforcement"
    JUDICIAL = "judicial"
    MANUFACTURER = "manufacturer"
    OWNER = "owner"
    OPERATOR = "operator"
    SERVICE_PROVIDER = "service_provider"
    INSURER = "insurer"
    BUYER = "buyer"
    STANDARDS_BODY = "standards_body"
    RECYCLER = "recycler"
    PUBLIC = "public"


AUTHORITIES = frozenset(
    {
        Role.REGULATOR,
        Role.MARKET_SURVEILLANCE,
        Role.CUSTOMS,
        Role.LAW_ENFORCEMENT,
        Role.JUDICIAL,
    }
)


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified party; `PUBLIC` when the request carries no token."""

    issuer: str
    subject: str
    role: Role
    client_id: str | None = None
    organisation: str | None = field(default=None, repr=False)
    jurisdiction: str | None = None
    purposes: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    token_id: str | None = None
    organisation_id: str | None = field(default=None, repr=False)

    @property
    def is_public(self) -> bool:
        return self.role is Role.PUBLIC


PUBLIC = Principal(issuer="", subject="anonymous", role=Role.PUBLIC)
