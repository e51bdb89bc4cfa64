"""Campaigns in GraphQL: issue, remedy, exempt; a campaign with its counts and robots.

Resolvers turn inputs into `schema.campaigns` values and call the request
context (`CampaignContext`), which decides who may do and see what
(gateway/service/campaigns.py, policies/campaigns.py). Counts come from the
registry's maintained aggregate, cut to what the caller may see: a breakdown it
may not see is null, never a partial list passed off as the whole.

Over 500 lines because a campaign's selector, counts, robots and connections are one
concept in the API: split, each half would only make sense with the other open.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, date, datetime
from typing import Protocol, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from ..campaign_source import (
    CampaignFilter,
    CampaignRecord,
    CampaignRobot,
    Counts,
    Issued,
    OwnerCount,
)
from ..campaigns import (
    Campaign,
    CampaignKind,
    DisposalTerms,
    Issuer,
    MandateTerms,
    RecallTerms,
    RobotState,
    Selector,
    shown_state,
)
from ..codec import to_plain
from ..passport import Severity
from ..source import Appended, CursorError, Page, RegistryUnavailable, RobotFilter
from ..writes import WriteError
from .mutation import IdempotencyKey, WriteResult, _aware, _error
from .objects import graphql_enum
from .pages import PageInfo, bad_input, check_first, edges, page_info, read_page
from .registries import registry_unavailable
from .robot import RobotCodeScalar

graphql_enum(CampaignKind)
graphql_enum(RobotState)

CAMPAIGN_PAGE = 100
OWNER_PAGE = 500
T = TypeVar("T")


class CampaignContext(Protocol):
    """What the campaign resolvers need from the request context."""

    def now(self) -> datetime: ...

    async def issue_campaign(self, draft: Campaign) -> Issued: ...

    async def campaign(self, campaign_id: str) -> CampaignRecord | None: ...

    async def campaign_list(
        self, where: CampaignFilter, first: int, after: str | None
    ) -> Page[CampaignRecord]: ...

    async def campaign_counts(self, campaign: Campaign) -> Counts: ...

    async def campaign_owner_counts(
        self, campaign: Campaign, first: int, after: str | None
    ) -> Page[OwnerCount] | None: ...

    def campaign_robot_filter(
        self, campaign: Campaign, states: tuple[RobotState, ...]
    ) -> RobotFilter | None: ...

    async def campaign_robots(
        self, campaign: Campaign, first: int, after: str | None, states: tuple[RobotState, ...]
    ) -> Page[CampaignRobot]: ...

    async def remedy(self, campaign_id: str, code: str, at: datetime, key: str) -> Appended: ...

    async def exempt(self, campaign_id: str, code: str, reason: str) -> CampaignRobot: ...

    async def robot_campaigns(self, code: str) -> list[tuple[Campaign, CampaignRobot]]: ...


async def _refusable(pending: Awaitable[T]) -> T:
    try:
        return await pending
    except WriteError as exc:
        raise _error(exc) from None
    except RegistryUnavailable as exc:  # a federated node: the error names it, nothing hidden
        raise registry_unavailable(exc) from None


# -- inputs ----------------------------------------------------------------------


@strawberry.input(description="Which robots a campaign reaches; every criterion set must hold.")
class CampaignSelectorInput:
    all: bool = strawberry.field(
        default=False, description="Reach every robot; required for an empty selector."
    )
    registry_country: str | None = strawberry.field(
        default=None, description="Code positions 1-2: the registry's country."
    )
    manufacturer_code: str | None = strawberry.field(
        default=None, description="Code positions 3-6: the manufacturer segment."
    )
    model_code: str | None = strawberry.field(
        default=None, description="Code positions 7-12: the model segment."
    )
    produced_from: date | None = strawberry.field(
        default=None, description="Production date (code positions 13-18) on or after."
    )
    produced_until: date | None = strawberry.field(
        default=None, description="Production date on or before."
    )
    plant: str | None = strawberry.field(
        default=None, description="Code position 19: plant or production line."
    )
    sequence_from: str | None = strawberry.field(
        default=None, description="Code positions 20-28, from (9 characters)."
    )
    sequence_until: str | None = strawberry.field(
        default=None, description="Code positions 20-28, until (9 characters)."
    )
    firmware_below: str | None = strawberry.field(
        default=None, description="Firmware version strictly below this one."
    )
    owner_countries: list[str] | None = strawberry.field(
        default=None, description="The current owner's country, one of these."
    )
    manufacturer_id: str | None = strawberry.field(
        default=None, description="The manufacturer's party identifier (uscc:, reg:CC:, lei:)."
    )

    def to_selector(self) -> Selector:
        return Selector(
            all=self.all,
            registry_country=self.registry_country,
            manufacturer_id=self.manufacturer_id,
            manufacturer_code=self.manufacturer_code,
            model_code=self.model_code,
            produced_from=self.produced_from,
            produced_until=self.produced_until,
            plant=self.plant,
            sequence_from=self.sequence_from,
            sequence_until=self.sequence_until,
            firmware_below=self.firmware_below,
            owner_countries=list(self.owner_countries or []),
        )


@strawberry.input(description="What a recall is about.")
class RecallTermsInput:
    hazard: str = strawberry.field(description="The hazard, for owners and authorities.")
    severity: Severity = strawberry.field(description="How serious the hazard is.")
    remedy: str = strawberry.field(description="What puts a robot right.")


@strawberry.input(description="Issue a recall, a mandated update or an end-of-life obligation.")
class IssueCampaignInput:
    id: str = strawberry.field(
        description="Your reference (A-Z, 0-9, . _ -); issuing it again with the same terms"
        " adds nothing."
    )
    kind: CampaignKind = strawberry.field(description="RECALL, MANDATED_UPDATE or END_OF_LIFE.")
    title: str = strawberry.field(description="A short title.")
    legal_basis: str = strawberry.field(description="The act or regulation it rests on.")
    selector: CampaignSelectorInput = strawberry.field(description="The robots it reaches.")
    deadline: date | None = strawberry.field(
        default=None, description="Last day to comply (UTC); required but for a recall."
    )
    recall: RecallTermsInput | None = strawberry.field(default=None, description="For RECALL.")
    minimum_firmware: str | None = strawberry.field(
        default=None, description="For MANDATED_UPDATE: the firmware version required."
    )
    disposal_requirement: str | None = strawberry.field(
        default=None, description="For END_OF_LIFE: what disposal must achieve."
    )

    def to_draft(self) -> Campaign:
        r = self.recall
        return Campaign(
            id=self.id,
            kind=self.kind,
            issuer=Issuer("", "", ""),
            legal_basis=self.legal_basis,
            title=self.title,
            issued_at=datetime.now(UTC),
            selector=self.selector.to_selector(),
            deadline=self.deadline,
            recall=RecallTerms(r.hazard, r.severity, r.remedy) if r else None,
            mandate=MandateTerms(self.minimum_firmware) if self.minimum_firmware else None,
            disposal=(
                DisposalTerms(self.disposal_requirement) if self.disposal_requirement else None
            ),
        )


@strawberry.input(description="Filters on campaigns; unset fields match any.")
class CampaignFilterInput:
    kind: CampaignKind | None = strawberry.field(default=None, description="Only this kind.")
    issuer_id: str | None = strawberry.field(default=None, description="Issuer's party id.")


# -- outputs ---------------------------------------------------------------------


@strawberry.type(description="Robots by state; OVERDUE is pending after the deadline.")
class StateCounts:
    affected: int = strawberry.field(description="Robots the campaign reached.")
    pending: int = strawberry.field(description="Not yet remedied, deadline not passed.")
    remedied: int = strawberry.field(description="Remedied.")
    overdue: int = strawberry.field(description="Not remedied by the deadline.")
    exempted: int = strawberry.field(description="Exempted with a reason.")

    @classmethod
    def of(cls, counts: dict[RobotState, int]) -> StateCounts:
        return cls(
            affected=sum(counts.values()),
            pending=counts.get(RobotState.PENDING, 0),
            remedied=counts.get(RobotState.REMEDIED, 0),
            overdue=counts.get(RobotState.OVERDUE, 0),
            exempted=counts.get(RobotState.EXEMPTED, 0),
        )


@strawberry.type(description="Counts of one owner country ('' when the robot has no owner).")
class CountryCounts:
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 country of the current owner.")
    counts: StateCounts = strawberry.field(description="The robots owned there, by state.")


@strawberry.type(description="Counts of one owner, by party identifier.")
class OwnerCounts:
    country: str = strawberry.field(description="The owner's country.")
    owner_id: str = strawberry.field(
        description="The owner's party identifier ('' when not identified)."
    )
    counts: StateCounts = strawberry.field(description="The owner's robots, by state.")


@strawberry.type(description="An owner's counts and its cursor.")
class OwnerCountsEdge:
    cursor: str = strawberry.field(description="Opaque position: this owner's key only.")
    node: OwnerCounts = strawberry.field(description="The owner's counts.")


@strawberry.type(description="A page of counts by owner, in (country, owner) order.")
class OwnerCountsConnection:
    edges: list[OwnerCountsEdge] = strawberry.field(description="The owners of this page.")
    page_info: PageInfo = strawberry.field(description="Where the page ends.")


@strawberry.type(description="A campaign's counts, as far as the caller may see them.")
class CampaignCounts:
    totals: StateCounts = strawberry.field(description="Over the robots the caller may count.")
    by_country: list[CountryCounts] | None = strawberry.field(
        description="By the current owner's country; null when not for this caller."
    )
    record: strawberry.Private[Campaign]

    @strawberry.field(
        description="By owner, paged in (country, owner) order; null when not for this"
        " caller, an owner sees its own only. Read from the per-owner aggregate, a page"
        " at a time."
    )
    async def by_owner(
        self, info: strawberry.Info, first: int = 50, after: str | None = None
    ) -> OwnerCountsConnection | None:
        check_first(first, OWNER_PAGE)
        try:
            page = await _refusable(info.context.campaign_owner_counts(self.record, first, after))
        except CursorError as exc:  # a cursor it was not given is the caller's mistake
            raise bad_input(str(exc)) from None
        if page is None:
            return None
        return OwnerCountsConnection(
            edges=edges(
                page,
                OwnerCountsEdge,
                lambda o: OwnerCounts(country=o[0], owner_id=o[1], counts=StateCounts.of(o[2])),
            ),
            page_info=page_info(page),
        )


@strawberry.type(description="How far the fan-out got.")
class CampaignProgress:
    scanned: int = strawberry.field(description="Robots examined.")
    reached: int = strawberry.field(description="Robots the campaign reached.")
    done: bool = strawberry.field(description="Whether every robot was examined.")


@strawberry.type(description="One robot under a campaign.")
class CampaignRobotState:
    code: RobotCodeScalar = strawberry.field(description="The robot.")
    state: RobotState = strawberry.field(description="PENDING, REMEDIED, OVERDUE or EXEMPTED.")
    country: str = strawberry.field(description="Current owner's country.")
    reason: str | None = strawberry.field(description="Why it is exempted.")
    updated_at: datetime = strawberry.field(description="When the state or owner last changed.")


@strawberry.type(description="A robot of a campaign and its cursor.")
class CampaignRobotEdge:
    cursor: str = strawberry.field(description="Opaque position of this robot.")
    node: CampaignRobotState = strawberry.field(description="The robot's state.")


@strawberry.type(description="A page of a campaign's robots, in code order.")
class CampaignRobotConnection:
    edges: list[CampaignRobotEdge] = strawberry.field(description="The robots of this page.")
    page_info: PageInfo = strawberry.field(description="Where the page ends.")


@strawberry.type(
    name="Campaign", description="A recall, a mandated update or an end-of-life obligation."
)
class CampaignType:
    id: str = strawberry.field(description="The issuer's reference.")
    kind: CampaignKind = strawberry.field(description="RECALL, MANDATED_UPDATE or END_OF_LIFE.")
    title: str = strawberry.field(description="A short title.")
    legal_basis: str = strawberry.field(description="The act or regulation it rests on.")
    issued_at: datetime = strawberry.field(description="When it was issued (UTC).")
    deadline: date | None = strawberry.field(
        description="Last day to comply; none for a recall without one."
    )
    issuer_id: str = strawberry.field(description="The issuer's party identifier.")
    issuer_role: str = strawberry.field(
        description="The issuer's role, e.g. manufacturer or regulator."
    )
    issuer_jurisdiction: str = strawberry.field(description="The issuer's country.")
    terms: JSON | None = strawberry.field(description="Recall, mandate or disposal terms.")
    selector: JSON = strawberry.field(description="The selector as applied (policy-narrowed).")
    progress: CampaignProgress = strawberry.field(description="How far the fan-out got.")
    record: strawberry.Private[Campaign]

    @classmethod
    def of(cls, record: CampaignRecord) -> CampaignType:
        c, p = record.campaign, record.progress
        terms = c.recall or c.mandate or c.disposal
        return cls(
            id=c.id,
            kind=c.kind,
            title=c.title,
            legal_basis=c.legal_basis,
            issued_at=c.issued_at,
            deadline=c.deadline,
            issuer_id=c.issuer.organisation_id,
            issuer_role=c.issuer.role,
            issuer_jurisdiction=c.issuer.jurisdiction,
            terms=to_plain(terms) if terms is not None else None,
            selector=to_plain(c.selector),
            progress=CampaignProgress(scanned=p.scanned, reached=p.reached, done=p.done),
            record=c,
        )

    @strawberry.field(description="Counts by state, owner country and owner (maintained).")
    async def counts(self, info: strawberry.Info) -> CampaignCounts:
        # Totals and countries read the per-country aggregate (a few rows); byOwner
        # reads the per-owner one a page at a time, only when asked for.
        counts = await _refusable(info.context.campaign_counts(self.record))
        by_country = counts.by_country
        return CampaignCounts(
            totals=StateCounts.of(counts.totals),
            by_country=None
            if by_country is None
            else [CountryCounts(country=c, counts=StateCounts.of(n)) for c, n in by_country],
            record=self.record,
        )

    @strawberry.field(description="The campaign's robots in code order, by state (authorities).")
    async def robots(
        self,
        info: strawberry.Info,
        first: int = 50,
        after: str | None = None,
        states: list[RobotState] | None = None,
    ) -> CampaignRobotConnection | None:
        check_first(first, CAMPAIGN_PAGE)
        page = await read_page(
            _refusable(info.context.campaign_robots(self.record, first, after, tuple(states or ())))
        )
        now = info.context.now()
        return CampaignRobotConnection(
            edges=edges(page, CampaignRobotEdge, lambda r: robot_state(self.record, r, now)),
            page_info=page_info(page),
        )


def robot_state(campaign: Campaign, row: CampaignRobot, now: datetime) -> CampaignRobotState:
    return CampaignRobotState(
        code=row.code,  # type: ignore[arg-type]  # the scalar's value is the code text
        state=shown_state(campaign, row.state, now),
        country=row.country,
        reason=row.reason,
        updated_at=row.updated_at,
    )


@strawberry.type(description="What issuing answered.")
class IssueCampaignResult:
    campaign: CampaignType = strawberry.field(
        description="The campaign as stored, with its progress."
    )
    created: bool = strawberry.field(description="False when this id was issued before.")
    notice: str | None = strawberry.field(description="E.g. that the selector matches no robot.")


@strawberry.type(description="A campaign and its cursor.")
class CampaignEdge:
    cursor: str = strawberry.field(description="Opaque position of this campaign.")
    node: CampaignType = strawberry.field(description="The campaign.")


@strawberry.type(description="A page of campaigns, in id order.")
class CampaignConnection:
    edges: list[CampaignEdge] = strawberry.field(description="The campaigns of this page.")
    page_info: PageInfo = strawberry.field(description="Where the page ends.")


# -- roots -----------------------------------------------------------------------


def not_found(campaign_id: str) -> GraphQLError:
    return GraphQLError(
        f"no campaign {campaign_id!r}: check the id or list campaigns",
        extensions={"code": "NOT_FOUND"},
    )


async def campaign_filter(
    context: CampaignContext, campaign_id: str, state: RobotState | None
) -> RobotFilter | None:
    """The fleet list's `filter.campaign` and `campaignState` as the source's filter
    fields, narrowed to what the caller may list (as `Campaign.robots`); None when no
    robot can match. NOT_FOUND for an unknown campaign, FORBIDDEN as `robots` says."""
    record = await context.campaign(campaign_id)
    if record is None:
        raise not_found(campaign_id)
    try:
        return context.campaign_robot_filter(record.campaign, (state,) if state else ())
    except WriteError as exc:
        raise _error(exc) from None


@strawberry.type
class CampaignQueries:
    @strawberry.field(description="One campaign by id; NOT_FOUND for an unknown id.")
    async def campaign(self, info: strawberry.Info, id: str) -> CampaignType:
        record = await info.context.campaign(id)
        if record is None:
            raise not_found(id)
        return CampaignType.of(record)

    @strawberry.field(description="Campaigns in id order, filtered.")
    async def campaigns(
        self,
        info: strawberry.Info,
        filter: CampaignFilterInput | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> CampaignConnection:
        check_first(first, CAMPAIGN_PAGE)
        f = filter or CampaignFilterInput()
        where = CampaignFilter(f.kind.value if f.kind else None, f.issuer_id)
        page = await read_page(info.context.campaign_list(where, first, after))
        return CampaignConnection(
            edges=edges(page, CampaignEdge, CampaignType.of), page_info=page_info(page)
        )


@strawberry.type
class CampaignMutations:
    @strawberry.mutation(
        description="Issue a campaign and fan it out: one chained event per robot reached."
    )
    async def issue_campaign(
        self, info: strawberry.Info, input: IssueCampaignInput
    ) -> IssueCampaignResult:
        issued = await _refusable(info.context.issue_campaign(input.to_draft()))
        record = CampaignRecord(issued.record.campaign, issued.progress)
        return IssueCampaignResult(
            campaign=CampaignType.of(record), created=issued.created, notice=issued.notice
        )

    @strawberry.mutation(description="Record that a recall was remedied on one robot.")
    async def remedy_campaign(
        self,
        info: strawberry.Info,
        campaign_id: str,
        code: RobotCodeScalar,
        at: datetime,
        idempotency_key: IdempotencyKey,
    ) -> WriteResult:
        appended = await _refusable(
            info.context.remedy(campaign_id, code, _aware(at, "at"), idempotency_key)
        )
        return WriteResult.of(appended)

    @strawberry.mutation(description="Exempt one robot from a campaign, with the reason.")
    async def exempt_from_campaign(
        self, info: strawberry.Info, campaign_id: str, code: RobotCodeScalar, reason: str
    ) -> CampaignRobotState:
        row = await _refusable(info.context.exempt(campaign_id, code, reason))
        record = await info.context.campaign(campaign_id)
        assert record is not None
        return robot_state(record.campaign, row, info.context.now())
