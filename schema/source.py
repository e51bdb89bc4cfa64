"""What the GraphQL layer asks of whoever holds passports: a store, a federation.

The schema package defines the contract; the gateway implements it. Keeping
the contract here is what lets `schema` import nothing of ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from .events import ChainReport, Event, EventType
from .passport import Passport

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RobotFilter:
    """Equality filters; None means any."""

    manufacturer: str | None = None
    category: str | None = None
    status: str | None = None
    owner: str | None = None
    registry: str | None = None


@dataclass(frozen=True, slots=True)
class Head:
    """The version of a passport: the head of its hash chain."""

    sequence: int
    hash: str


@dataclass(frozen=True, slots=True)
class RobotRecord:
    """A passport with the version it was read at; `as_of` is set for past views."""

    passport: Passport
    head: Head
    as_of: datetime | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """Items with one opaque cursor each; resuming after a cursor never repeats an item."""

    items: list[T]
    cursors: list[str]
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None


@dataclass(frozen=True, slots=True)
class Change:
    """One event in a registry's change feed; `position` orders the whole registry."""

    position: int
    event: Event


@dataclass(frozen=True, slots=True)
class Link:
    """A robot registered in `home` that is now in this registry's jurisdiction."""

    code: str
    home: str
    since: datetime


class CursorError(ValueError):
    """A pagination cursor this API did not issue."""


class PassportSource(Protocol):
    """Read access to passports, as a registry store or a federation provides it."""

    async def robot(self, code: str, as_of: datetime | None = None) -> RobotRecord | None: ...

    async def robots(
        self, where: RobotFilter, first: int, after: str | None
    ) -> Page[RobotRecord]: ...

    async def count(self, where: RobotFilter) -> int: ...

    async def history(self, code: str, first: int, after: str | None) -> Page[Event]: ...

    async def integrity(self, code: str) -> ChainReport | None: ...

    async def changes(self, where: RobotFilter, first: int, after: str | None) -> Page[Change]:
        """Events after an opaque cursor, oldest first; a federation's cursor holds every
        registry's position."""
        ...


@runtime_checkable
class FeedHead(Protocol):
    """A source that can say where its change feed ends now, without reading it.

    Optional: without it, the GraphQL layer pages `changes` to the end.
    """

    async def changes_head(self, where: RobotFilter) -> str | None:
        """A cursor after which `changes` returns only changes made later; None: the start."""
        ...


@runtime_checkable
class RobotCodes(Protocol):
    """A source that can list robot codes without reading passports.

    Optional: without it, the GraphQL layer takes the codes from `robots` pages.
    """

    async def codes(self, where: RobotFilter, first: int, after: str | None) -> Page[str]:
        """Codes in the order and with the cursors of `robots`."""
        ...


class PassportWriter(Protocol):
    """Appends to passports, as a registry store or a federation provides it.

    The implementation raises the store's typed errors (unknown robot, event
    rejected, idempotency conflict) whichever registry answered.
    """

    async def append(
        self,
        code: str,
        type: EventType,
        payload: dict[str, Any],
        at: datetime,
        *,
        idempotency_key: str,
    ) -> Event: ...

    async def link(self, country: str, code: str, home: str, since: datetime) -> None:
        """Record in the registry serving `country` that robot `code` (home elsewhere) is there."""
        ...

    async def unlink(self, country: str, code: str) -> None: ...
