"""The mutation root: writes to a robot's log, each keyed by an idempotency key.

Resolvers only turn inputs into the canonical payloads of `schema.events`;
the request context decides who may write and appends
(`PassportContext.write` and friends), so this module imports nothing
outside `schema`. A refusal is an error with `extensions.code` (FORBIDDEN,
EVENT_REJECTED, IDEMPOTENCY_CONFLICT, NOT_FOUND, WRITES_UNAVAILABLE) and, for
a value that broke a rule, `rule` and `field`.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from ..events import DeploymentEnd, EventType, SoftwareUpdate, TransferOffer
from ..passport import (
    AiModel,
    ConditionSnapshot,
    Deployment,
    EndOfLife,
    Incident,
    IncidentCategory,
    IncidentStatus,
    JointWear,
    MaintenanceKind,
    MaintenanceRecord,
    OwnerKind,
    RobotStatus,
    RootCause,
    Scenario,
    Severity,
    Software,
)
from ..source import Appended
from ..writes import WriteError, WriteRejected
from .credentials import CredentialMutation
from .objects import graphql_enum
from .robot import RobotCodeScalar

for _enum in (
    MaintenanceKind,
    Severity,
    IncidentCategory,
    RootCause,
    Scenario,
    OwnerKind,
    RobotStatus,
):
    graphql_enum(_enum)

KEY = "A key you choose per request (1-200 characters); a retry with it writes nothing twice."
IdempotencyKey = Annotated[str, strawberry.argument(description=KEY)]


@strawberry.type(description="The event a write appended (or, for a retry, had appended).")
class WriteResult:
    code: RobotCodeScalar = strawberry.field(description="The robot written to.")
    sequence: int = strawberry.field(description="The event's position in the robot's log.")
    hash: str = strawberry.field(description="SHA-256 of the event, chained to the previous.")
    prev_hash: str = strawberry.field(description="Hash of the previous event.")
    type: EventType = strawberry.field(description="What the event records.")
    at: datetime = strawberry.field(description="When it happened (UTC).")
    payload: JSON = strawberry.field(description="The event's canonical content, as hashed.")
    scheme: int = strawberry.field(description="Hash scheme of the event (2: salted).")
    commitment: str | None = strawberry.field(
        description="SHA-256(salt || canonical {at, type, payload}); null for scheme 1."
    )
    salt: str | None = strawberry.field(
        description="The commitment's salt: the writer may see its own payload, so its salt too."
    )
    replayed: bool = strawberry.field(
        description="True when this key had written the event before: nothing was written now."
    )

    @classmethod
    def of(cls, appended: Appended) -> WriteResult:
        e = appended.event
        return cls(
            code=RobotCodeScalar(e.code),
            sequence=e.sequence,
            hash=e.hash,
            prev_hash=e.prev_hash,
            type=e.type,
            at=e.at,
            payload=JSON(e.payload),
            scheme=e.scheme,
            commitment=e.commitment,
            salt=e.salt,
            replayed=appended.replayed,
        )


@strawberry.type(description="A telemetry batch: one chained event per robot in it.")
class IngestResult:
    samples: int = strawberry.field(description="Samples in the batch.")
    replayed: bool = strawberry.field(description="True when the key had stored this batch.")
    events: list[WriteResult] = strawberry.field(description="One event per robot, in order.")


@strawberry.input(description="One maintenance intervention.")
class MaintenanceInput:
    at: datetime = strawberry.field(description="When the work was done (with a UTC offset).")
    kind: MaintenanceKind = strawberry.field(description="Kind of maintenance.")
    component: str = strawberry.field(description="Component worked on.")
    performed_by: str = strawberry.field(description="Service provider that did the work.")
    hours_at_service: float = strawberry.field(description="Total operating hours, >= 0.")
    part_number: str | None = strawberry.field(default=None, description="Part fitted.")
    notes: str | None = strawberry.field(default=None, description="Technician's notes.")


@strawberry.input(description="A safety or security incident; the registry assigns its id.")
class IncidentInput:
    at: datetime = strawberry.field(description="When it happened.")
    severity: Severity = strawberry.field(description="Severity.")
    category: IncidentCategory = strawberry.field(description="What kind of incident.")
    description: str = strawberry.field(description="What happened.")
    root_cause: RootCause = strawberry.field(
        default=RootCause.UNKNOWN, description="Root cause, UNKNOWN until established."
    )
    reported_to: str | None = strawberry.field(default=None, description="Authority told.")


@strawberry.input(description="Wear of one joint.")
class JointWearInput:
    joint: str = strawberry.field(description="Joint name.")
    wear_pct: float = strawberry.field(description="Wear, 0 new to 100 worn out.")


@strawberry.input(description="One condition measurement of the robot.")
class ConditionInput:
    at: datetime = strawberry.field(description="When it was measured; after the last one.")
    operating_hours: float = strawberry.field(description="Total hours; never decreases.")
    battery_health_pct: float = strawberry.field(description="Battery health, 0-100.")
    charge_cycles: int = strawberry.field(description="Charge cycles so far; never decreases.")
    movement_precision_mm: float = strawberry.field(description="Repeatability in mm, >= 0.")
    abnormal_stress_events: int = strawberry.field(description="Count so far; never decreases.")
    joint_wear: list[JointWearInput] = strawberry.field(
        default_factory=list, description="Wear per joint."
    )


@strawberry.input(description="A condition sample of one robot, for `recordConditions`.")
class ConditionSampleInput(ConditionInput):
    code: RobotCodeScalar = strawberry.field(description="The robot measured.")


def _sample_from_input(cls: type, value: Any, context: Any) -> tuple[str, ConditionSnapshot]:
    """A batch sample straight from graphql-core's coerced value: (code, snapshot).

    Strawberry's generic conversion of input objects was four fifths of a
    batch's cost; graphql-core has already checked every type and required
    field by now, so this only builds the snapshot.
    """
    at = value["at"]
    if at.tzinfo is None:
        index = context.path[-1] if context.path else 0
        raise _error(WriteRejected("time.offset", f"samples[{index}].at", "needs a UTC offset"))
    return value["code"], ConditionSnapshot(
        at,
        float(value["operatingHours"]),
        float(value["batteryHealthPct"]),
        value["chargeCycles"],
        float(value["movementPrecisionMm"]),
        value["abnormalStressEvents"],
        [JointWear(w["joint"], float(w["wearPct"])) for w in value.get("jointWear") or ()],
    )


ConditionSampleInput.__strawberry_definition__.from_input = _sample_from_input  # type: ignore[attr-defined]  # added by @strawberry.input


@strawberry.enum(description="Whether a deployment begins or ends.")
class DeploymentPhase(enum.Enum):
    START = strawberry.enum_value("START", description="A deployment begins.")
    END = strawberry.enum_value("END", description="The open deployment ends.")


@strawberry.input(
    description=(
        "A deployment starting (at, scenario, region, operator) or the open one ending"
        " (at, operatingHours)."
    )
)
class DeploymentInput:
    phase: DeploymentPhase = strawberry.field(description="START or END.")
    at: datetime = strawberry.field(description="When it starts or ends.")
    scenario: Scenario | None = strawberry.field(default=None, description="For START.")
    region: str | None = strawberry.field(default=None, description="For START: where.")
    operator: str | None = strawberry.field(
        default=None, description="For START: who, by name (shown, never matched)."
    )
    operator_id: str | None = strawberry.field(
        default=None,
        description=(
            "For START: the operator's party identifier (uscc:, lei:, reg:CC: or person:);"
            " the operator's tokens are matched on it. Without it no one is this"
            " deployment's operator."
        ),
    )
    operating_hours: float | None = strawberry.field(
        default=None, description="For END: hours operated during the deployment."
    )


@strawberry.input(description="An embedded AI model.")
class AiModelInput:
    name: str = strawberry.field(description="Name of the model.")
    version: str = strawberry.field(description="Version of the model.")
    provider: str = strawberry.field(description="Who supplies it.")
    purpose: str = strawberry.field(description="What it does on the robot.")


@strawberry.input(description="The software now on board, replacing the previous as a whole.")
class SoftwareInput:
    at: datetime = strawberry.field(description="When it was installed.")
    firmware_version: str = strawberry.field(description="Firmware version.")
    operating_system: str = strawberry.field(description="Operating system and version.")
    ai_models: list[AiModelInput] = strawberry.field(
        default_factory=list, description="Embedded AI models."
    )


@strawberry.input(description="The robot leaving service.")
class DecommissionInput:
    at: datetime = strawberry.field(description="When it left service.")
    disposition: RobotStatus = strawberry.field(description="DECOMMISSIONED or SCRAPPED.")
    facility: str | None = strawberry.field(default=None, description="Where it went.")


@strawberry.input(description="The current owner's offer of the robot to a new owner.")
class TransferInput:
    at: datetime = strawberry.field(description="When the offer is made.")
    new_owner: str = strawberry.field(description="The new owner's name (shown, never matched).")
    new_owner_id: str = strawberry.field(
        description=(
            "The new owner's party identifier (uscc:, lei:, reg:CC: or person:): only a token"
            " carrying exactly this identifier may accept the offer."
        )
    )
    owner_kind: OwnerKind = strawberry.field(description="Organisation or natural person.")
    jurisdiction: str = strawberry.field(description="The new owner's country, ISO alpha-2.")


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise _error(WriteRejected("time.offset", field, "the time needs a UTC offset"))
    return value


def _error(exc: WriteError) -> GraphQLError:
    extensions: dict[str, Any] = {"code": exc.code}
    if exc.rule:
        extensions["rule"] = exc.rule
    if exc.field:
        extensions["field"] = exc.field
    return GraphQLError(str(exc), extensions=extensions)


async def _result(pending: Awaitable[Appended]) -> WriteResult:
    try:
        return WriteResult.of(await pending)
    except WriteError as exc:
        raise _error(exc) from None


def _snapshot(c: ConditionInput, prefix: str = "") -> ConditionSnapshot:
    return ConditionSnapshot(
        at=_aware(c.at, prefix + "at"),
        operating_hours=float(c.operating_hours),
        battery_health_pct=float(c.battery_health_pct),
        charge_cycles=c.charge_cycles,
        movement_precision_mm=float(c.movement_precision_mm),
        abnormal_stress_events=c.abnormal_stress_events,
        joint_wear=[JointWear(w.joint, float(w.wear_pct)) for w in c.joint_wear],
    )


def _deployment(d: DeploymentInput) -> tuple[EventType, Any]:
    at = _aware(d.at, "at")
    if d.phase is DeploymentPhase.END:
        if d.operating_hours is None:
            raise _error(WriteRejected("required", "operatingHours", "END needs operatingHours"))
        return EventType.DEPLOYMENT_ENDED, DeploymentEnd(at, float(d.operating_hours))
    for name, value in (("scenario", d.scenario), ("region", d.region), ("operator", d.operator)):
        if value is None:
            raise _error(WriteRejected("required", name, f"START needs {name}"))
    body = Deployment(
        at,
        None,
        d.scenario,  # type: ignore[arg-type]  # none of the three is None: checked above
        d.region,  # type: ignore[arg-type]  # as above
        d.operator,  # type: ignore[arg-type]  # as above
        0.0,
        d.operator_id,
    )
    return EventType.DEPLOYMENT_STARTED, body


@strawberry.type(description="Writes to robot passports; each appends one event to a hash chain.")
class Mutation(CredentialMutation):
    @strawberry.mutation(description="Record a maintenance intervention (service providers).")
    async def record_maintenance(
        self,
        info: strawberry.Info,
        code: RobotCodeScalar,
        input: MaintenanceInput,
        idempotency_key: IdempotencyKey,
    ) -> WriteResult:
        body = MaintenanceRecord(
            _aware(input.at, "at"), input.kind, input.component, input.part_number,
            input.performed_by, float(input.hours_at_service), input.notes,
        )  # fmt: skip
        return await _result(
            info.context.write(code, EventType.MAINTENANCE_RECORDED, body, idempotency_key)
        )

    @strawberry.mutation(description="Report an incident (owner, operator, regulator).")
    async def report_incident(
        self,
        info: strawberry.Info,
        code: RobotCodeScalar,
        input: IncidentInput,
        idempotency_key: IdempotencyKey,
    ) -> WriteResult:
        body = Incident(
            "", _aware(input.at, "at"), input.severity, input.category, input.root_cause,
            input.description, input.reported_to, IncidentStatus.OPEN, None,
        )  # fmt: skip
        return await _result(
            info.context.write(code, EventType.INCIDENT_REPORTED, body, idempotency_key)
        )

    @strawberry.mutation(description="Record one condition measurement (operator, owner).")
    async def record_condition(
        self,
        info: strawberry.Info,
        code: RobotCodeScalar,
        input: ConditionInput,
        idempotency_key: IdempotencyKey,
    ) -> WriteResult:
        body = _snapshot(input)
        return await _result(
            info.context.write(code, EventType.CONDITION_RECORDED, body, idempotency_key)
        )

    @strawberry.mutation(
        description=(
            "Record many condition samples of any robots at once: kept in the telemetry"
            " table, one chained event per robot carrying the samples' digest. All or none."
        )
    )
    async def record_conditions(
        self,
        info: strawberry.Info,
        samples: list[ConditionSampleInput],
        idempotency_key: IdempotencyKey,
    ) -> IngestResult:
        batch: list[tuple[str, ConditionSnapshot]] = samples  # type: ignore[assignment]  # made by from_input
        try:
            done = await info.context.ingest_conditions(batch, idempotency_key)
        except WriteError as exc:
            raise _error(exc) from None
        return IngestResult(
            samples=len(batch),
            replayed=all(a.replayed for a in done),
            events=[WriteResult.of(a) for a in done],
        )

    @strawberry.mutation(description="Start a deployment (owner) or end the open one.")
    async def record_deployment(
        self,
        info: strawberry.Info,
        code: RobotCodeScalar,
        input: DeploymentInput,
        idempotency_key: IdempotencyKey,
    ) -> WriteResult:
        type, body = _deployment(input)
        return await _result(info.context.write(code, type, body, idempotency_key))

    @strawberry.mutation(description="Replace the software on board (the manufacturer).")
    async def update_software(
        self,
        info: strawberry.Info,
        code: RobotCodeScalar,
        input: SoftwareInput,
        idempotency_key: IdempotencyKey,
    ) -> WriteResult:
        models = [AiModel(m.name, m.version, m.provider, m.purpose) for m in input.ai_models]
        software = Software(input.firmware_version, input.operating_system, models)
        body = SoftwareUpdate(_aware(input.at, "at"), software)
        return await _result(
            info.context.write(code, EventType.SOFTWARE_UPDATED, body, idempotency_key)
        )

    @strawberry.mutation(
        description=(
            "Take the robot out of service for good (the owner), or record a decommissioned"
            " robot's disposal: disposition SCRAPPED at a named facility (a recycler)."
        )
    )
    async def decommission(
        self,
        info: strawberry.Info,
        code: RobotCodeScalar,
        input: DecommissionInput,
        idempotency_key: IdempotencyKey,
    ) -> WriteResult:
        body = EndOfLife(_aware(input.at, "at"), input.disposition, input.facility)
        return await _result(info.context.write(code, EventType.END_OF_LIFE, body, idempotency_key))

    @strawberry.mutation(
        description=(
            "Offer the robot to a new owner (the current owner). Nothing changes hands until"
            " the new owner calls acceptTransfer; a later offer replaces this one."
        )
    )
    async def initiate_transfer(
        self,
        info: strawberry.Info,
        code: RobotCodeScalar,
        input: TransferInput,
        idempotency_key: IdempotencyKey,
    ) -> WriteResult:
        body = TransferOffer(
            _aware(input.at, "at"),
            input.new_owner,
            input.owner_kind,
            input.jurisdiction,
            input.new_owner_id,
        )
        return await _result(info.context.offer_transfer(code, body, idempotency_key))

    @strawberry.mutation(
        description=(
            "Accept the pending offer of the robot (only the offered party). Across a"
            " border the robot keeps its code and home registry; the new country's"
            " registry links to it."
        )
    )
    async def accept_transfer(
        self,
        info: strawberry.Info,
        code: RobotCodeScalar,
        at: datetime,
        idempotency_key: IdempotencyKey,
    ) -> WriteResult:
        return await _result(info.context.accept_transfer(code, _aware(at, "at"), idempotency_key))
