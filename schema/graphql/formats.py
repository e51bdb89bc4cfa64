"""Passport formats in GraphQL: exports of a stored robot and translation of a document.

The schema package only describes these; the adapters that do the work are the
gateway's to call, through the request context.
"""

from __future__ import annotations

import enum

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON


@strawberry.enum(description="A passport document format.")
class PassportFormat(enum.Enum):
    CANONICAL = strawberry.enum_value("canonical", description="robopass canonical JSON.")
    CN_MIIT = strawberry.enum_value("cn-miit", description="The Chinese registry's format.")
    AAS = strawberry.enum_value("aas", description="An AAS V3.0 environment (IEC 63278).")
    UNTP_DPP = strawberry.enum_value("untp-dpp", description="A UNTP DPP 0.6.1 credential.")


@strawberry.enum(description="What a translation did to a canonical field.")
class LossKind(enum.Enum):
    DROPPED = "DROPPED"
    LOSSY = "LOSSY"
    DEFAULTED = "DEFAULTED"


@strawberry.type(description="One canonical field a translation did not carry over intact.")
class Loss:
    path: str = strawberry.field(description="Canonical dot path, e.g. ownership.owner.")
    kind: LossKind = strawberry.field(description="Dropped, changed lossily or defaulted.")
    reason: str = strawberry.field(description="Why, from the mapping table.")
    count: int = strawberry.field(description="Values affected in this document.")


@strawberry.type(description="A translated document and what the translation lost.")
class TranslationResult:
    output: JSON = strawberry.field(description="The document in the target format.")
    lossless: bool = strawberry.field(description="True when nothing was lost.")
    losses: list[Loss] = strawberry.field(description="Every field dropped, lossy or defaulted.")


def invalid_document(
    fmt: str, violations: list[tuple[str, str]], hint: str | None = None
) -> GraphQLError:
    """INVALID_DOCUMENT naming every violation by JSON pointer; no partial output.

    `hint` (a document that looks like another format) leads the message."""
    said = f" ({hint})" if hint else ""
    return GraphQLError(
        f"Invalid {fmt} document{said}: {len(violations)} violation(s)",
        extensions={
            "code": "INVALID_DOCUMENT",
            "format": fmt,
            "violations": [{"pointer": p, "message": m} for p, m in violations],
        },
    )
