"""What resolvers expect to find in `info.context`."""

from __future__ import annotations

from collections.abc import Container, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ..disclosure import Disclosure
from ..events import EventType, TransferOffer
from ..passport import ConditionSnapshot
from ..source import (
    Appended,
    ConditionPoint,
    Page,
    PassportSource,
    RegistryStatus,
    RobotRecord,
)
from .formats import TranslationResult


@runtime_checkable
class PartialAnswers(Protocol):
    """A context that collects errors to answer beside the data (the gateway's does;
    the registry node's subgraph, which has no partial lists, does not)."""

    partial_errors: list[Any]


@runtime_checkable
class PolledFeed(Protocol):
    """A context that says how often a subscription polls the change feed.

    Optional: without it the feed is polled every `feed.POLL_SECONDS`.
    """

    feed_poll_seconds: float


@runtime_checkable
class DeniedHint(Protocol):
    """A context that can tell a caller refused a field what to do next.

    Optional: without it a refusal names the field and stops there. The
    gateway's context says it from the caller's standing (anonymous or not),
    never from anything about the robot.
    """

    def denied_hint(self) -> str:
        """The next step for this caller after a hidden field, one clause."""
        ...


class PassportContext(Protocol):
    """Per-request context the gateway provides."""

    source: PassportSource
    partial_errors: list[Any]
    """GraphQL errors to answer beside the data: the registries a list is missing."""

    def registries(self) -> list[RegistryStatus]:
        """The registries behind `source` and their state; empty for a local store."""
        ...

    def may_filter_by_owner(self, owner_id: str) -> bool:
        """Whether this caller may list robots by their current owner's party identifier."""
        ...

    def may_filter_by_owner_name(self) -> bool:
        """Whether this caller may list robots by their current owner's name (no policies)."""
        ...

    async def still_authenticated(self) -> bool:
        """Whether the caller's credentials still hold (a long-lived subscription asks)."""
        ...

    def fleet_owner(self, owner_id: str | None) -> str | None:
        """Whose robots a change feed follows, by party identifier: `owner_id` if this
        caller may filter by it, else its own; None means every robot (a gateway without
        policies). Raises `field_denied("ownership.owner_id")` when neither is allowed."""
        ...

    def view(self, record: RobotRecord) -> Container[str]:
        """The canonical paths of this robot the caller may see: computed once per robot."""
        ...

    def export(self, record: RobotRecord, fmt: str) -> Any:
        """The robot in an export format (`canonical`, `cn-miit`, `aas`, `untp-dpp`, or a
        served mapping document's id), masked. Raises LookupError for an unknown format and
        ValueError when a mapping document fails on the masked passport."""
        ...

    def translate(self, document: Any, source: str, target: str) -> TranslationResult:
        """`document` from format `source` to `target`; raises `invalid_document` errors."""

    async def audit_trail(
        self, code: str, first: int, after: str | None
    ) -> Page[Disclosure] | None:
        """The robot's disclosures, oldest first; None for an unknown robot.

        Raises `TrailDenied` for a caller who may not read it, `TrailUnavailable`
        when no audit log is kept, `CursorError` for a cursor it did not issue.
        """
        ...

    async def condition_history(
        self, record: RobotRecord, since: datetime | None, until: datetime | None, last: int
    ) -> list[ConditionPoint]:
        """Recorded snapshots, raw samples and daily aggregates, oldest first."""
        ...

    async def write(self, code: str, type: EventType, body: Any, key: str) -> Appended:
        """Append typed payload `body`; raises a `schema.writes.WriteError` when refused."""
        ...

    async def offer_transfer(self, code: str, offer: TransferOffer, key: str) -> Appended: ...

    async def accept_transfer(self, code: str, at: datetime, key: str) -> Appended: ...

    async def ingest_conditions(
        self, samples: Sequence[tuple[str, ConditionSnapshot]], key: str
    ) -> list[Appended]:
        """A batch of samples of any robots: all stored or none, one event per robot."""
        ...
