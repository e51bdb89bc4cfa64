"""The canonical robot passport: what every adapter translates to and from.

Each field carries a `DataClass` in its metadata. Policies decide visibility per
data class, so classifying a field here is what makes it visible or hidden to a
party; a field without a class would be a hole in deny-by-default, which
`field_classes` refuses to produce.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


class DataClass(enum.Enum):
    """Sensitivity class of a passport field; the unit of every access rule."""

    PUBLIC = "PUBLIC"
    COMMERCIAL = "COMMERCIAL"
    OPERATIONAL = "OPERATIONAL"
    MAINTENANCE = "MAINTENANCE"
    TELEMETRY = "TELEMETRY"
    INCIDENT = "INCIDENT"
    PERSONAL = "PERSONAL"
    RESTRICTED = "RESTRICTED"


def classified(data_class: DataClass, doc: str, **kwargs: Any) -> Any:
    """A dataclass field with its data class and description attached."""
    return field(metadata={"data_class": data_class, "doc": doc}, **kwargs)


class RobotStatus(enum.Enum):
    """Lifecycle status of a robot in its home registry."""

    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    DECOMMISSIONED = "DECOMMISSIONED"
    SCRAPPED = "SCRAPPED"


class Scenario(enum.Enum):
    """Kind of use a robot is deployed in."""

    MANUFACTURING = "MANUFACTURING"
    SERVICE = "SERVICE"
    EDUCATION = "EDUCATION"
    HEALTHCARE = "HEALTHCARE"
    LOGISTICS = "LOGISTICS"
    RESEARCH = "RESEARCH"
    HOME = "HOME"


class MaintenanceKind(enum.Enum):
    """Kind of maintenance work."""

    INSPECTION = "INSPECTION"
    REPAIR = "REPAIR"
    REPLACEMENT = "REPLACEMENT"
    CALIBRATION = "CALIBRATION"
    SOFTWARE_UPDATE = "SOFTWARE_UPDATE"


class Severity(enum.Enum):
    """Severity of an incident."""

    MINOR = "MINOR"
    MODERATE = "MODERATE"
    SERIOUS = "SERIOUS"
    CRITICAL = "CRITICAL"


class IncidentCategory(enum.Enum):
    """What kind of incident happened."""

    COLLISION = "COLLISION"
    FALL = "FALL"
    MALFUNCTION = "MALFUNCTION"
    THERMAL = "THERMAL"
    CYBERSECURITY = "CYBERSECURITY"
    OTHER = "OTHER"


class RootCause(enum.Enum):
    """Root-cause class of an incident."""

    SOFTWARE = "SOFTWARE"
    HARDWARE = "HARDWARE"
    MAINTENANCE = "MAINTENANCE"
    OPERATOR = "OPERATOR"
    UNKNOWN = "UNKNOWN"


class IncidentStatus(enum.Enum):
    """Where the investigation of an incident stands."""

    OPEN = "OPEN"
    UNDER_INVESTIGATION = "UNDER_INVESTIGATION"
    CLOSED = "CLOSED"


class OwnerKind(enum.Enum):
    """Whether an owner is an organisation or a natural person."""

    ORGANISATION = "ORGANISATION"
    NATURAL_PERSON = "NATURAL_PERSON"


PUB, COM, OPS, MNT, TEL, INC, PII, RST = (
    DataClass.PUBLIC,
    DataClass.COMMERCIAL,
    DataClass.OPERATIONAL,
    DataClass.MAINTENANCE,
    DataClass.TELEMETRY,
    DataClass.INCIDENT,
    DataClass.PERSONAL,
    DataClass.RESTRICTED,
)


@dataclass(slots=True)
class Identity:
    """Who the robot is in its home registry."""

    code: str = classified(PUB, "The immutable 29-character robot code.")
    status: RobotStatus = classified(PUB, "Lifecycle status in the home registry.")
    home_registry: str = classified(PUB, "Id of the registry that holds the record.")
    registered_at: datetime = classified(PUB, "When the home registry registered the robot (UTC).")


@dataclass(slots=True)
class Manufacturer:
    """The maker as registered; Chinese makers by Unified Social Credit Code."""

    name: str = classified(PUB, "Manufacturer name in English or Latin script.")
    name_local: str | None = classified(PUB, "Name in the local language, e.g. Chinese.")
    registration_id: str = classified(PUB, "Business registration id (a USCC for Chinese makers).")
    country: str = classified(PUB, "ISO 3166-1 alpha-2 country of the manufacturer.")
    contact: str | None = classified(COM, "Contact address for product safety matters.")


@dataclass(slots=True)
class Model:
    """The product model the robot is an instance of."""

    designation: str = classified(PUB, "Commercial model designation.")
    category: str = classified(PUB, "Robot category, e.g. BIPED_HUMANOID.")
    production_date: date = classified(PUB, "Date of manufacture.")
    serial: str = classified(PUB, "Manufacturer serial number.")


@dataclass(slots=True)
class Sensor:
    """A kind of sensor fitted to the robot."""

    kind: str = classified(PUB, "Sensor kind, e.g. stereo camera, lidar, IMU, force-torque.")
    model: str | None = classified(COM, "Sensor product model.")
    count: int = classified(PUB, "How many of this sensor the robot carries.")


@dataclass(slots=True)
class Actuator:
    """The actuator driving one joint."""

    joint: str = classified(PUB, "Joint name, e.g. left_knee.")
    kind: str = classified(PUB, "Actuator kind, e.g. harmonic drive, planetary, linear.")
    rated_torque_nm: float = classified(COM, "Rated torque in newton-metres.")


@dataclass(slots=True)
class Battery:
    """The traction battery pack."""

    chemistry: str = classified(PUB, "Cell chemistry, e.g. NMC, LFP.")
    capacity_wh: float = classified(PUB, "Rated energy in watt-hours.")
    nominal_voltage_v: float = classified(PUB, "Nominal pack voltage in volts.")
    pack_id: str = classified(COM, "Serial of the battery pack currently fitted.")


@dataclass(slots=True)
class Hardware:
    """Physical build of the robot."""

    degrees_of_freedom: int = classified(PUB, "Total actuated degrees of freedom.")
    mass_kg: float = classified(PUB, "Mass in kilograms.")
    height_mm: int = classified(PUB, "Standing height in millimetres.")
    compute: str = classified(COM, "Main compute platform.")
    battery: Battery = classified(PUB, "The battery pack.")
    sensors: list[Sensor] = classified(PUB, "Sensors fitted.", default_factory=list)
    actuators: list[Actuator] = classified(PUB, "One actuator per joint.", default_factory=list)


@dataclass(slots=True)
class AiModel:
    """An AI model embedded in the robot's software."""

    name: str = classified(COM, "Name of the embedded AI model.")
    version: str = classified(COM, "Version of the model.")
    provider: str = classified(COM, "Who supplies the model.")
    purpose: str = classified(COM, "What the model does on the robot, e.g. locomotion.")


