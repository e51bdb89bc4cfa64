"""Registries in GraphQL: their status, and the error for a part one could not serve."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError

from ..source import NotServed, RegistryStatus, RegistryUnavailable, RegistryUntrusted

UNAVAILABLE_CODE = "REGISTRY_UNAVAILABLE"
UNTRUSTED_CODE = "REGISTRY_UNTRUSTED"


def registry_unavailable(error: RegistryUnavailable, path: list[Any] | None = None) -> GraphQLError:
    """The part of the answer `error.registry` should have given, reported beside the rest.

    A registry whose log forked or was rewritten is REGISTRY_UNTRUSTED, with the evidence.
    """
    if isinstance(error, RegistryUntrusted):
        return GraphQLError(
            str(error),
            path=path,
            extensions={
                "code": UNTRUSTED_CODE,
                "registry": error.registry,
                "evidence": error.reason,
            },
        )
    return GraphQLError(
        str(error),
        path=path,
        extensions={"code": UNAVAILABLE_CODE, "registry": error.registry},
    )


def not_served(error: NotServed) -> GraphQLError:
    return GraphQLError(str(error), extensions={"code": "NOT_FOUND"})


def coded(error: Exception) -> Exception:
    """A federation's typed error as the GraphQL error it stands for; others unchanged."""
    if isinstance(error, RegistryUnavailable):
        return registry_unavailable(error)
    if isinstance(error, NotServed):
        return not_served(error)
    return error


@strawberry.type(description="A registry node this gateway federates, as the gateway sees it.")
class Registry:
    id: str = strawberry.field(description="The registry id passports carry as homeRegistry.")
    format: str = strawberry.field(description="Its native format: cn-miit or aas.")
    countries: list[str] = strawberry.field(description="Code prefixes it is home for.")
    jurisdictions: list[str] = strawberry.field(description="Whose law governs its records.")
    breaker: str = strawberry.field(
        description="The gateway's circuit breaker for it: closed, open or half_open."
    )
    last_error: str | None = strawberry.field(
        description="What went wrong last time a call to it failed (no address, no secret)."
    )
    last_error_at: datetime | None = strawberry.field(description="When that was (UTC).")
    untrusted: str | None = strawberry.field(
        description="Evidence that its transparency log forked or was rewritten; null while not."
    )
    checkpoint: int | None = strawberry.field(
        description="Size of the newest checkpoint of its log this gateway verified, if checked."
    )

    @classmethod
    def of(cls, status: RegistryStatus) -> Registry:
        return cls(
            id=status.id,
            format=status.format,
            countries=list(status.countries),
            jurisdictions=list(status.jurisdictions),
            breaker=status.breaker,
            last_error=status.last_error,
            last_error_at=status.last_error_at,
            untrusted=status.untrusted,
            checkpoint=status.checkpoint,
        )
