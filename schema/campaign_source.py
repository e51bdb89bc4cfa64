"""What a registry answers about campaigns: records, progress, per-robot rows, counts.

The store produces these (gateway/store/campaigns.py) and the GraphQL layer
reads them through `CampaignRegistry`, a capability a source or writer may
have (schema/source.py's pattern: a Protocol, never a probe by name).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from .campaigns import Campaign, RobotState
from .source import Page


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a campaign's fan-out got: robots examined, reached, and whether it is done."""

    scanned: int
    reached: int
    done: bool


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    campaign: Campaign
    progress: Progress


@dataclass(frozen=True, slots=True)
class CampaignRobot:
    """One robot under a campaign: its stored state and where its current owner is."""

    code: str
    state: RobotState
    country: str
    owner_id: str
    reason: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StateCount:
    """How many robots of one owner country and owner are in one stored state."""

    country: str
    owner_id: str
    state: RobotState
    robots: int


OwnerCount = tuple[str, str, dict[RobotState, int]]
"""One owner's counts as shown: its country, its identifier, robots by shown state."""


@dataclass(frozen=True, slots=True)
class OwnerRows:
    """One page of the per-owner aggregate: every row of the first owners after a key.

    Paged by owner key (owner country, owner identifier) in bytewise order, so a
    page never splits one owner's states and pages from several registries merge
    by key (gateway/federation/campaigns.py).
    """

    rows: list[StateCount]
    has_next: bool

    def keys(self) -> list[tuple[str, str]]:
        return sorted({(r.country, r.owner_id) for r in self.rows})


@dataclass(frozen=True, slots=True)
class Issued:
    """What issuing answers: the record, whether it was new, and how far the fan-out got."""

    record: CampaignRecord
    created: bool
    progress: Progress

    @property
    def notice(self) -> str | None:
        if self.progress.done and self.progress.reached == 0:
            return "the selector matches no robot now; robots registered later that match will be"
        return None


@dataclass(frozen=True, slots=True)
class Counts:
    """A campaign's counts as one caller may see them, OVERDUE already resolved.

    `by_country` None when the caller may not see the breakdown. Counts by owner are
    paged apart (`OwnerCount`).
    """

    totals: dict[RobotState, int]
    by_country: list[tuple[str, dict[RobotState, int]]] | None


@dataclass(frozen=True, slots=True)
class CampaignFilter:
    kind: str | None = None
    issuer_id: str | None = None


@runtime_checkable
class CampaignRegistry(Protocol):
    """A registry that keeps campaigns (the embedded store; a node over REST later)."""

    def issue_campaign(self, campaign: Campaign) -> tuple[CampaignRecord, bool]: ...

    def run_campaign(
        self, campaign_id: str, batch: int = 500, budget: int | None = None
    ) -> Progress: ...

    def campaign(self, campaign_id: str) -> CampaignRecord | None: ...

    def campaigns(
        self, where: CampaignFilter, first: int, after: str | None = None
    ) -> Page[CampaignRecord]: ...

    def campaign_counts(
        self, campaign_id: str, owner_id: str | None = None
    ) -> list[StateCount]: ...

    def campaign_country_counts(self, campaign_id: str) -> list[StateCount]: ...

    def campaign_owner_counts(
        self,
        campaign_id: str,
        first: int,
        after: tuple[str, str] | None = None,
        owner_id: str | None = None,
        countries: tuple[str, ...] = (),
    ) -> OwnerRows: ...

    def campaign_robots(
        self,
        campaign_id: str,
        first: int,
        after: str | None = None,
        states: tuple[RobotState, ...] = (),
        countries: tuple[str, ...] = (),
    ) -> Page[CampaignRobot]: ...

    def robot_campaigns(self, code: str) -> list[tuple[Campaign, CampaignRobot]]: ...

    def exempt(self, campaign_id: str, code: str, reason: str) -> CampaignRobot: ...


@runtime_checkable
class CampaignBackend(Protocol):
    """Campaigns as the gateway's service uses them, asynchronously: one registry's store
    on worker threads, or every federated registry node over HTTP
    (gateway/federation/campaigns.py), whose answers it sums and merges.

    `issue` stores the campaign and starts its fan-out, answering how far the
    fan-out got within the request; the rest goes on where the robots are.
    """

    async def issue(self, campaign: Campaign) -> Issued: ...

    async def resume(self, campaign_id: str) -> Progress: ...

    async def campaign(self, campaign_id: str) -> CampaignRecord | None: ...

    async def campaigns(
        self, where: CampaignFilter, first: int, after: str | None = None
    ) -> Page[CampaignRecord]: ...

    async def counts(self, campaign_id: str, owner_id: str | None = None) -> list[StateCount]: ...

    async def country_counts(self, campaign_id: str) -> list[StateCount]: ...

    async def owner_counts(
        self,
        campaign_id: str,
        first: int,
        after: tuple[str, str] | None = None,
        owner_id: str | None = None,
        countries: tuple[str, ...] = (),
    ) -> OwnerRows: ...

    async def robots(
        self,
        campaign_id: str,
        first: int,
        after: str | None = None,
        states: tuple[RobotState, ...] = (),
        countries: tuple[str, ...] = (),
    ) -> Page[CampaignRobot]: ...

    async def of_robot(self, code: str) -> list[tuple[Campaign, CampaignRobot]]: ...

    async def exempt(self, campaign_id: str, code: str, reason: str) -> CampaignRobot: ...
