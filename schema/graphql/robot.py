"""The `Robot` type: a passport as the caller may see it, plus its history and integrity."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Container
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, NewType, TypeAlias

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from ..code import RobotCode, RobotCodeError
from ..events import DISCLOSES, ChainReport, Event, EventType
from ..fields import field_classes
from ..passport import ConditionSnapshot, Passport
from ..source import RobotRecord
from .compliance import RobotCampaign, robot_campaigns
from .formats import PassportFormat
from .objects import Node, field_denied, first_hidden, graphql_enum, object_type
from .pages import PageInfo, check_first, edges, page_info, read_page

graphql_enum(EventType)


def bad_robot_code(error: RobotCodeError) -> GraphQLError:
    return GraphQLError(
        f"Invalid robot code: {error}",
        extensions={"code": "BAD_ROBOT_CODE", "rule": error.rule, "position": error.position},
    )


def parse_robot_code(value: Any) -> str:
    """A code a caller sent, in canonical form; BAD_ROBOT_CODE naming the rule it breaks."""
    if not isinstance(value, str):
        raise GraphQLError(
            "Invalid robot code: expected a string",
            extensions={"code": "BAD_ROBOT_CODE", "rule": "type", "position": None},
        )
    try:
        return RobotCode.parse(value).value
    except RobotCodeError as exc:
        raise bad_robot_code(exc) from None


RobotCodeScalar = NewType("RobotCodeScalar", str)

ROBOT_CODE = strawberry.scalar(
    name="RobotCode",
    description=(
        "A 29-character robot code in the RPC-29 profile. Case is folded and spaces or"
        " hyphens between groups are ignored; a code that breaks a rule is rejected with"
        " `extensions.code` BAD_ROBOT_CODE and the rule."
    ),
    serialize=str,
    parse_value=parse_robot_code,
)


@dataclasses.dataclass(slots=True)
class RobotNode(Node):
    """A robot's root: the passport, its mask, and the record it was read from."""

    record: RobotRecord


@strawberry.type(description="One segment of a decoded robot code.")
class CodeSegment:
    name: str = strawberry.field(description="Segment name, e.g. manufacturer.")
    value: str = strawberry.field(description="The characters of the segment.")


@strawberry.type(description="Whether a hash chain re-computes, and its head.")
class Integrity:
    verified: bool = strawberry.field(description="True when every stored event re-hashes.")
    length: int = strawberry.field(description="Events checked.")
    head_hash: str = strawberry.field(description="SHA-256 of the last intact event.")
    first_bad_sequence: int | None = strawberry.field(
        description="First sequence number that does not verify, if any."
    )
    reason: str | None = strawberry.field(description="Why that event does not verify.")

    @classmethod
    def of(cls, report: ChainReport) -> Integrity:
        return cls(
            verified=report.verified,
            length=report.length,
            head_hash=report.head_hash,
            first_bad_sequence=report.first_bad,
            reason=report.reason,
        )


HIDDEN_EVENT = "history.event"
"""The `field` of every hidden event's error, whatever its type."""


@strawberry.type(
    description=(
        "One entry of a robot's hash-chained event log. Under scheme 2 the hash covers"
        " (scheme, code, sequence, commitment, prevHash), so every link verifies from what"
        " is always shown; the commitment covers the salt, time, type and payload, and the"
        " salt is shown only to a caller who may see the payload."
    )
)
class HistoryEvent:
    sequence: int = strawberry.field(description="Position in the robot's log, from 1.")
    hash: str = strawberry.field(
        description=(
            "SHA-256 chaining this event to the previous one: scheme 2 over"
            " {scheme, code, sequence, commitment, prev}; scheme 1 (legacy) over the content."
        )
    )
    prev_hash: str = strawberry.field(description="Hash of the previous event.")
    scheme: int = strawberry.field(
        description="Hash scheme: 2 (salted commitment) or 1 (legacy, before migration)."
    )
    commitment: str | None = strawberry.field(
        description=(
            "Scheme 2: SHA-256(salt || canonical JSON of {at, type, payload}); null for scheme 1."
        )
    )
    _event: strawberry.Private[Event]
    _mask: strawberry.Private[Container[str]]

    def _visible(self) -> Event:
        """The event, or one error for any hidden event: naming the first hidden path
        (`maintenance`, `incidents`...) would tell the type the event hides. The audit
        view still records the real paths withheld."""
        if first_hidden(self._mask, _disclosed(self._event.type)) is not None:
            raise field_denied(HIDDEN_EVENT)
        return self._event

    @strawberry.field(description="When it happened (UTC).")
    def at(self) -> datetime | None:
        return self._visible().at

    @strawberry.field(description="What happened.")
    def type(self) -> EventType | None:
        return self._visible().type

    @strawberry.field(description="The event's content in canonical plain form.")
    def payload(self) -> JSON | None:
        return JSON(self._visible().payload)

    @strawberry.field(
        description=(
            "Scheme 2: the 128-bit secret (32 hex digits) the commitment is salted with;"
            " shown exactly when the payload is. Null for scheme 1."
        )
    )
    def salt(self) -> str | None:
        return self._visible().salt

    @classmethod
    def of(cls, event: Event, mask: Container[str]) -> HistoryEvent:
        return cls(
            sequence=event.sequence,
            hash=event.hash,
            prev_hash=event.prev_hash,
            scheme=event.scheme,
            commitment=event.commitment,
            _event=event,
            _mask=mask,
        )


