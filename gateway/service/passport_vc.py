"""Issuing a robot's passport as an SD-JWT VC to its current owner, gated as writes are.

Only the robot's current owner, by party identifier (`policies.relationship_of`),
with a token that carries the write scope, gets a credential; it holds what
that owner may see of the passport (the policy's mask), nothing more, so a
credential can never carry a field its holder could not read. Each credential
gets a random index in the issuer's status list; `publish_status` revokes the
credentials of robots that changed hands since and signs the list.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from strawberry.scalars import JSON

from gateway.credentials.sdvc import (
    StatusRef,
    holder_public_jwk,
    issue_sd_jwt,
    status_list_token,
    verify_presentation,
)
from gateway.credentials.signing import RegistrySigner
from gateway.credentials.statuslist import Ledger
from gateway.credentials.verification import InvalidCredential, key_set
from policies import (
    WRITE_SCOPE,
    AuditLog,
    AuditRecord,
    Decision,
    PolicySet,
    Principal,
    Relationship,
    relationship_of,
)
from schema.graphql.credentials import PresentationCheck
from schema.passport import Passport
from schema.source import FeedHead, PassportSource, RobotFilter
from schema.writes import WriteForbidden, WriteNotFound, WriteRejected

__all__ = ["STATUS_PATH", "Issuer", "check", "current_status", "issue_for", "status_uri"]

STATUS_PATH = "/credentials/status/1"
STATUS_REUSE = 60.0
"""Seconds a computed status list is served again while nothing changed."""


def status_uri(issuer: str) -> str:
    """Where the registry publishes its status list (`robopass serve` serves it there)."""
    return issuer.rstrip("/") + STATUS_PATH


@dataclass(frozen=True, slots=True)
class Issuer:
    """The registry's signer, its status ledger and the policy that gates issuance.

    `policy` None is trusted mode: the owner is still checked against the
    passport, but no mask applies and nothing is audited. `audit` records
    every issuance and refusal (with a policy), as writes are recorded.
    """

    signer: RegistrySigner
    ledger: Ledger
    policy: PolicySet | None
    audit: AuditLog | None = None
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def issue(
        self,
        principal: Principal,
        passport: Passport | None,
        holder_jwk: dict[str, Any],
        now: datetime | None = None,
    ) -> str:
        """The credential for `principal`, the robot's current owner; raises a `WriteError`.

        With a policy and an audit log, the issuance is recorded like a read
        (the paths the credential holds as served) and a refusal like a
        refused write, with the rule.
        """
        if passport is None:
            raise WriteNotFound(None, "code", "no such robot")
        at = now or datetime.now(UTC)
        try:
            if self.policy is not None and WRITE_SCOPE not in principal.scopes:
                raise WriteForbidden(
                    "scope", None, f"issuing needs a token with scope {WRITE_SCOPE}"
                )
            relationship = relationship_of(principal, passport)
            if relationship is not Relationship.CURRENT_OWNER:
                raise WriteForbidden(
                    "credential.owner",
                    None,
                    "only the robot's current owner may be issued its passport credential",
                )
        except WriteForbidden as exc:
            self._record(principal, passport.code, None, at, f"refused:{exc.rule}")
            raise
        decision = None
        visible = None
        if self.policy is not None:
            decision = self.policy.decide(principal, relationship, passport.code[:2], at)
            visible = decision.mask.visible
        idx = self.ledger.allocate(passport.code, len(passport.ownership), at)
        status = StatusRef(status_uri(self.signer.issuer), idx)
        credential = issue_sd_jwt(
            passport, self.signer, holder_jwk, status, visible=visible, now=at
        )
        self._record(principal, passport.code, decision, at, "issued")
        return credential

    def _record(
        self, principal: Principal, code: str, decision: Decision | None, at: datetime, outcome: str
    ) -> None:
        if self.audit is None or self.policy is None:
            return
        action = f"credential:{outcome}"
        if decision is None:
            record = AuditRecord.write(
                principal, code, "CREDENTIAL", (), at, "refused", outcome, self.policy.version
            )
        else:
            record = AuditRecord.outcome(principal, code, decision, at, decision.mask.visible, ())
        self.audit.append(dataclasses.replace(record, action=action))

    def publish_status(
        self, owners_now: Callable[[str], int | None], now: datetime | None = None
    ) -> str:
        """Revoke credentials of robots that changed hands; the signed status list token."""
        revoked = self.ledger.refresh(owners_now)
        when = now or datetime.now(UTC)
        return status_list_token(self.signer, status_uri(self.signer.issuer), revoked, when)


async def current_status(issuer: Issuer, source: PassportSource) -> str:
    """The status list token as of now: credentials of robots that changed hands revoked.

    Computing it reads every robot holding a live credential, so a source
    that can say where its change feed ends gets the token again, unread, while
    neither the feed nor the ledger has moved (for `STATUS_REUSE` seconds at most).
    """
    stamp = None
    if isinstance(source, FeedHead):
        version = await asyncio.to_thread(issuer.ledger.version)
        stamp = (version, await source.changes_head(RobotFilter()))
        kept = issuer.memo.get("status")
        if kept is not None and kept[0] == stamp and time.monotonic() - kept[1] < STATUS_REUSE:
            return str(kept[2])
    entries = await asyncio.to_thread(issuer.ledger.entries)
    owners: dict[str, int | None] = {}
    for entry in entries:
        if not entry.revoked and entry.code not in owners:
            record = await source.robot(entry.code)
            owners[entry.code] = None if record is None else len(record.passport.ownership)
    token = await asyncio.to_thread(issuer.publish_status, owners.__getitem__)
    if stamp is not None:
        issuer.memo["status"] = (stamp, time.monotonic(), token)
    return token


async def issue_for(
    issuer: Issuer, source: PassportSource, principal: Principal, code: str, holder_key: Any
) -> str:
    """The GraphQL path: the robot read from `source`, the holder key checked, then `issue`."""
    try:
        jwk = holder_public_jwk(holder_key)
    except ValueError as exc:
        raise WriteRejected("credential.holder_key", "holderKey", str(exc)) from None
    record = await source.robot(code)
    passport = None if record is None else record.passport
    return await asyncio.to_thread(issuer.issue, principal, passport, jwk)


async def check(
    issuer: Issuer, source: PassportSource, presentation: str, audience: str, nonce: str
) -> PresentationCheck:
    """A presentation checked against this registry's keys and its status list, as data.

    Only this registry's own status list is consulted: the gateway fetches no
    URL a caller names (a presentation is caller input).
    """
    own = status_uri(issuer.signer.issuer)
    token = await current_status(issuer, source)

    def lists(uri: str) -> str:
        if uri != own:
            raise ValueError(f"this registry checks only its own status list ({own})")
        return token

    try:
        keys = key_set(issuer.signer.jwks)
        result = verify_presentation(
            presentation, keys, audience=audience, nonce=nonce, status_lists=lists
        )
    except InvalidCredential as exc:
        return PresentationCheck(valid=False, rule=exc.rule, message=str(exc))
    return PresentationCheck(
        valid=True,
        issuer=result.issuer,
        vct=result.vct,
        issued_at=result.issued_at,
        presented_at=result.presented_at,
        claims=JSON(result.claims),
        disclosed=list(result.paths),
    )
