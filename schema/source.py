"""What the GraphQL layer asks of whoever holds passports: a store, a federation.

The schema package defines the contract; the gateway implements it. Keeping
the contract here is what lets `schema` import nothing of ours.

`PassportSource` and `PassportWriter` are what every source and writer has.
What only some have is a capability of its own, a runtime-checkable Protocol
below (`TelemetrySource`, `FeedHead`, `ConditionIngest`, ...): a caller asks
`isinstance(source, Capability)` and falls back when the answer is no, so an
optional method is declared once, with its signature, and never probed by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from .events import ChainReport, Event, EventType
from .passport import ConditionSnapshot, JointWear, Passport

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RobotFilter:
    """Equality filters; None means any."""

    manufacturer: str | None = None
    category: str | None = None
    status: str | None = None
    owner: str | None = None
    owner_id: str | None = None
    registry: str | None = None
    campaign: str | None = None
    """Robots a campaign reached, by id; the two below narrow them (set by the gateway
    from the caller's scope, never taken from the caller as they are)."""
    campaign_states: tuple[str, ...] = ()
    """Stored states (PENDING, REMEDIED, EXEMPTED: OVERDUE already resolved); () any."""
    campaign_countries: tuple[str, ...] = ()
    """Current owner's countries, as the campaign row holds them; () any."""


@dataclass(frozen=True, slots=True)
class Head:
    """The version of a passport: the head of its hash chain."""

    sequence: int
    hash: str


@dataclass(frozen=True, slots=True)
class RobotRecord:
    """A passport with the version it was read at; `as_of` is set for past views.

    A past view also carries `current`, the passport as it stands now: who the
    caller is to the robot (owner, operator, ...) is decided from it, so asking
    about a time a party owned the robot never makes it the owner again. A past
    view without it cannot be built.
    """

    passport: Passport
    head: Head
    as_of: datetime | None = None
    current: Passport | None = None

    def __post_init__(self) -> None:
        if self.as_of is not None and self.current is None:
            raise ValueError("a past view of a passport needs the passport as it stands now")

    @property
    def present(self) -> Passport:
        """The passport as it stands now, whatever moment `passport` shows."""
        return self.current if self.current is not None else self.passport


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """Items with one opaque cursor each; resuming after a cursor never repeats an item."""

    items: list[T]
    cursors: list[str]
    has_next_page: bool
    unavailable: tuple[RegistryUnavailable, ...] = ()
    """Registries whose part is missing from this page (a federation's partial answer)."""

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


@dataclass(frozen=True, slots=True)
class ConditionPoint:
    """One point of a robot's condition history.

    `resolution` is RAW for a sample as measured (the summary fields repeat
    its values) and DAILY for the aggregate of a UTC day whose samples were
    rolled up: `at` is then the day's last sample and the scalar fields are its
    values, beside the day's minimum, mean and maximum.
    """

    at: datetime
    operating_hours: float
    battery_health_pct: float
    charge_cycles: int
    movement_precision_mm: float
    abnormal_stress_events: int
    joint_wear: list[JointWear]
    resolution: str = "RAW"
    samples: int = 1
    battery_health_pct_min: float | None = None
    battery_health_pct_mean: float | None = None
    battery_health_pct_max: float | None = None
    movement_precision_mm_mean: float | None = None
    movement_precision_mm_max: float | None = None


@dataclass(frozen=True, slots=True)
class Appended:
    """An event a write produced; `replayed` when the idempotency key had stored it before."""

    event: Event
    replayed: bool


class CursorError(ValueError):
    """A pagination cursor this API did not issue."""


class RegistryUnavailable(Exception):
    """A registry node did not answer in time, failed, or its breaker is open.

    The rest of a request goes on: the GraphQL layer reports this part as
    REGISTRY_UNAVAILABLE naming `registry`. `reason` says what kind of failure
    it was, never where the node is or what credentials it was called with.
    """

    def __init__(self, registry: str, reason: str) -> None:
        super().__init__(f"registry {registry} is unavailable: {reason}")
        self.registry = registry
        self.reason = reason


class RegistryUntrusted(RegistryUnavailable):
    """A registry's transparency log shows a fork or a rewrite: nothing of it is served.

    `reason` is the evidence: which checkpoint, proof or cosignature failed.
    """

    def __init__(self, registry: str, evidence: str) -> None:
        Exception.__init__(self, f"registry {registry} is untrusted: {evidence}")
        self.registry = registry
        self.reason = evidence


class NotServed(LookupError):
    """A robot code whose country prefix no configured registry serves."""

    def __init__(self, code: str) -> None:
        super().__init__(f"No robot {code}: no registry of this gateway serves country {code[:2]}")
        self.code = code


@dataclass(frozen=True, slots=True)
class RegistryStatus:
    """What a gateway knows of one registry it federates: no address, no secret."""

    id: str
    format: str
    countries: tuple[str, ...]
    jurisdictions: tuple[str, ...]
    breaker: str
    """closed, open or half_open."""
    last_error: str | None = None
    last_error_at: datetime | None = None
    untrusted: str | None = None
    """The evidence that the registry's log forked or was rewritten; None while it is not."""
    checkpoint: int | None = None
    """The size of the newest checkpoint of its log the gateway verified, if it checks one."""


@runtime_checkable
class RegistryDirectory(Protocol):
    """A source made of registries reports on each (a federation does; a local store not).

    Optional: without it, `registries` and /metrics list no registry.
    """

    def registries(self) -> list[RegistryStatus]: ...


@dataclass(frozen=True, slots=True)
class LogInclusion:
    """Where a passport version was proven to be: a checkpoint of its registry's log."""

    origin: str
    """The transparency log's name (its checkpoints' origin line)."""
    checkpoint: int
    """The size of the verified checkpoint the inclusion proof was checked against."""
    witnesses: tuple[str, ...]
    """The witnesses whose cosignatures that checkpoint carried, by key name."""


@runtime_checkable
class LoggedSource(Protocol):
    """A source that proves versions in their registries' transparency logs says where.

    Optional: without it (a local store, a registry without a log key) the report
    says nothing of a log.
    """

    def log_inclusion(self, code: str, head: Head) -> LogInclusion | None: ...


class PassportSource(Protocol):
    """Read access to passports, as a registry store or a federation provides it."""

    async def robot(self, code: str, as_of: datetime | None = None) -> RobotRecord | None: ...

    async def robots(
        self, where: RobotFilter, first: int, after: str | None
    ) -> Page[RobotRecord]: ...

    async def count(self, where: RobotFilter) -> int: ...

    async def history(
        self, code: str, first: int, after: str | None, until: datetime | None = None
    ) -> Page[Event]:
        """A page of the log in sequence order; with `until`, only events at or before it
        (the events whose fold is the passport as of `until`)."""
        ...

    async def integrity(self, code: str, through: int | None = None) -> ChainReport | None:
        """The hash chain re-computed; with `through`, only up to that sequence (a past
        view's version), as if the log ended there."""
        ...

    async def changes(self, where: RobotFilter, first: int, after: str | None) -> Page[Change]:
        """Events after an opaque cursor, oldest first; a federation's cursor holds every
        registry's position."""
        ...


@runtime_checkable
class TelemetrySource(Protocol):
    """A source that keeps condition samples beside the log (a registry store does)."""

    async def condition_history(
        self, code: str, since: datetime | None, until: datetime | None, last: int
    ) -> list[ConditionPoint] | None:
        """The newest `last` points in the window, oldest first; None for an unknown robot.

        Includes the passport's recorded snapshots, raw samples and daily aggregates.
        """
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
class FeedSignal(Protocol):
    """A source that can say when its change feed may have moved, instead of being polled.

    Optional: without it, a subscription polls `changes` at its interval. A
    waiter takes a mark before it reads the feed and waits on that mark, so a
    change committed between its read and its wait still wakes it.
    """

    def feed_mark(self) -> object:
        """A mark of now, to take before reading the feed."""
        ...

    async def feed_wait(self, mark: object, timeout: float) -> bool:
        """Wait until the feed may have moved since `mark`, at most `timeout` seconds.

        True: read the feed again. False: nothing moved (the source is sure of it).
        """
        ...


class FeedFollower(Protocol):
    """One waiter's position in a feed whose reads are shared (`SharedFeed`)."""

    async def next(self, first: int, woken: object | None) -> Page[Change]:
        """What `changes(where, first, after)` answers now, `after` being the end of the
        last page this follower gave (or where it started). `woken` is the `FeedSignal`
        mark whose move woke the waiter, so a read begun since can serve it; None: read."""
        ...


@runtime_checkable
class SharedFeed(Protocol):
    """A source whose waiters on the feed share one read per move (a local store's tail).

    Optional: without it, each waiter reads `changes` on its own.
    """

    def follow_changes(self, where: RobotFilter, after: str | None) -> FeedFollower: ...


@runtime_checkable
class RobotCodes(Protocol):
    """A source that can list robot codes without reading passports.

    Optional: without it, the GraphQL layer takes the codes from `robots` pages.
    """

    async def codes(self, where: RobotFilter, first: int, after: str | None) -> Page[str]:
        """Codes in the order and with the cursors of `robots`."""
        ...


@runtime_checkable
class RequestScoped(Protocol):
    """A source that has a narrower form for one request (a federation batches that
    request's robot reads into one call per registry).

    Optional: without it, a request uses the source as it is.
    """

    def request_scope(self) -> PassportSource:
        """This source for one request; dropped when the request ends."""
        ...


@runtime_checkable
class ReadHeads(Protocol):
    """A request's source that notes the version of each current robot it read.

    Optional: the response cache keeps an answer only when it knows what it read.
    """

    heads: Mapping[str, str]
    """The head hash of each current robot read so far, by code."""


@runtime_checkable
class Vouching(Protocol):
    """A source that knows some robots' current version without asking their registry
    (a federation whose change-feed followers vouch for its cache).

    Optional: the gateway's response cache is kept only over a source that has it.
    """

    def vouched(self, code: str) -> tuple[Head, Passport] | None:
        """The current version of `code`, known without asking its node, or None."""
        ...


@runtime_checkable
class FeedFollowing(Protocol):
    """A source that follows change feeds in the background (a federation's followers).

    Optional: the application stops them when it shuts down.
    """

    async def stop_following(self) -> None:
        """Stop the followers; they start again on the next read."""
        ...


class CacheCounts(Protocol):
    """A cache that counts its hits and misses."""

    hits: int
    misses: int


@runtime_checkable
class DecodedCache(Protocol):
    """A source that keeps decoded passports in a cache (a local store does).

    Optional: /metrics reports the cache's hits and misses when there is one.
    """

    decoded: CacheCounts


class PassportWriter(Protocol):
    """Appends to passports, as a registry store or a federation provides it.

    The implementation raises the store's typed errors (unknown robot, event
    rejected, idempotency conflict) whichever registry answered. Events are
    canonical: a registry that keeps another format translates at its node.

    A writer may also have, and the gateway uses when it does, the capabilities
    `IdempotencyLookup`, `PendingOffers` and `ConditionIngest` below;
    `gateway.service.local.LocalSource` has all three.
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


@runtime_checkable
class IdempotencyLookup(Protocol):
    """A writer that can say what an idempotency key stored, before appending.

    Optional: with it a retry is answered before any rule runs; without it the
    append itself tells a replay from a first write.
    """

    async def earlier(self, idempotency_key: str) -> Event | None:
        """The event the key stored, or None."""
        ...


@runtime_checkable
class PendingOffers(Protocol):
    """A writer that can find a robot's open transfer offer without reading its log.

    Optional: without it the log is read from the start.
    """

    async def pending_offer(self, code: str) -> Event | None:
        """The newest TRANSFER_OFFERED not yet followed by a transfer, if any."""
        ...


@runtime_checkable
class ConditionIngest(Protocol):
    """A writer that takes batches of condition samples (telemetry).

    Optional: without it `recordConditions` answers WRITES_UNAVAILABLE.
    """

    async def ingest_conditions(
        self,
        batches: Mapping[str, Sequence[ConditionSnapshot]],
        *,
        idempotency_key: str,
        positions: Mapping[str, Sequence[int]] | None = None,
    ) -> dict[str, Appended]:
        """Each robot's samples stored and chained as one event, the whole batch or none;
        `positions` gives each robot's samples' places in the request, for error fields."""
        ...
