"""Campaigns for one gateway: issue, fan out, remedy, exempt, and what a caller may count.

Issuing runs in this order and stops at the first refusal with nothing stored:
the write scope; an empty selector (refused unless `all: true`); the policy
table, which narrows the selector to what the issuer may reach
(policies/campaigns.py); the campaign's own rules (schema/campaigns.py: a
deadline in the past, missing terms); the store, where the same id with the
same terms is a retry and with other terms a conflict. Then the fan-out runs
where the robots are: in this gateway's own store (`StoreCampaigns`, on a worker
thread) or at every federated registry node (gateway/federation/campaigns.py),
`IN_REQUEST` robots within the request and the rest in the background; the
answer says how far it got and how many robots were reached, zero included
("matches nothing" is accepted: a robot registered later may match).

A recall is remedied by a RECALL_REMEDIED event through the ordinary write
path and its policy table; a mandated update by updating the software to the
minimum version (the store notices), an end-of-life obligation by the disposal
record. Exemptions are the registry's record, not a chained event.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

from gateway.service.writes import Writes
from gateway.store.campaigns import UnknownCampaign
from gateway.store.cursors import decode_owner_key, encode_owner_key
from gateway.store.errors import IdempotencyConflict, UnknownRobot
from policies import WRITE_SCOPE, AuditRecord, PolicySet, Principal
from policies.campaigns import CountScope, count_scope, may_exempt, scoped_selector
from schema.campaign_source import (
    CampaignBackend,
    CampaignFilter,
    CampaignRecord,
    CampaignRegistry,
    CampaignRobot,
    Counts,
    Issued,
    OwnerCount,
    OwnerRows,
    Progress,
    StateCount,
)
from schema.campaigns import (
    Campaign,
    CampaignKind,
    Issuer,
    RobotState,
    check_campaign,
    check_selector,
)
from schema.events import EventType, RecallRemedy
from schema.source import Appended, Page, RobotFilter
from schema.writes import (
    WriteConflict,
    WriteError,
    WriteForbidden,
    WriteNotFound,
    WriteRejected,
    WritesUnavailable,
)

FAN_OUT_BATCH = 100
"""Robots examined per transaction: SQLite's writers wait while one runs."""
IN_REQUEST = 2000
"""Robots the issuing request examines itself; a longer fan-out goes on in the background."""


def unknown(campaign_id: str) -> WriteNotFound:
    return WriteNotFound(None, "id", f"no campaign {campaign_id!r}: check the id or list campaigns")


