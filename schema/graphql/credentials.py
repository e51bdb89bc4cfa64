"""GraphQL for SD-JWT VC passports: the owner's issuance, anyone's verification.

`issuePassportCredential` is a write in all but name: the current owner only,
with the write scope, through the gateway's policies. `verifyPresentation`
checks what the caller sends against the registry's own keys and its current
status list; it reads nothing stored but one status bit, which the published
status list shows anyway, and answers a refusal as data (`valid: false` with
the rule broken), since "no" is an answer to this question, not an error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from ..writes import WriteError, WritesUnavailable
from .robot import RobotCodeScalar

__all__ = ["CredentialIssuing", "CredentialMutation", "CredentialQuery", "PresentationCheck"]


@strawberry.type(description="The outcome of checking an SD-JWT VC presentation.")
class PresentationCheck:
    valid: bool = strawberry.field(description="Whether every check passed.")
    rule: str | None = strawberry.field(
        default=None, description="When not valid: the rule broken (aud, nonce, revoked, ...)."
    )
    message: str | None = strawberry.field(default=None, description="What failed, for a person.")
    issuer: str | None = strawberry.field(default=None, description="The issuing registry.")
    vct: str | None = strawberry.field(default=None, description="The credential type.")
    issued_at: datetime | None = strawberry.field(default=None, description="When issued.")
    presented_at: datetime | None = strawberry.field(
        default=None, description="When the holder signed the key binding."
    )
    claims: JSON | None = strawberry.field(
        default=None, description="Exactly the claims the holder disclosed, nothing else."
    )
    disclosed: list[str] = strawberry.field(
        default_factory=list, description="The dot paths of the disclosed claims."
    )


@runtime_checkable
class CredentialIssuing(Protocol):
    """A context that can issue and verify passport credentials (the gateway's, with a key)."""

    async def issue_credential(self, code: str, holder_key: Any) -> str:
        """The SD-JWT VC for the caller; raises a `WriteError` when refused."""
        ...

    async def check_presentation(
        self, presentation: str, audience: str, nonce: str
    ) -> PresentationCheck:
        """Every check of a presentation, as data."""
        ...


def _unavailable() -> GraphQLError:
    return GraphQLError(
        "this gateway issues and verifies no passport credentials (it has no signing key)",
        extensions={"code": WritesUnavailable.code},
    )


@strawberry.type
class CredentialQuery:
    @strawberry.field(
        description=(
            "Check an SD-JWT VC presentation against this registry's keys and status list:"
            " issuer signature, disclosures, key binding (audience, nonce, freshness), status."
        )
    )
    async def verify_presentation(
        self, info: strawberry.Info, presentation: str, audience: str, nonce: str
    ) -> PresentationCheck:
        context = info.context
        if not isinstance(context, CredentialIssuing):
            raise _unavailable()
        try:
            return await context.check_presentation(presentation, audience, nonce)
        except WritesUnavailable:
            raise _unavailable() from None


@strawberry.type
class CredentialMutation:
    @strawberry.mutation(
        description=(
            "Issue the robot's passport as an SD-JWT VC (typ dc+sd-jwt) to its current owner,"
            " bound to `holderKey` (a public EC P-256 JWK): every claim selectively disclosable."
        )
    )
    async def issue_passport_credential(
        self, info: strawberry.Info, code: RobotCodeScalar, holder_key: JSON
    ) -> str:
        context = info.context
        if not isinstance(context, CredentialIssuing):
            raise _unavailable()
        try:
            return await context.issue_credential(code, holder_key)
        except WriteError as exc:
            extensions: dict[str, Any] = {"code": exc.code}
            if exc.rule:
                extensions["rule"] = exc.rule
            if exc.field:
                extensions["field"] = exc.field
            raise GraphQLError(str(exc), extensions=extensions) from None