@dataclass(slots=True)
class Software:
    """Software on board; replaced as a whole by each software update."""

    firmware_version: str = classified(PUB, "Firmware version.")
    operating_system: str = classified(PUB, "Operating system and version.")
    ai_models: list[AiModel] = classified(COM, "Embedded AI models.", default_factory=list)


@dataclass(slots=True)
class Deployment:
    """A period of use in one scenario and region."""

    start: datetime = classified(OPS, "Start of the deployment (UTC).")
    end: datetime | None = classified(OPS, "End of the deployment, none while it lasts.")
    scenario: Scenario = classified(OPS, "Kind of use.")
    region: str = classified(OPS, "Region of use, ISO 3166-2 subdivision or country.")
    operator: str = classified(COM, "Organisation operating the robot.")
    operating_hours: float = classified(OPS, "Hours operated during this deployment.")
    operator_id: str | None = classified(
        COM,
        "The operator's identifier: uscc:, lei:, reg:CC: or person:; none until identified.",
        default=None,
    )


@dataclass(slots=True)
class MaintenanceRecord:
    """One maintenance intervention."""

    at: datetime = classified(MNT, "When the work was done (UTC).")
    kind: MaintenanceKind = classified(MNT, "Kind of maintenance.")
    component: str = classified(MNT, "Component worked on, e.g. left_knee or battery.")
    part_number: str | None = classified(MNT, "Part number fitted, for replacements.")
    performed_by: str = classified(MNT, "Service provider that did the work.")
    hours_at_service: float = classified(MNT, "Total operating hours when serviced.")
    notes: str | None = classified(MNT, "Free-text notes of the technician.")


@dataclass(slots=True)
class Incident:
    """A safety or security incident involving the robot."""

    id: str = classified(INC, "Registry-unique incident id.")
    at: datetime = classified(INC, "When the incident happened (UTC).")
    severity: Severity = classified(INC, "Severity.")
    category: IncidentCategory = classified(INC, "What kind of incident.")
    root_cause: RootCause = classified(INC, "Root-cause class, UNKNOWN until established.")
    description: str = classified(INC, "What happened.")
    reported_to: str | None = classified(INC, "Authority the incident was reported to.")
    status: IncidentStatus = classified(INC, "Investigation status.")
    findings: str | None = classified(RST, "Findings of the investigating authority.")


@dataclass(slots=True)
class JointWear:
    """Wear of one joint."""

    joint: str = classified(TEL, "Joint name.")
    wear_pct: float = classified(TEL, "Estimated wear, 0 new to 100 worn out.")