@cache
def _disclosed(event_type: EventType) -> tuple[str, ...]:
    """Every canonical path an event of this type may carry in its payload."""
    return tuple(
        p
        for prefix in DISCLOSES[event_type]
        for p in field_classes()
        if p == prefix or p.startswith(prefix + ".")
    )


@strawberry.type(description="An event with its cursor.")
class HistoryEdge:
    cursor: str = strawberry.field(description="Opaque position of this event.")
    node: HistoryEvent = strawberry.field(description="The event.")


@strawberry.type(description="A page of a robot's event log, oldest first.")
class HistoryConnection:
    edges: list[HistoryEdge] = strawberry.field(description="The events of this page.")
    page_info: PageInfo = strawberry.field(description="Where the page ends.")


HISTORY_PAGE = 100
CONDITION_WINDOW = 1000

if TYPE_CHECKING:
    # Built at import from the dataclasses (`object_type`): no static type describes them.
    _Condition: TypeAlias = Any
    _PassportFields: TypeAlias = Any
else:
    _Condition = object_type(ConditionSnapshot, "conditions.")
    _PassportFields = object_type(Passport, "", "PassportFields", ("conditions",))


@strawberry.enum(description="Whether a point of condition history is one sample or a day.")
class ConditionResolution(enum.Enum):
    RAW = "RAW"
    DAILY = "DAILY"


def _summary(root: Node, name: str) -> Any:
    if "conditions" not in root.mask:
        raise field_denied("conditions")
    return getattr(root.obj, name)


@strawberry.type(
    description=(
        "A point of condition history: a sample as measured (RAW) or, for days older than"
        " the registry's retention, the aggregate of a UTC day (DAILY): its last sample's"
        " values with the day's minimum, mean and maximum."
    )
)
class ConditionHistoryPoint(_Condition):
    @strawberry.field(description="RAW for one sample, DAILY for a day's aggregate.")
    def resolution(self, root: strawberry.Parent[Node]) -> ConditionResolution | None:
        return ConditionResolution(_summary(root, "resolution"))

    @strawberry.field(description="Samples this point stands for.")
    def samples(self, root: strawberry.Parent[Node]) -> int | None:
        return _summary(root, "samples")

    @strawberry.field(description="Lowest battery health of the day (percent).")
    def battery_health_pct_min(self, root: strawberry.Parent[Node]) -> float | None:
        return _summary(root, "battery_health_pct_min")

    @strawberry.field(description="Mean battery health of the day (percent).")
    def battery_health_pct_mean(self, root: strawberry.Parent[Node]) -> float | None:
        return _summary(root, "battery_health_pct_mean")

    @strawberry.field(description="Highest battery health of the day (percent).")
    def battery_health_pct_max(self, root: strawberry.Parent[Node]) -> float | None:
        return _summary(root, "battery_health_pct_max")

    @strawberry.field(description="Mean movement precision of the day (mm).")
    def movement_precision_mm_mean(self, root: strawberry.Parent[Node]) -> float | None:
        return _summary(root, "movement_precision_mm_mean")

    @strawberry.field(description="Worst movement precision of the day (mm).")
    def movement_precision_mm_max(self, root: strawberry.Parent[Node]) -> float | None:
        return _summary(root, "movement_precision_mm_max")


VERSION = "Sequence number of the newest event: the passport version."
AS_OF = "For a view in the past, the moment it shows."
LATEST_CONDITION = "The latest condition snapshot."


def robot_code(root: strawberry.Parent[RobotNode]) -> RobotCodeScalar:
    return RobotCodeScalar(root.record.passport.identity.code)


def robot_version(root: strawberry.Parent[RobotNode]) -> int:
    return root.record.head.sequence


def robot_as_of(root: strawberry.Parent[RobotNode]) -> datetime | None:
    return root.record.as_of


def latest_condition(root: strawberry.Parent[RobotNode]) -> Node | None:
    """The newest condition snapshot, when the caller may see conditions (a schema's
    own condition type is given as the field's `graphql_type`)."""
    latest = root.record.passport.condition
    if latest is None:
        return None
    if "conditions" not in root.mask:
        raise field_denied("conditions")
    return Node(latest, root.mask)


