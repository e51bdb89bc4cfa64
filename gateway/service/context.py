"""What one request carries: its caller, its source, its masks and what it disclosed."""

from __future__ import annotations

import asyncio
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from adapters.errors import InvalidDocument
from adapters.mapengine import RunsMapping
from adapters.translate import translate
from gateway.ops.metrics import Metrics
from gateway.service.campaigns import Campaigns
from gateway.service.disclosures import disclosure_records, trail_after, trail_page
from gateway.service.export import export_document, export_documents
from gateway.service.local import merge_history
from gateway.service.passport_vc import Issuer, check, issue_for
from gateway.service.webhooks import Webhooks
from gateway.service.writes import Writes
from gateway.store.webhooks import Delivery, Webhook
from policies import (
    PUBLIC,
    AuditLog,
    Decision,
    PolicySet,
    Principal,
    TrailAccess,
    is_own,
    relationship_of,
    trail_access,
)
from schema.campaign_source import (
    CampaignFilter,
    CampaignRecord,
    CampaignRobot,
    Counts,
    Issued,
    OwnerCount,
)
from schema.campaigns import Campaign, RobotState
from schema.disclosure import Disclosure, TrailDenied, TrailUnavailable
from schema.events import EventType, TransferOffer
from schema.graphql.credentials import PresentationCheck
from schema.graphql.formats import Loss, LossKind, TranslationResult, invalid_document
from schema.graphql.objects import EVERYTHING, RecordingView, field_denied
from schema.parties import is_party_id
from schema.passport import ConditionSnapshot
from schema.source import (
    Appended,
    ConditionPoint,
    Page,
    PassportSource,
    RegistryDirectory,
    RegistryStatus,
    RobotFilter,
    RobotRecord,
    TelemetrySource,
)
from schema.writes import WritesUnavailable

ANONYMOUS_HINT = (
    "an anonymous caller sees public fields only; send an access token"
    " (Authorization: Bearer ...) of a party that may see it, see docs/policies.md"
)
SIGNED_IN_HINT = "this token's role and purposes do not grant it, see docs/policies.md"


class LiveSession(Protocol):
    """A websocket's standing: its token checked again while the socket lives.

    The endpoint layer's `SocketSession` is one; declared here so that a request's
    context, below the endpoint, does not import it.
    """

    async def valid(self) -> bool: ...