@dataclass(slots=True)
class ConditionSnapshot:
    """Live condition as reported by the robot or its operator."""

    at: datetime = classified(TEL, "When the condition was measured (UTC).")
    operating_hours: float = classified(TEL, "Total operating hours so far.")
    battery_health_pct: float = classified(TEL, "Battery state of health, percent of rated.")
    charge_cycles: int = classified(TEL, "Full-equivalent charge cycles so far.")
    movement_precision_mm: float = classified(TEL, "Positioning repeatability in millimetres.")
    abnormal_stress_events: int = classified(TEL, "Falls, overloads and collisions counted so far.")
    joint_wear: list[JointWear] = classified(TEL, "Wear per joint.", default_factory=list)


@dataclass(slots=True)
class Ownership:
    """One period of ownership."""

    start: datetime = classified(PUB, "Start of this ownership (UTC).")
    end: datetime | None = classified(PUB, "End of this ownership, none for the current owner.")
    owner: str = classified(PII, "The owner: an organisation or a natural person.")
    owner_kind: OwnerKind = classified(PUB, "Whether the owner is an organisation or a person.")
    jurisdiction: str = classified(PUB, "Country of the owner, ISO 3166-1 alpha-2.")
    owner_id: str | None = classified(
        PII,
        "The owner's identifier: uscc:, lei:, reg:CC: or person:; none until identified.",
        default=None,
    )


@dataclass(slots=True)
class Certification:
    """A product certification held by the robot or its model."""

    name: str = classified(PUB, "Scheme, e.g. CR (China Robot certification) or CE.")
    issuer: str = classified(PUB, "Certification body.")
    number: str = classified(PUB, "Certificate number.")
    valid_until: date | None = classified(PUB, "Expiry date, none when open-ended.")


@dataclass(slots=True)
class Recall:
    """A recall affecting the robot."""

    reference: str = classified(PUB, "Recall reference of the authority or manufacturer.")
    issued_at: datetime = classified(PUB, "When the recall was issued (UTC).")
    description: str = classified(PUB, "What is recalled and why.")
    remedied_at: datetime | None = classified(PUB, "When the remedy was applied, none if open.")


@dataclass(slots=True)
class MandatedUpdate:
    """A software update an authority has made compulsory."""

    reference: str = classified(PUB, "Reference of the mandated software update.")
    required_version: str = classified(PUB, "Minimum firmware version the mandate requires.")
    due: date = classified(PUB, "Date by which the update is due.")


@dataclass(slots=True)
class EndOfLife:
    """How and when the robot left service."""

    at: datetime = classified(PUB, "When the robot left service (UTC).")
    disposition: RobotStatus = classified(PUB, "DECOMMISSIONED or SCRAPPED.")
    facility: str | None = classified(COM, "Recycling or storage facility.")


@dataclass(slots=True)
class Compliance:
    """The robot's regulatory standing."""

    certifications: list[Certification] = classified(
        PUB, "Certifications held.", default_factory=list
    )
    mandated_updates: list[MandatedUpdate] = classified(
        PUB, "Software updates an authority has mandated.", default_factory=list
    )
    recalls: list[Recall] = classified(PUB, "Recalls affecting this robot.", default_factory=list)
    end_of_life: EndOfLife | None = classified(PUB, "End of life, once reached.", default=None)


@dataclass(slots=True)
class Passport:
    """The whole lifelong record of one robot, as the fold of its event log."""

    identity: Identity = classified(PUB, "Identity in the home registry.")
    manufacturer: Manufacturer = classified(PUB, "The manufacturer.")
    model: Model = classified(PUB, "Product model.")
    hardware: Hardware = classified(PUB, "Hardware build.")
    software: Software = classified(PUB, "Software on board.")
    compliance: Compliance = classified(PUB, "Certifications, mandates, recalls, end of life.")
    deployments: list[Deployment] = classified(
        OPS, "Deployments, oldest first.", default_factory=list
    )
    maintenance: list[MaintenanceRecord] = classified(
        MNT, "Maintenance records, oldest first.", default_factory=list
    )
    incidents: list[Incident] = classified(INC, "Incidents, oldest first.", default_factory=list)
    conditions: list[ConditionSnapshot] = classified(
        TEL, "Condition snapshots, oldest first.", default_factory=list
    )
    ownership: list[Ownership] = classified(PUB, "Owners, oldest first.", default_factory=list)

    @property
    def code(self) -> str:
        return self.identity.code

    @property
    def condition(self) -> ConditionSnapshot | None:
        """The latest condition snapshot."""
        return self.conditions[-1] if self.conditions else None

    @property
    def current_owner(self) -> Ownership | None:
        return self.ownership[-1] if self.ownership else None