def robot_not_found(code: str, detail: str = "") -> GraphQLError:
    """NOT_FOUND for a robot code, `detail` saying in what sense (" at that time")."""
    return GraphQLError(f"No robot {code}{detail}", extensions={"code": "NOT_FOUND"})


@strawberry.type(description="A robot's passport as the caller may see it.")
class Robot(_PassportFields):
    code = strawberry.field(
        resolver=robot_code,
        description="The robot code, always visible: it is the key asked for.",
    )

    @strawberry.field(description="The code decoded into its segments.")
    def code_segments(self, root: strawberry.Parent[RobotNode]) -> list[CodeSegment]:
        code = RobotCode.parse(root.record.passport.identity.code)
        return [CodeSegment(name=k, value=v) for k, v in code.segments().items()]

    version = strawberry.field(resolver=robot_version, description=VERSION)
    as_of = strawberry.field(resolver=robot_as_of, description=AS_OF)
    condition = strawberry.field(
        resolver=latest_condition, graphql_type=_Condition | None, description=LATEST_CONDITION
    )

    @strawberry.field(
        description=(
            "Condition history, oldest first, within a time window: the newest `last` points."
            " Recent telemetry comes as raw samples, older days as daily aggregates."
        )
    )
    async def condition_history(
        self,
        root: strawberry.Parent[RobotNode],
        info: strawberry.Info,
        since: datetime | None = None,
        until: datetime | None = None,
        last: int = 100,
    ) -> list[ConditionHistoryPoint] | None:
        check_first(last, CONDITION_WINDOW)
        if "conditions" not in root.mask:
            raise field_denied("conditions")
        if root.record.as_of is not None:
            until = root.record.as_of if until is None else min(until, root.record.as_of)
        points = await info.context.condition_history(root.record, since, until, last)
        return [Node(p, root.mask) for p in points]  # type: ignore[misc]  # a root for ConditionHistoryPoint's resolvers

    @strawberry.field(
        description=(
            "The recalls, mandated updates and end-of-life obligations that reached the robot,"
            " with its state under each, now (also in a view with `asOf`)."
        )
    )
    async def campaigns(
        self, root: strawberry.Parent[RobotNode], info: strawberry.Info
    ) -> list[RobotCampaign]:
        if "compliance.recalls" not in root.mask:
            raise field_denied("compliance.recalls")
        code = root.record.passport.identity.code
        return await robot_campaigns(info.context, code, "ownership.owner" in root.mask)

    @strawberry.field(
        description=(
            "The robot's event log, oldest first (Relay pagination). In a view with `asOf`,"
            " only the events at or before that moment: those the passport shown is made of."
        )
    )
    async def history(
        self,
        root: strawberry.Parent[RobotNode],
        info: strawberry.Info,
        first: int = 20,
        after: str | None = None,
    ) -> HistoryConnection:
        check_first(first, HISTORY_PAGE)
        page = await read_page(
            info.context.source.history(
                root.record.passport.identity.code, first, after, root.record.as_of
            )
        )
        return HistoryConnection(
            edges=edges(page, HistoryEdge, lambda e: HistoryEvent.of(e, root.mask)),
            page_info=page_info(page),
        )

    @strawberry.field(
        description=(
            "The passport as a document in another format, without any field this caller"
            " may not see; a redacted document is partial and says nothing of what it lacks."
        )
    )
    def export(
        self,
        root: strawberry.Parent[RobotNode],
        info: strawberry.Info,
        format: PassportFormat | None = None,
        mapping: Annotated[
            str | None,
            strawberry.argument(
                description="The id of a mapping document this gateway serves, instead of a"
                " built-in format; it runs on the passport as this caller may see it."
            ),
        ] = None,
    ) -> JSON:
        if (format is None) == (mapping is None):
            raise GraphQLError(
                "give exactly one of format and mapping", extensions={"code": "BAD_USER_INPUT"}
            )
        fmt = format.value if format is not None else mapping
        assert fmt is not None
        try:
            return info.context.export(root.record, fmt)
        except LookupError as exc:
            raise GraphQLError(str(exc), extensions={"code": "BAD_USER_INPUT"}) from None
        except ValueError as exc:
            raise GraphQLError(str(exc), extensions={"code": "EXPORT_FAILED"}) from None

    @strawberry.field(
        description=(
            "Re-computes the robot's hash chain now; in a view with `asOf`, up to the version"
            " shown only."
        )
    )
    async def integrity(
        self, root: strawberry.Parent[RobotNode], info: strawberry.Info
    ) -> Integrity:
        record = root.record
        through = record.head.sequence if record.as_of is not None else None
        report = await info.context.source.integrity(record.passport.identity.code, through)
        return Integrity.of(report)


def robot_node(record: RobotRecord, mask: Container[str]) -> RobotNode:
    return RobotNode(record.passport, mask, record)
