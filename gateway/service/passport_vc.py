"""Issuing a robot's passport as an SD-JWT VC to its current owner, gated as writes are.

Only the robot's current owner, by party identifier (`policies.relationship_of`),
with a token that carries the write scope, gets a credential; it holds what
that owner may see of the passport (the policy's mask), nothing more, so a
credential can never carry a field its holder could not read. Each credential
gets a random index in the issuer's status list; `publish_status` revokes the
credentials of robots that changed hands since and signs the list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.credentials.sdvc import StatusRef, issue_sd_jwt, status_list_token
from gateway.credentials.signing import RegistrySigner
from gateway.credentials.statuslist import Ledger
from policies import WRITE_SCOPE, PolicySet, Principal, Relationship, relationship_of
from schema.passport import Passport
from schema.writes import WriteForbidden, WriteNotFound

__all__ = ["STATUS_PATH", "Issuer", "status_uri"]

STATUS_PATH = "/credentials/status/1"


def status_uri(issuer: str) -> str:
    """Where the registry publishes its status list (`robopass serve` serves it there)."""
    return issuer.rstrip("/") + STATUS_PATH


@dataclass(frozen=True, slots=True)
class Issuer:
    """The registry's signer, its status ledger and the policy that gates issuance.

    `policy` None is trusted mode (an operator on the registry's own store):
    the owner is then named by the caller and checked against the passport.
    """

    signer: RegistrySigner
    ledger: Ledger
    policy: PolicySet | None

    def issue(
        self,
        principal: Principal,
        passport: Passport | None,
        holder_jwk: dict[str, Any],
        now: datetime | None = None,
    ) -> str:
        """The credential for `principal`, the robot's current owner; raises a `WriteError`."""
        if passport is None:
            raise WriteNotFound(None, "code", "no such robot")
        if self.policy is not None and WRITE_SCOPE not in principal.scopes:
            raise WriteForbidden("scope", None, f"issuing needs a token with scope {WRITE_SCOPE}")
        relationship = relationship_of(principal, passport)
        if relationship is not Relationship.CURRENT_OWNER:
            raise WriteForbidden(
                "credential.owner",
                None,
                "only the robot's current owner may be issued its passport credential",
            )
        visible = None
        if self.policy is not None:
            decision = self.policy.decide(principal, relationship, passport.code[:2], now)
            visible = decision.mask.visible
        idx = self.ledger.allocate(passport.code, len(passport.ownership), now)
        status = StatusRef(status_uri(self.signer.issuer), idx)
        return issue_sd_jwt(passport, self.signer, holder_jwk, status, visible=visible, now=now)

    def publish_status(
        self, owners_now: Callable[[str], int | None], now: datetime | None = None
    ) -> str:
        """Revoke credentials of robots that changed hands; the signed status list token."""
        revoked = self.ledger.refresh(owners_now)
        when = now or datetime.now(UTC)
        return status_list_token(self.signer, status_uri(self.signer.issuer), revoked, when)