class StoreCampaigns:
    """One registry store's campaigns as a `CampaignBackend`: its calls on worker threads,
    a fan-out longer than `IN_REQUEST` finished in the background."""

    def __init__(self, store: CampaignRegistry) -> None:
        self.store = store
        self._background: set[asyncio.Task[Progress]] = set()

    async def issue(self, campaign: Campaign) -> Issued:
        record, created = await asyncio.to_thread(self.store.issue_campaign, campaign)
        progress = await asyncio.to_thread(
            self.store.run_campaign, campaign.id, FAN_OUT_BATCH, IN_REQUEST
        )
        if not progress.done:
            self._continue(campaign.id)
        return Issued(record, created, progress)

    def _continue(self, campaign_id: str) -> None:
        """Finish a fan-out after the request answered; `campaign(id) { progress }` follows
        it, and a stop before the end is resumed when the registry starts again."""
        task = asyncio.get_running_loop().create_task(self.resume(campaign_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def resume(self, campaign_id: str) -> Progress:
        return await asyncio.to_thread(self.store.run_campaign, campaign_id, FAN_OUT_BATCH)

    async def campaign(self, campaign_id: str) -> CampaignRecord | None:
        return await asyncio.to_thread(self.store.campaign, campaign_id)

    async def campaigns(
        self, where: CampaignFilter, first: int, after: str | None = None
    ) -> Page[CampaignRecord]:
        return await asyncio.to_thread(self.store.campaigns, where, first, after)

    async def counts(self, campaign_id: str, owner_id: str | None = None) -> list[StateCount]:
        return await asyncio.to_thread(self.store.campaign_counts, campaign_id, owner_id)

    async def country_counts(self, campaign_id: str) -> list[StateCount]:
        return await asyncio.to_thread(self.store.campaign_country_counts, campaign_id)

    async def owner_counts(
        self,
        campaign_id: str,
        first: int,
        after: tuple[str, str] | None = None,
        owner_id: str | None = None,
        countries: tuple[str, ...] = (),
    ) -> OwnerRows:
        return await asyncio.to_thread(
            self.store.campaign_owner_counts, campaign_id, first, after, owner_id, countries
        )

    async def robots(
        self,
        campaign_id: str,
        first: int,
        after: str | None = None,
        states: tuple[RobotState, ...] = (),
        countries: tuple[str, ...] = (),
    ) -> Page[CampaignRobot]:
        return await asyncio.to_thread(
            self.store.campaign_robots, campaign_id, first, after, states, countries
        )

    async def of_robot(self, code: str) -> list[tuple[Campaign, CampaignRobot]]:
        return await asyncio.to_thread(self.store.robot_campaigns, code)

    async def exempt(self, campaign_id: str, code: str, reason: str) -> CampaignRobot:
        return await asyncio.to_thread(self.store.exempt, campaign_id, code, reason)


OWNER_CURSOR = "own"


def backend_of(registry: CampaignRegistry | CampaignBackend | None) -> CampaignBackend | None:
    """A store is used on worker threads; a backend (the federation's) as it is."""
    if isinstance(registry, CampaignRegistry):
        return StoreCampaigns(registry)
    return registry


class Campaigns:
    """The campaign service over one registry's campaigns or a federation's; `policy` None
    is trusted mode."""

    def __init__(
        self,
        registry: CampaignRegistry | CampaignBackend | None,
        writes: Writes,
        policy: PolicySet | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.registry = backend_of(registry)
        self.writes = writes
        self.policy = policy
        self.clock = clock

    def _store(self) -> CampaignBackend:
        if self.registry is None:
            raise WritesUnavailable(None, None, "this gateway keeps no campaigns")
        return self.registry

    async def _audit(
        self, principal: Principal, act: str, campaign_id: str, code: str, outcome: str, detail: str
    ) -> None:
        """Issuing and exempting are audited as every other write is (who, what, when)."""
        audit = self.writes.audit
        if audit is None or self.policy is None:
            return
        record = AuditRecord.campaign_act(
            principal, act, campaign_id, code, self.clock(), outcome, detail, self.policy.version
        )
        await audit.record([record])

    async def issue(self, principal: Principal, draft: Campaign) -> Issued:
        """Issue `draft` (its issuer is filled in from the principal) and fan it out; the
        outcome, a refusal included, goes to the audit log."""
        try:
            issued = await self._issue(principal, draft)
        except WriteError as error:
            if not isinstance(error, WritesUnavailable):
                detail = error.rule or error.code
                await self._audit(principal, "issue", draft.id, "", "refused", detail)
            raise
        outcome = "stored" if issued.created else "replayed"
        reached = str(issued.progress.reached)
        await self._audit(principal, "issue", draft.id, "", outcome, reached)
        return issued

    async def _issue(self, principal: Principal, draft: Campaign) -> Issued:
        store = self._store()
        if self.policy is not None and WRITE_SCOPE not in principal.scopes:
            raise WriteForbidden("scope", None, f"issuing needs a token with scope {WRITE_SCOPE}")
        check_selector(draft.selector)
        selector = draft.selector
        if self.policy is not None:
            selector = scoped_selector(principal, draft.kind, selector)
        issuer = Issuer(
            principal.organisation_id or principal.subject,
            principal.role.value,
            principal.jurisdiction or "",
        )
        now = self.clock()
        campaign = dataclasses.replace(draft, issuer=issuer, selector=selector, issued_at=now)
        earlier = await store.campaign(draft.id)
        if earlier is not None:
            campaign = dataclasses.replace(campaign, issued_at=earlier.campaign.issued_at)
            if campaign.digest() != earlier.campaign.digest():
                raise WriteConflict(
                    "campaign.conflict", "id", f"campaign {draft.id} was issued with other terms"
                )
        else:
            check_campaign(campaign, now)
        try:
            return await store.issue(campaign)
        except IdempotencyConflict as exc:
            raise WriteConflict("campaign.conflict", "id", str(exc)) from None

    async def resume(self, campaign_id: str) -> Progress:
        try:
            return await self._store().resume(campaign_id)
        except UnknownCampaign:
            raise unknown(campaign_id) from None

    async def get(self, campaign_id: str) -> CampaignRecord | None:
        return await self._store().campaign(campaign_id)

    async def require(self, campaign_id: str) -> CampaignRecord:
        record = await self.get(campaign_id)
        if record is None:
            raise unknown(campaign_id)
        return record

    async def page(
        self, where: CampaignFilter, first: int, after: str | None
    ) -> Page[CampaignRecord]:
        return await self._store().campaigns(where, first, after)

    async def remedy(
        self, principal: Principal, campaign_id: str, code: str, at: datetime, key: str
    ) -> Appended:
        """Record a recall's remedy on one robot (a chained RECALL_REMEDIED)."""
        campaign = (await self.require(campaign_id)).campaign
        if campaign.kind is CampaignKind.MANDATED_UPDATE:
            assert campaign.mandate is not None
            raise WriteRejected(
                "campaign.remedy",
                "campaignId",
                "a mandated update is remedied by updateSoftware to firmware"
                f" {campaign.mandate.minimum_firmware} or later",
            )
        if campaign.kind is CampaignKind.END_OF_LIFE:
            raise WriteRejected(
                "campaign.remedy",
                "campaignId",
                "an end-of-life obligation is met by the disposal record: decommission with"
                " disposition SCRAPPED and the recycling facility",
            )
        body = RecallRemedy(campaign.id, at)
        return await self.writes.append(principal, code, EventType.RECALL_REMEDIED, body, key)

    async def exempt(
        self, principal: Principal, campaign_id: str, code: str, reason: str
    ) -> CampaignRobot:
        """Exempt one robot with its reason; audited, a refusal included."""
        try:
            row = await self._exempt(principal, campaign_id, code, reason)
        except WriteError as error:
            if not isinstance(error, WritesUnavailable):
                detail = error.rule or error.code
                await self._audit(principal, "exempt", campaign_id, code, "refused", detail)
            raise
        await self._audit(principal, "exempt", campaign_id, code, "stored", row.state.value)
        return row

    async def _exempt(
        self, principal: Principal, campaign_id: str, code: str, reason: str
    ) -> CampaignRobot:
        store = self._store()
        campaign = (await self.require(campaign_id)).campaign
        if self.policy is not None:
            if WRITE_SCOPE not in principal.scopes:
                raise WriteForbidden("scope", None, f"exempting needs scope {WRITE_SCOPE}")
            if not may_exempt(principal, campaign):
                raise WriteForbidden(
                    "campaigns.exempt",
                    None,
                    "only the issuer or an authority of its country may exempt a robot",
                )
        if not reason.strip():
            raise WriteRejected("required", "reason", "an exemption needs its reason")
        try:
            return await store.exempt(campaign_id, code, reason.strip())
        except UnknownRobot as exc:
            raise WriteNotFound(None, "code", str(exc)) from None

    def scope(self, principal: Principal, campaign: Campaign) -> CountScope:
        if self.policy is None:
            return CountScope(None, "all")
        return count_scope(principal, campaign)

    async def counts(self, principal: Principal, campaign: Campaign) -> Counts:
        """The totals and countries the caller may see, from the per-country aggregate; an
        owner's from its own rows of the per-owner one. Owners come a page at a time
        (`owner_counts`)."""
        store = self._store()
        scope = self.scope(principal, campaign)
        now = self.clock()
        if scope.owners == "own":
            own = principal.organisation_id or ""
            rows = await store.counts(campaign.id, own)
            return visible_counts(rows, campaign, scope, principal, now)
        countries = await store.country_counts(campaign.id)
        return visible_counts(countries, campaign, scope, principal, now)

    async def owner_counts(
        self, principal: Principal, campaign: Campaign, first: int, after: str | None
    ) -> Page[OwnerCount] | None:
        """A page of the counts by owner the caller may see, in (country, owner) order;
        None when its scope shows no owners. An owner pages over its own rows only, a
        caller limited to some countries over their owners only, so neither a row nor
        a cursor nor `hasNextPage` says anything of an owner it may not see. The cursor
        holds the last owner key shown, which the caller saw."""
        scope = self.scope(principal, campaign)
        if scope.owners == "none":
            return None
        key = decode_owner_key(OWNER_CURSOR, after) if after else None
        own = (principal.organisation_id or "") if scope.owners == "own" else None
        countries = tuple(sorted(scope.countries)) if scope.countries else ()
        found = await self._store().owner_counts(campaign.id, first, key, own, countries)
        late = campaign.deadline_passed(self.clock())
        per_owner: dict[tuple[str, str], dict[RobotState, int]] = {}
        for row in found.rows:
            state = RobotState.OVERDUE if late and row.state is RobotState.PENDING else row.state
            counts = per_owner.setdefault((row.country, row.owner_id), {})
            counts[state] = counts.get(state, 0) + row.robots
        items = [(c, o, n) for (c, o), n in sorted(per_owner.items())]
        cursors = [encode_owner_key(OWNER_CURSOR, c, o) for c, o, _ in items]
        return Page(items, cursors, found.has_next)

    async def robots(
        self,
        principal: Principal,
        campaign: Campaign,
        first: int,
        after: str | None,
        states: tuple[RobotState, ...],
    ) -> Page[CampaignRobot]:
        """The campaign's robots the caller may list, in code order, by shown state."""
        listing = self._listing(principal, campaign, states)
        if listing is None:
            return Page([], [], False)
        stored, countries = listing
        return await self._store().robots(campaign.id, first, after, stored, countries)

    def robot_filter(
        self, principal: Principal, campaign: Campaign, states: tuple[RobotState, ...]
    ) -> RobotFilter | None:
        """The fleet list's filter for a campaign's robots, narrowed as `robots` narrows
        them. None when no robot can be in those states (an OVERDUE before the
        deadline): the list is empty without asking anyone."""
        listing = self._listing(principal, campaign, states)
        if listing is None:
            return None
        stored, countries = listing
        return RobotFilter(
            campaign=campaign.id,
            campaign_states=tuple(s.value for s in stored),
            campaign_countries=countries,
        )

    def _listing(
        self, principal: Principal, campaign: Campaign, states: tuple[RobotState, ...]
    ) -> tuple[tuple[RobotState, ...], tuple[str, ...]] | None:
        """What a caller's listing of the campaign's robots reads: the stored states behind
        the shown ones, and the owner countries it is cut to (none: all). Refused to a
        caller who may not list them; None when no robot can be in those states."""
        scope = self.scope(principal, campaign)
        if scope.countries is not None and not scope.countries:
            raise WriteForbidden(
                "campaigns.robots", None, "listing a campaign's robots is for authorities"
            )
        stored = stored_states(campaign, states, self.clock())
        if stored is None:
            return None
        countries = tuple(sorted(scope.countries)) if scope.countries is not None else ()
        return stored, countries

    async def of_robot(self, code: str) -> list[tuple[Campaign, CampaignRobot]]:
        if self.registry is None:
            return []
        return await self.registry.of_robot(code)


def stored_states(
    campaign: Campaign, shown: tuple[RobotState, ...], now: datetime
) -> tuple[RobotState, ...] | None:
    """The stored states behind the shown ones asked for: OVERDUE is PENDING after the
    deadline, PENDING is PENDING before it. () is every state, None is none at all."""
    if not shown:
        return ()
    late = campaign.deadline_passed(now)
    stored: set[RobotState] = set()
    for state in shown:
        if state is RobotState.OVERDUE:
            if late:
                stored.add(RobotState.PENDING)
        elif state is RobotState.PENDING:
            if not late:
                stored.add(RobotState.PENDING)
        else:
            stored.add(state)
    return tuple(sorted(stored, key=lambda s: s.value)) or None


def visible_counts(
    countries: list[StateCount],
    campaign: Campaign,
    scope: CountScope,
    principal: Principal,
    now: datetime,
) -> Counts:
    """Totals over the rows the caller may count, and the breakdowns its scope shows.

    `countries` are per-country rows (or an owner's own rows). A caller limited to
    some countries counts
    those only, an owner its own robots only; one with no breakdown (the public)
    sees the campaign's totals.
    """
    late = campaign.deadline_passed(now)

    def shown(state: RobotState) -> RobotState:
        return RobotState.OVERDUE if late and state is RobotState.PENDING else state

    def add(into: dict[RobotState, int], row: StateCount) -> None:
        into[shown(row.state)] = into.get(shown(row.state), 0) + row.robots

    def visible(row: StateCount) -> bool:
        if scope.owners == "own" and row.owner_id != principal.organisation_id:
            return False
        return not scope.countries or row.country in scope.countries

    totals: dict[RobotState, int] = {}
    per_country: dict[str, dict[RobotState, int]] = {}
    for row in filter(visible, countries):
        add(totals, row)
        add(per_country.setdefault(row.country, {}), row)
    by_country = None
    if scope.countries is None or scope.countries:
        by_country = sorted(per_country.items())
    return Counts(totals, by_country)
