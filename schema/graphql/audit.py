"""`auditTrail`: who was shown which fields of a robot, from the hash-chained audit log."""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import GraphQLError

from ..disclosure import Disclosure, TrailDenied, TrailUnavailable
from ..source import CursorError, Page
from .context import PassportContext
from .objects import DENIED_CODE
from .pages import PageInfo, bad_input, check_first, edges, page_info
from .robot import robot_not_found

MAX_PAGE = 100


@strawberry.type(description="One disclosure of a robot: who was shown which fields, and why.")
class AuditEntry:
    id: int = strawberry.field(description="Position in the audit log, from 1.")
    at: datetime = strawberry.field(description="When the response was computed (UTC).")
    role: str = strawberry.field(description="The requester's role, e.g. buyer.")
    issuer: str = strawberry.field(description="Issuer of the requester's token; empty if none.")
    subject: str | None = strawberry.field(
        description="The requester's subject; null unless you are the registry's authority."
    )
    organisation: str | None = strawberry.field(
        description="The requester's organisation; null unless you are the registry's authority."
    )
    token_id: str | None = strawberry.field(
        description="The token's jti (never the token); null unless you are the authority."
    )
    served: list[str] = strawberry.field(description="Canonical paths served.")
    denied: list[str] = strawberry.field(description="Canonical paths asked for and refused.")
    purposes: list[str] = strawberry.field(description="Purposes the requester declared.")
    agreements: list[str] = strawberry.field(description="Agreements that widened the view.")
    policy_version: str = strawberry.field(description="Version of the policy set applied.")
    hash: str | None = strawberry.field(
        description=(
            "The entry's link in the chain: under scheme 2, SHA-256 over (scheme, id,"
            " commitment, previous hash). Null for an owner on a scheme-1 entry, whose"
            " hash covers the requester's identity."
        )
    )
    prev_hash: str | None = strawberry.field(
        description=(
            "Hash of the previous entry of the log; null for an owner when that entry is scheme 1."
        )
    )
    scheme: int = strawberry.field(
        description="1: legacy hash over the content; 2: salted commitment (current)."
    )
    commitment: str | None = strawberry.field(
        description=(
            "Scheme 2: SHA-256(salt || canonical content); reveals nothing without the salt."
            " Null for a scheme-1 entry."
        )
    )
    salt: str | None = strawberry.field(
        description=(
            "The 128-bit secret that opens the commitment (hex); null unless you are the"
            " registry's authority, who sees the whole entry."
        )
    )
    action: str | None = strawberry.field(
        default=None,
        description=(
            "Null for a disclosure; for a write `write:TYPE:OUTCOME:DETAIL` (stored or"
            " replayed with the event's sequence, refused with the rule)."
        ),
    )

    @classmethod
    def of(cls, d: Disclosure) -> AuditEntry:
        return cls(
            id=d.id,
            at=d.at,
            role=d.role,
            issuer=d.issuer,
            subject=d.subject,
            organisation=d.organisation,
            token_id=d.token_id,
            served=list(d.served),
            denied=list(d.denied),
            purposes=list(d.purposes),
            agreements=list(d.agreements),
            policy_version=d.policy_version,
            hash=d.hash,
            prev_hash=d.prev_hash,
            scheme=d.scheme,
            commitment=d.commitment,
            salt=d.salt,
            action=d.action,
        )


@strawberry.type(description="An audit entry with its cursor.")
class AuditEdge:
    cursor: str = strawberry.field(description="Opaque position of this entry.")
    node: AuditEntry = strawberry.field(description="The entry.")


@strawberry.type(description="A page of a robot's audit trail, oldest first (Relay pagination).")
class AuditConnection:
    edges: list[AuditEdge] = strawberry.field(description="The entries of this page.")
    page_info: PageInfo = strawberry.field(description="Where the page ends.")


def connection(page: Page[Disclosure]) -> AuditConnection:
    return AuditConnection(edges=edges(page, AuditEdge, AuditEntry.of), page_info=page_info(page))


async def audit_trail(
    context: PassportContext, code: str, first: int, after: str | None
) -> AuditConnection:
    """The page the context's `audit_trail` returns, its refusals as GraphQL errors."""
    check_first(first, MAX_PAGE)
    try:
        page = await context.audit_trail(code, first, after)
    except CursorError as exc:
        raise bad_input(str(exc)) from None
    except TrailDenied:
        raise GraphQLError(
            "Unauthorized field: the audit trail of a robot is for the registry's authority"
            " and the robot's current owner",
            extensions={"code": DENIED_CODE, "field": "auditTrail"},
        ) from None
    except TrailUnavailable:
        raise GraphQLError(
            "This gateway keeps no audit log", extensions={"code": "AUDIT_LOG_UNAVAILABLE"}
        ) from None
    if page is None:
        raise robot_not_found(code)
    return connection(page)