@dataclass(slots=True)
class RequestContext:
    """Per-request context: where passports come from and what this caller may see.

    With no policy set, nothing is hidden and nothing is audited: that is for
    benchmarks' baselines and trusted in-process use only, chosen explicitly
    (`Services(source, policy=None)`). With a policy and an audit log, every
    robot the request touches gets a `RecordingView`, and `record_disclosures`
    appends what was served and denied once the response is computed. Every
    surface gets its context from `Services.context`, the one place one is made.
    """

    source: PassportSource
    principal: Principal = PUBLIC
    policy: PolicySet | None = None
    request: Any = None
    audit: AuditLog | None = None
    writes: Writes | None = None
    views: dict[tuple[str, Decision], RecordingView] = field(default_factory=dict)
    metrics: Metrics | None = None
    surface: str = "graphql"
    partial_errors: list[Any] = field(default_factory=list)
    connection_params: dict[str, Any] | None = None
    feed_poll_seconds: float = 0.25
    session: LiveSession | None = None
    credentials: Issuer | None = None
    campaigns: Campaigns | None = None
    webhooks: Webhooks | None = None
    mappings: Mapping[str, RunsMapping] = field(default_factory=dict)

    def registries(self) -> list[RegistryStatus]:
        """The registries behind the source (a federation's); none for a local store."""
        return self.source.registries() if isinstance(self.source, RegistryDirectory) else []

    def may_filter_by_owner(self, owner_id: str) -> bool:
        """Owners are PERSONAL: a caller may list by owner only its own robots.

        Otherwise the filter would answer "which robots does this person own"
        to a caller who may not see owners at all. "Its own" is its token's
        party identifier, exactly (`is_own`), never a name.
        """
        return self.policy is None or is_own(self.principal, owner_id)

    def may_filter_by_owner_name(self) -> bool:
        """Names are shown, never matched: a name filter only where no policy applies."""
        return self.policy is None

    async def still_authenticated(self) -> bool:
        """False once a websocket's token has expired or stopped verifying; True over HTTP."""
        return self.session is None or await self.session.valid()

    def denied_hint(self) -> str:
        """What a caller refused a field can do: the same words for every robot."""
        if self.principal.is_public:
            return ANONYMOUS_HINT
        return SIGNED_IN_HINT

    def fleet_owner(self, owner_id: str | None) -> str | None:
        """The owner (party identifier) a change feed follows; the caller's own by default."""
        if owner_id is not None:
            if not self.may_filter_by_owner(owner_id):
                raise field_denied("ownership.owner_id")
            return owner_id
        if self.policy is None:
            return None
        own = self.principal.organisation_id
        if self.principal.is_public or not is_party_id(own):
            raise field_denied("ownership.owner_id")
        return own

    def view(self, record: RobotRecord) -> Container[str]:
        """The mask for this caller and robot; the policy set caches it per class of caller."""
        decision = self.decision(record)
        if decision is None:
            return EVERYTHING
        if self.audit is None:
            return decision.mask
        key = (record.passport.code, decision)
        view = self.views.get(key)
        if view is None:
            view = self.views[key] = RecordingView(decision.mask.visible)
        return view

    def decision(self, record: RobotRecord) -> Decision | None:
        """The policy's decision for this caller and robot; None in trusted mode.

        Decided from the present passport even for a view with `asOf`: a party
        that owned or operated the robot at that time is not its owner or
        operator now, and the past state is shown through today's mask.
        """
        if self.policy is None:
            return None
        relationship = relationship_of(self.principal, record.present)
        return self.policy.decide(self.principal, relationship, record.passport.code[:2])

    def export(self, record: RobotRecord, fmt: str) -> Any:
        """The robot in format `fmt`, redacted by this caller's mask.

        Outside GraphQL (a REST download), await `record_disclosures()` once
        the document is ready and before sending it.
        """
        mask = self.view(record)
        return export_document(
            record.passport, fmt, None if mask is EVERYTHING else mask, self.mappings
        )

    def export_many(self, records: list[RobotRecord], fmt: str) -> list[Any]:
        """Each robot as `export` gives it, or its `ExportFailed`, in order (a bulk page)."""
        items = []
        for record in records:
            mask = self.view(record)
            items.append((record.passport, None if mask is EVERYTHING else mask))
        return export_documents(items, fmt, self.mappings)

    def translate(self, document: Any, source: str, target: str) -> TranslationResult:
        """Translation discloses nothing stored: it only converts what the caller sent."""
        try:
            result = translate(document, source, target)
        except InvalidDocument as exc:
            violations = [(v.pointer or "/", v.message) for v in exc.violations]
            raise invalid_document(exc.format, violations, exc.hint) from None
        losses = [
            Loss(path=e.path, kind=LossKind(e.kind.value), reason=e.reason, count=e.count)
            for e in result.report.entries()
        ]
        return TranslationResult(output=result.output, lossless=not losses, losses=losses)

    async def condition_history(
        self, record: RobotRecord, since: datetime | None, until: datetime | None, last: int
    ) -> list[ConditionPoint]:
        """From the source's telemetry when it keeps any, else the passport's snapshots."""
        code = record.passport.code
        if record.as_of is None and isinstance(self.source, TelemetrySource):
            points = await self.source.condition_history(code, since, until, last)
            if points is not None:
                return points
        points = merge_history(record.passport, [], [], since, until)
        return points[-last:] if last else []

    def _writes(self) -> Writes:
        if self.writes is None:
            return Writes(self.source, None, self.policy, self.audit)
        return self.writes

    # -- campaigns (schema/graphql/campaigns.py) --------------------------------

    def _campaigns(self) -> Campaigns:
        if self.campaigns is None:
            return Campaigns(None, self._writes(), self.policy)
        return self.campaigns

    def now(self) -> datetime:
        return self._campaigns().clock()

    async def issue_campaign(self, draft: Campaign) -> Issued:
        return await self._campaigns().issue(self.principal, draft)

    async def campaign(self, campaign_id: str) -> CampaignRecord | None:
        if self.campaigns is None or self.campaigns.registry is None:
            return None
        return await self.campaigns.get(campaign_id)

    async def campaign_list(
        self, where: CampaignFilter, first: int, after: str | None
    ) -> Page[CampaignRecord]:
        if self.campaigns is None or self.campaigns.registry is None:
            return Page([], [], False)
        return await self.campaigns.page(where, first, after)

    async def campaign_counts(self, campaign: Campaign) -> Counts:
        return await self._campaigns().counts(self.principal, campaign)

    async def campaign_owner_counts(
        self, campaign: Campaign, first: int, after: str | None
    ) -> Page[OwnerCount] | None:
        return await self._campaigns().owner_counts(self.principal, campaign, first, after)

    def campaign_robot_filter(
        self, campaign: Campaign, states: tuple[RobotState, ...]
    ) -> RobotFilter | None:
        return self._campaigns().robot_filter(self.principal, campaign, states)

    async def campaign_robots(
        self, campaign: Campaign, first: int, after: str | None, states: tuple[RobotState, ...]
    ) -> Page[CampaignRobot]:
        return await self._campaigns().robots(self.principal, campaign, first, after, states)

    async def remedy(self, campaign_id: str, code: str, at: datetime, key: str) -> Appended:
        return await self._campaigns().remedy(self.principal, campaign_id, code, at, key)

    async def exempt(self, campaign_id: str, code: str, reason: str) -> CampaignRobot:
        return await self._campaigns().exempt(self.principal, campaign_id, code, reason)

    async def robot_campaigns(self, code: str) -> list[tuple[Campaign, CampaignRobot]]:
        return await self._campaigns().of_robot(code)

    def _webhooks(self) -> Webhooks:
        return self.webhooks if self.webhooks is not None else Webhooks(None, self.policy)

    async def register_webhook(self, url: str, secret: str | None) -> tuple[Webhook, str]:
        return await self._webhooks().register(self.principal, url, secret)

    async def my_webhooks(self) -> list[Webhook]:
        return await self._webhooks().mine(self.principal)

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._webhooks().delete(self.principal, webhook_id)

    async def webhook_deliveries(self, webhook_id: str, first: int) -> list[Delivery]:
        return await self._webhooks().deliveries(self.principal, webhook_id, first)

    async def write(self, code: str, type: EventType, body: Any, key: str) -> Appended:
        return await self._writes().append(self.principal, code, type, body, key)

    async def offer_transfer(self, code: str, offer: TransferOffer, key: str) -> Appended:
        return await self._writes().offer_transfer(self.principal, code, offer, key)

    async def accept_transfer(self, code: str, at: datetime, key: str) -> Appended:
        return await self._writes().accept_transfer(self.principal, code, at, key)

    async def ingest_conditions(
        self, samples: Sequence[tuple[str, ConditionSnapshot]], key: str
    ) -> list[Appended]:
        return await self._writes().ingest(self.principal, samples, key)

    async def issue_credential(self, code: str, holder_key: Any) -> str:
        """The robot's SD-JWT VC for this caller, its current owner (`passport_vc`)."""
        if self.credentials is None:
            raise WritesUnavailable(None, None, "this gateway has no credential signing key")
        return await issue_for(self.credentials, self.source, self.principal, code, holder_key)

    async def check_presentation(
        self, presentation: str, audience: str, nonce: str
    ) -> PresentationCheck:
        """A presentation checked against this registry's keys and status list."""
        if self.credentials is None:
            raise WritesUnavailable(None, None, "this gateway has no credential signing key")
        return await check(self.credentials, self.source, presentation, audience, nonce)

    async def record_disclosures(self, answered: bool = True) -> None:
        """Append one audit record per robot touched, in one transaction, then forget them.

        `answered` False (no data went out) records only the refused paths. If
        the log cannot be written this raises and the response is not sent:
        no disclosure goes unrecorded.
        """
        if self.audit is None or not self.views:
            return
        records = disclosure_records(self.principal, self.views, datetime.now(UTC), answered)
        if self.metrics is not None:
            denied = sum(len(r.denied) for r in records)
            if denied:
                self.metrics.denials.labels(self.surface).inc(denied)
        self.views.clear()
        await self.audit.record(records)  # shared with concurrent requests: group commit

    async def audit_trail(
        self, code: str, first: int, after: str | None
    ) -> Page[Disclosure] | None:
        """The robot's disclosures for its registry's authority or its current owner.

        Trusted mode (no policy) reads the whole trail, as it reads everything.
        """
        if self.audit is None:
            raise TrailUnavailable
        start = trail_after(after)
        record = await self.source.robot(code)
        if record is None:
            return None
        access = TrailAccess.AUTHORITY
        if self.policy is not None:
            relationship = relationship_of(self.principal, record.present)
            access = trail_access(self.principal, relationship, code[:2])
        if access is TrailAccess.NONE:
            raise TrailDenied
        rows = await asyncio.to_thread(self.audit.trail, code, first + 1, start)
        return trail_page(rows, first, access)
