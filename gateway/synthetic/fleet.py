"""Deterministic synthetic fleet: realistic hash-chained robot histories for demos and tests.

Each robot is a small discrete-event simulation. Deployments accrue operating hours, and
with them joint wear, charge cycles, battery fade and calibration drift; condition snapshots
trigger the maintenance a service plan would; incidents, transfers, recalls and mandated
updates interleave. Actions run off a heap in time order, so every log is time-ordered
and never passes `now`.

Robot i draws only from `Random(f"{seed}:{i}")`, and fleet-wide facts (the recall, the
mandate, firmware releases) from their own seeds, so a robot is the same whatever the fleet
size, and the same on every machine: no global random state, no wall clock.

Over 500 lines because it is one simulation: each life event is a small function
over the same robot state, and splitting them would scatter that state.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import heapq
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from random import Random
from typing import Any

from gateway.synthetic.catalogue import (
    COUNTRIES,
    EXPORTS,
    MAKERS,
    Country,
    Maker,
    ModelSpec,
    Release,
    actuators_of,
    compute_of,
    joint_family,
    joints_of,
    organisation_id,
    releases_of,
    sensors_of,
    wear_factor,
)
from schema.code import RobotCategory, RobotCode
from schema.codec import format_datetime
from schema.events import (
    GENESIS,
    SCHEME,
    DeploymentEnd,
    Event,
    EventType,
    IncidentUpdate,
    OwnershipTransfer,
    RecallRemedy,
    SoftwareUpdate,
    StatusChange,
    commitment_of,
    link_hash,
    new_salt,
    payload_of,
)
from schema.passport import (
    Actuator,
    Battery,
    Certification,
    Compliance,
    Deployment,
    EndOfLife,
    Hardware,
    Identity,
    Incident,
    IncidentCategory,
    IncidentStatus,
    MaintenanceKind,
    MaintenanceRecord,
    MandatedUpdate,
    Manufacturer,
    Model,
    OwnerKind,
    Ownership,
    Passport,
    Recall,
    RobotStatus,
    RootCause,
    Scenario,
    Sensor,
    Severity,
)

__all__ = ["NOW", "PRODUCTION_END", "PRODUCTION_START", "synthetic_fleet"]

NOW = datetime(2026, 11, 1, tzinfo=UTC)
PRODUCTION_START = date(2024, 1, 1)
PRODUCTION_END = date(2026, 9, 30)

DAY = timedelta(days=1)
_SEQ_MULT = 387_420_489  # 3**18 is coprime to 10**9, so i -> sequence never repeats
_WEAR_PER_HOUR = 0.0052  # % per operating hour at factor 1: knees reach 70% in ~7,500 h
_DRIFT_PER_HOUR = 0.0001  # mm of repeatability lost per operating hour between calibrations
_CALENDAR_FADE = 0.002  # % battery health lost per day, in use or not
_FADE_PER_CYCLE = {"NMC": 0.02, "NCA": 0.024, "LFP": 0.008, "semi-solid": 0.012}
_PRECISION_MM = {"H": 0.8, "W": 0.6, "T": 0.3}
_INCIDENTS_PER_HOUR = {"H": 1 / 4000, "W": 1 / 7000, "T": 1 / 9000}
_INSPECTION_HOURS = 500.0
_SPREAD = 1.2 - 0.8  # the width `Random.uniform(0.8, 1.2)` computes, to the last bit
# Overloads, near-falls and bumps the robot logs without anyone filing an incident.
_STRESS_PER_HOUR = {"H": 1 / 900, "W": 1 / 2000, "T": 1 / 3000}

_HOURS_PER_DAY = {
    Scenario.MANUFACTURING: (12, 20),
    Scenario.LOGISTICS: (10, 18),
    Scenario.SERVICE: (7, 12),
    Scenario.HEALTHCARE: (6, 10),
    Scenario.EDUCATION: (4, 6),
    Scenario.RESEARCH: (3, 6),
    Scenario.HOME: (2, 5),
}
_USES = {  # business scenarios by category letter; HOME is only for private owners
    "H": {
        "MANUFACTURING": 30,
        "LOGISTICS": 15,
        "RESEARCH": 15,
        "SERVICE": 15,
        "EDUCATION": 10,
        "HEALTHCARE": 5,
    },
    "W": {
        "SERVICE": 30,
        "LOGISTICS": 20,
        "HEALTHCARE": 20,
        "MANUFACTURING": 15,
        "EDUCATION": 10,
        "RESEARCH": 5,
    },
    "T": {"MANUFACTURING": 35, "RESEARCH": 25, "EDUCATION": 25, "SERVICE": 10, "HEALTHCARE": 5},
}
_SECTORS = {
    Scenario.MANUFACTURING: (
        "Precision Electronics",
        "Auto Parts",
        "Appliance Works",
        "Battery Manufacturing",
        "Metal Products",
    ),
    Scenario.SERVICE: ("Hospitality Group", "Retail", "Property Services", "Catering"),
    Scenario.EDUCATION: ("Vocational College", "Science Museum", "Polytechnic Institute"),
    Scenario.HEALTHCARE: ("Rehabilitation Hospital", "Elderly Care Services", "Medical Center"),
    Scenario.LOGISTICS: ("Logistics", "Supply Chain", "Warehousing", "Express"),
    Scenario.RESEARCH: (
        "Institute of Intelligent Systems",
        "Embodied AI Lab",
        "Robotics Research Center",
    ),
}
_NO_SUFFIX = ("College", "Museum", "Institute", "Hospital", "Center", "Lab")

_SEVERITY = {Severity.MINOR: 70, Severity.MODERATE: 21, Severity.SERIOUS: 7, Severity.CRITICAL: 2}
_CATEGORY = {
    "H": {
        "FALL": 40,
        "COLLISION": 25,
        "MALFUNCTION": 20,
        "THERMAL": 7,
        "CYBERSECURITY": 3,
        "OTHER": 5,
    },
    "W": {
        "FALL": 5,
        "COLLISION": 40,
        "MALFUNCTION": 30,
        "THERMAL": 10,
        "CYBERSECURITY": 7,
        "OTHER": 8,
    },
    "T": {"COLLISION": 35, "MALFUNCTION": 40, "THERMAL": 10, "CYBERSECURITY": 7, "OTHER": 8},
}
_ROOT_CAUSE = {
    "FALL": {"SOFTWARE": 35, "HARDWARE": 20, "OPERATOR": 20, "MAINTENANCE": 10, "UNKNOWN": 15},
    "COLLISION": {"SOFTWARE": 30, "OPERATOR": 40, "HARDWARE": 10, "MAINTENANCE": 5, "UNKNOWN": 15},
    "MALFUNCTION": {"HARDWARE": 45, "SOFTWARE": 30, "MAINTENANCE": 15, "UNKNOWN": 10},
    "THERMAL": {"HARDWARE": 50, "MAINTENANCE": 30, "SOFTWARE": 10, "UNKNOWN": 10},
    "CYBERSECURITY": {"SOFTWARE": 70, "OPERATOR": 20, "UNKNOWN": 10},
    "OTHER": {"OPERATOR": 40, "UNKNOWN": 40, "HARDWARE": 20},
}
_DESCRIPTIONS = {
    "FALL": (
        "Lost balance on a wet floor while carrying a {kg} kg load and fell sideways.",
        "Tripped over a pallet edge while walking and fell forward onto both hands.",
        "Foot slipped during stair descent; robot fell and triggered a safe stop.",
    ),
    "COLLISION": (
        "Arm contacted a co-worker's shoulder during a hand-over; no injury reported.",
        "Collided with a shelf while navigating a narrow aisle.",
        "Struck a parked trolley while turning at walking speed.",
    ),
    "MALFUNCTION": (
        "{joint} actuator reported an over-current fault; robot entered safe stop.",
        "Encoder error on {joint}; motion halted mid-task.",
        "Unexpected arm motion while idle; emergency stop pressed by staff.",
    ),
    "THERMAL": (
        "Battery pack exceeded 60 °C during fast charging; charging aborted.",
        "{joint} motor driver overheated after sustained load.",
    ),
    "CYBERSECURITY": (
        "Repeated unauthorised login attempts on the maintenance interface.",
        "Fleet console accepted an update server with an expired certificate.",
    ),
    "OTHER": (
        "Robot left its assigned work cell because of a mis-set geofence.",
        "Voice assistant kept recording audio outside the configured hours.",
    ),
}
_WHEELED_FALL = "Tipped over when a wheel dropped into an uncovered floor drain."
_FINDINGS = {
    RootCause.SOFTWARE: "Control software fault confirmed; corrected in a later firmware release.",
    RootCause.HARDWARE: "Component failure confirmed by teardown; no design defect established.",
    RootCause.MAINTENANCE: "Scheduled maintenance was overdue; operator instructed to comply.",
    RootCause.OPERATOR: "Robot used outside its intended use; operator staff retrained.",
    RootCause.UNKNOWN: "Cause not established; data retained for trend analysis.",
}
_INSPECTION_NOTES = (
    "No findings.",
    "No findings.",
    "Cable chafing at the hip harness; cable re-routed.",
    "Foot sole wear within limits.",
    "Torque sensor offsets within tolerance.",
    "Cooling fan filters cleaned.",
    "Emergency stop and protective stop tested OK.",
)
_SUSPENSION_REASONS = (
    "Serious incident under investigation by the market surveillance authority.",
    "Periodic safety inspection overdue.",
    "Registry data does not match the robot presented for inspection.",
    "Mandated safety update not installed by its due date.",
)
_RECALL_DEFECTS = (  # (joints or "battery", description)
    (
        ("left_knee", "right_knee"),
        "Knee actuator bearing retainer may loosen under sustained load; the leg can give way "
        "and the robot fall.",
    ),
    (
        ("left_ankle_pitch", "right_ankle_pitch"),
        "Ankle pitch encoder may lose calibration after impacts, causing an unstable gait.",
    ),
    (
        ("battery",),
        "Battery pack cell interconnect may overheat during fast charging; thermal runaway risk.",
    ),
)
_AUTHORITIES = {  # (recall authority prefix, cybersecurity mandate authority)
    "CN": ("SAMR-DPAC", "MIIT"),
    "DE": ("BAuA-RAPEX", "BSI"),
    "FR": ("DGCCRF-RAPEX", "ANSSI"),
}
_CERTIFIERS = {
    "CN": ("CR", "Huaxin Robot Certification Co., Ltd."),
    "EU": ("CE", "Alpenzert GmbH (notified body)"),
}
_EU = frozenset({"DE", "FR", "NL", "AT", "BE", "ES", "IT"})


def _weighted(rng: Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _poisson(rng: Random, lam: float) -> int:
    """Knuth's method; `lam` stays small (expected incidents in a few weeks)."""
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k, p = k + 1, p * rng.random()
    return k


def _unit(joint: str) -> str:
    """The replaceable unit of a joint: a whole hand for fingers, else the joint's actuator."""
    side, _, rest = joint.partition("_")
    return f"{side}_hand" if rest.endswith(("_flex", "_rotation")) else joint


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# -- fleet-wide facts ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Recall:
    model: tuple[str, str]  # (maker code, model code)
    produced_before: date
    reference: str
    issued_at: datetime
    description: str
    components: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Mandate:
    maker: str
    reference: str
    issued_at: datetime
    due: date


@dataclass(frozen=True, slots=True)
class _Fleet:
    seed: int
    country: Country
    registry: str
    now: datetime
    makers: tuple[Maker, ...]
    production_end: date
    seq_offset: int
    recall: _Recall
    mandate: _Mandate


def _fleet(seed: int, country: str, registry: str, now: datetime) -> _Fleet:
    """Facts shared by all robots, drawn from their own seed so they ignore fleet size."""
    rng = Random(f"{seed}:fleet:{country}")
    makers = MAKERS[country]
    recall_auth, mandate_auth = _AUTHORITIES[country]
    early = [(m, s) for m in makers for s in m.models if s.category == "H"]
    early = [ms for ms in early if ms[1].launch <= min(s.launch for _, s in early) + 180 * DAY]
    maker, spec = rng.choice(early)
    components, description = rng.choice(_RECALL_DEFECTS)
    issued = _midnight(date(2026, 2, 1) + rng.randrange(150) * DAY) + timedelta(hours=2)
    recall = _Recall(
        (maker.code, spec.code),
        spec.launch + rng.randrange(420, 660) * DAY,
        f"{recall_auth}-{issued:%Y}-{rng.randrange(1, 400):04d}",
        issued,
        f"{spec.designation}: {description}",
        components,
    )
    mandated = _midnight(date(2025, 9, 1) + rng.randrange(300) * DAY) + timedelta(hours=3)
    mandate = _Mandate(
        rng.choice(makers).code,
        f"{mandate_auth}-SEC-{mandated:%Y}-{rng.randrange(1, 100):03d}",
        mandated,
        (mandated + 90 * DAY).date(),
    )
    end = min(PRODUCTION_END, (now - 50 * DAY).date())
    offset = Random(f"{seed}:sequence").randrange(10**9)
    return _Fleet(seed, COUNTRIES[country], registry, now, makers, end, offset, recall, mandate)


@dataclass(frozen=True, slots=True)
class _Parts:
    """What a model's robots share, worked out once per model rather than once per robot."""

    joints: tuple[str, ...]
    factors: tuple[float, ...]
    releases: tuple[Release, ...]
    release_times: tuple[datetime, ...]
    compute: str
    sensors: tuple[Sensor, ...]
    actuators: tuple[Actuator, ...]


@cache
def _parts_of(maker: Maker, spec: ModelSpec) -> _Parts:
    joints = joints_of(spec)
    releases = releases_of(maker, spec)
    return _Parts(
        joints,
        tuple(wear_factor(j) for j in joints),
        releases,
        tuple(r.at for r in releases),
        compute_of(spec),
        tuple(sensors_of(spec)),
        tuple(actuators_of(spec)),
    )


# -- one robot's life ------------------------------------------------------------------


class _Life:
    """One robot: state, a time-ordered action queue and the events emitted so far."""

    def __init__(self, fleet: _Fleet, index: int) -> None:
        self.fleet, self.index = fleet, index
        self.rng = Random(f"{fleet.seed}:{index}")
        self.home = fleet.country
        self.events: list[Event] = []
        self.queue: list[tuple[datetime, int, Callable[..., None], tuple[Any, ...]]] = []
        self.counter = 0
        self._pick_model()
        self._init_condition()
        self.deployment: Deployment | None = None
        self.in_service = True
        self.pending: set[str] = set()  # components with maintenance already booked
        self.incidents = 0
        self.certified: set[str] = set()

    # -- plumbing

    def at(self, when: datetime, action: Callable[..., None], *args: Any) -> None:
        self.counter += 1  # ties run in booking order; callables are never compared
        heapq.heappush(self.queue, (when, self.counter, action, args))

    def emit(self, when: datetime, type: EventType, body: Any) -> None:
        self._append(when, type, payload_of(type, body))

    def _append(self, when: datetime, type: EventType, payload: dict[str, Any]) -> None:
        """`schema.events.chain` under scheme 2 without re-checking the salt it was just given."""
        events = self.events
        prev = events[-1].hash if events else GENESIS
        sequence, salt = len(events) + 1, new_salt()
        commitment = commitment_of(salt, when, type, payload)
        digest = link_hash(self.code, sequence, commitment, prev)
        events.append(
            Event(self.code, sequence, when, type, payload, prev, digest, SCHEME, salt, commitment)
        )

    def run(self) -> list[Event]:
        self.register()
        while self.queue:
            when, _, action, args = heapq.heappop(self.queue)
            if when > self.fleet.now:
                break
            action(when, *args)
        return self.events

    def later(self, after: datetime, lo: float, hi: float) -> datetime:
        """A working-hours time lo-hi days after `after`, local to where the robot is."""
        day = (after + timedelta(days=self.rng.uniform(lo, hi))).date()
        while day.weekday() >= 5:
            day += DAY
        local = timedelta(minutes=self.rng.randrange(8 * 60, 18 * 60))
        when = _midnight(day) + local - timedelta(hours=self.where.utc_offset)
        while when <= after:
            when += DAY
        return when

    def soon(self, after: datetime, lo_days: float, hi_days: float) -> datetime:
        """Any time of day, whole seconds: telemetry does not keep office hours."""
        return after + timedelta(
            seconds=self.rng.randrange(int(lo_days * 86400), int(hi_days * 86400))
        )

    @property
    def where(self) -> Country:
        return COUNTRIES[self.jurisdiction]

    # -- birth

    def _pick_model(self) -> None:
        """Maker, model and production date, then the code that encodes them."""
        rng, fleet = self.rng, self.fleet
        self.maker = rng.choice(fleet.makers)
        made = [s for s in self.maker.models if s.launch <= fleet.production_end]
        if not made:  # every model of this maker launched after the window
            self.maker = min(fleet.makers, key=lambda m: min(s.launch for s in m.models))
            made = [min(self.maker.models, key=lambda s: s.launch)]
        self.spec: ModelSpec = rng.choice(made)
        start = max(PRODUCTION_START, self.spec.launch)
        span = max((fleet.production_end - start).days, 0)
        # Output ramps up over time, so younger robots are more common.
        self.produced = start + round(span * rng.random() ** 0.85) * DAY
        self.sequence = (self.index * _SEQ_MULT + fleet.seq_offset) % 10**9
        plant = rng.choice(self.maker.plants)
        self.code = str(
            RobotCode.generate(
                self.home.code,
                self.maker.code,
                self.spec.code,
                self.produced,
                plant,
                self.sequence,
            )
        )
        self.parts = _parts_of(self.maker, self.spec)
        self.joints = self.parts.joints
        self.releases = self.parts.releases
        self.release = self._latest_release(_midnight(self.produced))

    def _init_condition(self) -> None:
        rng, spec = self.rng, self.spec
        self.hours = round(rng.uniform(2, 12), 1)  # factory run-in and acceptance test
        self.runtime = min(max(spec.capacity_wh / (spec.mass_kg * 5.5), 1.5), 6.0)
        self.cycles = self.hours / self.runtime
        self.health = rng.uniform(99.3, 100.0)
        self.fade = _FADE_PER_CYCLE[spec.chemistry]
        self.factors = self.parts.factors
        self.wear = [rng.uniform(0, 0.3) for _ in self.joints]
        self.wear_rate = _WEAR_PER_HOUR * rng.uniform(0.75, 1.3)
        self.base_precision = _PRECISION_MM[spec.category] * rng.uniform(0.9, 1.1)
        self.drift = 0.0
        self.stress = 0
        self.rate = 0.0
        self.last_inspection = self.hours
        self.inspection_every = _INSPECTION_HOURS * rng.uniform(0.9, 1.1)
        self.snapshots = 0

    def register(self) -> None:
        rng, fleet, home = self.rng, self.fleet, self.home
        self.jurisdiction = home.code
        registered = self.later(_midnight(self.produced), 5, 40)
        self.clock = registered
        self.owner_kind = OwnerKind.ORGANISATION
        self.region = self._home_region()
        self.lessor = rng.random() < 0.4
        self.use = Scenario[_weighted(rng, _USES[self.spec.category])]
        self.owner = self._lessor_name(home) if self.lessor else self._company(home, self.use)
        self.owner_id = organisation_id(home.code, self.owner)
        passport = Passport(
            Identity(self.code, RobotStatus.ACTIVE, fleet.registry, registered),
            Manufacturer(
                self.maker.name,
                self.maker.name_local,
                self.maker.registration_id,
                self.maker.country,
                f"product-safety@{self.maker.domain}",
            ),
            Model(
                self.spec.designation,
                RobotCategory(self.spec.category).name,
                self.produced,
                f"{self.maker.code}-{self.produced:%y%m}-{self.sequence:09d}",
            ),
            self._hardware(),
            self.release.software,
            Compliance(),
            ownership=[
                Ownership(registered, None, self.owner, self.owner_kind, home.code, self.owner_id)
            ],
        )
        self.emit(registered, EventType.REGISTERED, passport)
        self._plan_life(registered)

    def _hardware(self) -> Hardware:
        spec = self.spec
        pack = f"BP{self.produced:%y%m}{self.rng.randrange(16**6):06X}"
        battery = Battery(spec.chemistry, spec.capacity_wh, spec.voltage_v, pack)
        return Hardware(
            len(self.joints),
            spec.mass_kg,
            spec.height_mm,
            self.parts.compute,
            battery,
            list(self.parts.sensors),
            list(self.parts.actuators),
        )

    def _plan_life(self, registered: datetime) -> None:
        """Book the robot's first actions and its fate: transfer, suspension, end of life."""
        rng, fleet = self.rng, self.fleet
        self.at(self.soon(registered, 0.5, 3), self.snapshot)
        self.at(self.later(registered, 3, 30), self.start_deployment)
        self.at(self.later(registered, 60, 180), self.update_software)
        cert = self.home.code if self.home.code == "CN" else "EU"
        if cert == "EU" or rng.random() < 0.3:  # CE is required in the EU, CR is voluntary
            self.at(self.later(registered, 0, 60), self.certify, cert)
        recall = fleet.recall
        if (self.maker.code, self.spec.code) == recall.model and (
            self.produced < recall.produced_before and registered < recall.issued_at
        ):
            self.at(fleet.recall.issued_at, self.recall)
        if self.maker.code == fleet.mandate.maker and registered < fleet.mandate.issued_at:
            self.at(fleet.mandate.issued_at, self.mandate)
        self.transfer_at = self._some_time(registered + 90 * DAY, fleet.now - 20 * DAY, 0.35)
        fate = rng.random()
        if fate < 0.05:
            when = self._some_time(registered + 150 * DAY, fleet.now, 1.0)
            disposition = RobotStatus.SCRAPPED if rng.random() < 0.4 else RobotStatus.DECOMMISSIONED
            if when:
                self.at(when, self.end_of_life, disposition)
        elif fate < 0.075 and (when := self._some_time(registered + 60 * DAY, fleet.now, 1.0)):
            self.at(when, self.suspend)

    def _some_time(self, lo: datetime, hi: datetime, chance: float) -> datetime | None:
        if hi <= lo or self.rng.random() >= chance:
            return None
        return lo + timedelta(seconds=self.rng.randrange(int((hi - lo).total_seconds())))

    # -- parties

    def _home_region(self) -> str:
        """Robots cluster around their maker's home province."""
        if self.maker.country == self.jurisdiction and self.rng.random() < 0.4:
            return self.maker.region
        return self.rng.choice(self.where.regions)

    def _company(self, country: Country, scenario: Scenario) -> str:
        stem, sector = self.rng.choice(country.stems), self.rng.choice(_SECTORS[scenario])
        if any(word in sector for word in _NO_SUFFIX):
            return f"{stem} {sector}"
        return f"{stem} {sector} {country.suffix}"

    def _lessor_name(self, country: Country) -> str:
        if country.code == self.maker.country and self.rng.random() < 0.5:
            return f"{self.maker.short} Sales & Leasing {country.suffix}"
        return f"{self.rng.choice(country.stems)} Robot Rental {country.suffix}"

    def _person(self, country: Country) -> str:
        return country.person(self.rng.choice(country.given), self.rng.choice(country.family))

    def _person_id(self, t: datetime) -> str:
        """The registry's pseudonymous id for the person buying the robot at `t`.

        Drawn from the fleet seed, robot and moment, never from the name, and
        without touching the life's random stream, so the rest of the fleet is
        what it was before ids existed.
        """
        seed = f"{self.fleet.seed}|{self.fleet.registry}|{self.code}|{t.isoformat()}"
        digest = hashlib.sha256(seed.encode()).digest()
        return "person:" + base64.b32encode(digest[:15]).decode().lower()

    @property
    def service(self) -> str:
        if self.jurisdiction == self.maker.country:
            return f"{self.maker.name} Service Center"
        return f"{self.where.stems[self.index % len(self.where.stems)]} Robot Service " + (
            self.where.suffix
        )

    # -- condition

    def advance(self, t: datetime) -> None:
        """Accrue use from the clock to `t`: hours, cycles, fade, wear and drift."""
        days = (t - self.clock).total_seconds() / 86400
        if days <= 0:
            return
        self.clock = t
        self.health -= days * _CALENDAR_FADE
        if self.deployment is None or not self.in_service:
            return
        rng = self.rng
        hours = self.rate * days * rng.uniform(0.85, 1.1)
        cycles = hours / self.runtime
        self.hours += hours
        self.cycles += cycles
        self.health -= cycles * self.fade * rng.uniform(0.7, 1.3)
        k, draw = hours * self.wear_rate, rng.random
        # rng.uniform(0.8, 1.2) and min(x, 100.0) inlined (the same draws, the same floats):
        # this loop is most of the draws
        self.wear = [
            x if (x := w + k * f * (0.8 + _SPREAD * draw())) <= 100.0 else 100.0
            for w, f in zip(self.wear, self.factors, strict=True)
        ]
        self.drift += hours * _DRIFT_PER_HOUR * rng.uniform(0.5, 1.5)
        self.stress += _poisson(rng, hours * _STRESS_PER_HOUR[self.spec.category])

    @property
    def precision(self) -> float:
        """Repeatability worsens with mean joint wear and with drift since calibration."""
        mean_wear = sum(self.wear) / len(self.wear)
        return self.base_precision * (1 + 0.6 * mean_wear / 100) + self.drift

    def snapshot(self, t: datetime) -> None:
        if not self.in_service:
            return
        self.advance(t)
        if self.deployment is not None or not self.snapshots:
            self.snapshots += 1
            # The plain form `to_plain(ConditionSnapshot(...))` gives, built directly: snapshots
            # are most events and their joint lists most of the bytes (the pinned test holds it).
            wear = [
                {"joint": j, "wear_pct": round(w, 1)}
                for j, w in zip(self.joints, self.wear, strict=True)
            ]
            body = {
                "at": format_datetime(t),
                "operating_hours": round(self.hours, 1),
                "battery_health_pct": round(min(self.health, 100.0), 1),
                "charge_cycles": int(self.cycles),
                "movement_precision_mm": round(self.precision, 3),
                "abnormal_stress_events": self.stress,
                "joint_wear": wear,
            }
            self._append(t, EventType.CONDITION_RECORDED, body)
            self._book_maintenance(t)
        following = self.soon(t, 14, 42)
        self.at(following, self.snapshot)
        if self.deployment is not None:
            self._book_incidents(t, following)
            self._book_inspection(t, following)

    def _book(self, when: datetime, kind: MaintenanceKind, component: str, *args: Any) -> None:
        if component not in self.pending:
            self.pending.add(component)
            self.at(when, self.maintain, kind, component, *args)

    def _book_maintenance(self, t: datetime) -> None:
        """What a condition-based service plan books after reading a snapshot."""
        if self.precision > 1.35 * self.base_precision:
            self._book(self.later(t, 1, 14), MaintenanceKind.CALIBRATION, "joint encoders")
        for joint, wear in zip(self.joints, self.wear, strict=True):
            if wear > 70:
                self._book(self.later(t, 2, 21), MaintenanceKind.REPLACEMENT, _unit(joint))
        if self.health < 75:
            self._book(self.later(t, 1, 14), MaintenanceKind.REPLACEMENT, "battery")

    def _book_inspection(self, t: datetime, until: datetime) -> None:
        """Inspect every ~500 operating hours: book it for when the hours will be reached."""
        left = self.last_inspection + self.inspection_every - self.hours
        days = max(left, 0) / self.rate
        if t + days * DAY < until:
            self._book(self.later(t + days * DAY, 0, 3), MaintenanceKind.INSPECTION, "full system")

    def maintain(
        self,
        t: datetime,
        kind: MaintenanceKind,
        component: str,
        part: str | None = None,
        notes: str | None = None,
    ) -> None:
        self.pending.discard(component)
        if not self.in_service:
            return
        self.advance(t)
        if kind is MaintenanceKind.INSPECTION:
            self.last_inspection = self.hours
            notes = notes or self.rng.choice(_INSPECTION_NOTES)
        elif kind is MaintenanceKind.CALIBRATION:
            before, self.drift = self.precision, self.rng.uniform(0.0, 0.02)
            notes = f"Kinematic calibration; repeatability {before:.2f} -> {self.precision:.2f} mm."
        elif kind is MaintenanceKind.REPLACEMENT and component == "battery":
            part = part or f"{self.maker.code}-BAT-{self.spec.chemistry.upper()}-" + (
                f"{self.spec.capacity_wh:.0f}"
            )
            pack = f"BP{t:%y%m}{self.rng.randrange(16**6):06X}"
            notes = (notes or "") + (
                f"Pack replaced at {min(self.health, 100):.1f}% state of health; new pack {pack}."
            )
            self.health = self.rng.uniform(99.2, 100.0)
        elif kind is MaintenanceKind.REPLACEMENT:
            worn = [i for i, j in enumerate(self.joints) if _unit(j) == component]
            part = part or f"{self.maker.code}-ACT-{joint_family(component)}-R1"
            what = "Hand assembly" if component.endswith("_hand") else "Actuator"
            notes = (
                notes or ""
            ) + f"{what} replaced at {max(self.wear[i] for i in worn):.0f}% wear."
            for i in worn:
                self.wear[i] = self.rng.uniform(0.0, 0.5)
        record = MaintenanceRecord(
            t, kind, component, part, self.service, round(self.hours, 1), notes
        )
        self.emit(t, EventType.MAINTENANCE_RECORDED, record)

    # -- incidents

    def _book_incidents(self, start: datetime, end: datetime) -> None:
        """Incidents are a Poisson process in operating hours, not in calendar time."""
        days = (end - start).total_seconds() / 86400
        lam = self.rate * days * _INCIDENTS_PER_HOUR[self.spec.category]
        for _ in range(_poisson(self.rng, lam)):
            self.at(self.soon(start, 0, days), self.incident)

    def incident(self, t: datetime) -> None:
        if not self.in_service or self.deployment is None:
            return
        self.advance(t)
        rng, spec = self.rng, self.spec
        self.incidents += 1
        category = IncidentCategory[_weighted(rng, _CATEGORY[spec.category])]
        severity = _weighted(rng, _SEVERITY)
        joint = rng.choice(self.joints)
        if category is IncidentCategory.FALL and spec.category != "H":
            description = _WHEELED_FALL
        else:
            description = rng.choice(_DESCRIPTIONS[category.name]).format(
                kg=rng.randrange(3, 16), joint=joint.replace("_", " ")
            )
        reported = (
            severity in (Severity.SERIOUS, Severity.CRITICAL)
            or (severity is Severity.MODERATE and rng.random() < 0.5)
            or rng.random() < 0.04
        )
        authority = self.where.authority_for(self.deployment.region) if reported else None
        incident_id = f"{self.code}-I{self.incidents:02d}"
        body = Incident(
            incident_id,
            t,
            severity,
            category,
            RootCause.UNKNOWN,
            description,
            authority,
            IncidentStatus.OPEN,
            None,
        )
        self.emit(t, EventType.INCIDENT_REPORTED, body)
        self._incident_effects(t, category, severity, joint)
        self._book_investigation(t, incident_id, category, severity, reported)

    def _incident_effects(
        self, t: datetime, category: IncidentCategory, severity: Severity, joint: str
    ) -> None:
        """Falls and collisions count as stress events, knock joints and the calibration."""
        rng = self.rng
        if category in (IncidentCategory.FALL, IncidentCategory.COLLISION):
            self.stress += 1
            self.drift += rng.uniform(0.02, 0.1)
            for i, j in enumerate(self.joints):
                if category is IncidentCategory.FALL and ("knee" in j or "hip" in j):
                    self.wear[i] = min(self.wear[i] + rng.uniform(0.5, 3), 100.0)
        if severity is not Severity.MINOR or category is IncidentCategory.MALFUNCTION:
            component = "battery" if category is IncidentCategory.THERMAL else joint
            notes = f"Post-incident repair ({category.name.lower()}); function test passed."
            if category is IncidentCategory.CYBERSECURITY:
                component, notes = "maintenance interface", "Credentials rotated; port closed."
            self.at(
                self.later(t, 1, 10), self.maintain, MaintenanceKind.REPAIR, component, None, notes
            )

    def _book_investigation(
        self,
        t: datetime,
        incident_id: str,
        category: IncidentCategory,
        severity: Severity,
        reported: bool,
    ) -> None:
        rng = self.rng
        cause = RootCause[_weighted(rng, _ROOT_CAUSE[category.name])]
        findings = _FINDINGS[cause] if reported else None
        serious = severity in (Severity.SERIOUS, Severity.CRITICAL)
        if reported and serious:
            opened = IncidentUpdate(
                incident_id, IncidentStatus.UNDER_INVESTIGATION, RootCause.UNKNOWN
            )
            self.at(self.later(t, 2, 10), self.update_incident, opened)
        close = (30, 150) if reported and serious else (14, 60) if reported else (2, 30)
        closed = IncidentUpdate(incident_id, IncidentStatus.CLOSED, cause, findings)
        self.at(self.later(t, *close), self.update_incident, closed)

    def update_incident(self, t: datetime, update: IncidentUpdate) -> None:
        """Investigations run on after suspension or end of life."""
        self.emit(t, EventType.INCIDENT_UPDATED, update)

    # -- software, mandates, recalls, certificates

    def _latest_release(self, t: datetime) -> Release:
        i = bisect.bisect_right(self.parts.release_times, t) - 1
        return self.releases[max(i, 0)]

    def update_software(self, t: datetime, mandate: str | None = None) -> None:
        if not self.in_service:
            return
        if mandate is None:
            self.at(self.later(t, 60, 200), self.update_software)
        latest = self._latest_release(t)
        if latest.at <= self.release.at:
            return
        self.advance(t)
        old, self.release = self.release.version, latest
        self.emit(t, EventType.SOFTWARE_UPDATED, SoftwareUpdate(t, latest.software))
        notes = f"Firmware {old} -> {latest.version} over the air." + (
            f" Mandated by {mandate}." if mandate else ""
        )
        record = MaintenanceRecord(
            t,
            MaintenanceKind.SOFTWARE_UPDATE,
            "firmware",
            None,
            f"{self.maker.name} OTA",
            round(self.hours, 1),
            notes,
        )
        self.emit(t, EventType.MAINTENANCE_RECORDED, record)

    def mandate(self, t: datetime) -> None:
        if not self.in_service:
            return
        m = self.fleet.mandate
        required = self._latest_release(t)
        self.emit(
            t, EventType.UPDATE_MANDATED, MandatedUpdate(m.reference, required.version, m.due)
        )
        if self.release.at < required.at:  # most comply in time, some are late
            self.at(self.later(t, 3, 110), self.update_software, m.reference)

    def recall(self, t: datetime) -> None:
        if not self.in_service:
            return
        r = self.fleet.recall
        self.emit(t, EventType.RECALL_ISSUED, Recall(r.reference, t, r.description, None))
        if self.rng.random() < 0.88:
            self.at(self.later(t, 7, 120), self.remedy)

    def remedy(self, t: datetime) -> None:
        if not self.in_service:
            return
        r = self.fleet.recall
        for component in r.components:
            family = "BAT" if component == "battery" else f"ACT-{joint_family(component)}"
            self.maintain(
                t,
                MaintenanceKind.REPLACEMENT,
                component,
                f"{self.maker.code}-{family}-R2",
                f"Recall {r.reference} remedy. ",
            )
        self.emit(t, EventType.RECALL_REMEDIED, RecallRemedy(r.reference, t))

    def certify(self, t: datetime, scheme: str) -> None:
        if scheme in self.certified or not self.in_service:
            return
        self.certified.add(scheme)
        name, issuer = _CERTIFIERS[scheme]
        number = f"{name}-{t:%y}-{self.rng.randrange(10**7):07d}"
        until = date(t.year + 5, t.month, min(t.day, 28))
        self.emit(t, EventType.CERTIFIED, Certification(name, issuer, number, until))

    # -- use and ownership

    def start_deployment(self, t: datetime) -> None:
        if not self.in_service or self.deployment is not None:
            return
        self.advance(t)
        rng = self.rng
        operator_id = self.owner_id  # a household or a business using its own robot
        if self.owner_kind is OwnerKind.NATURAL_PERSON:
            scenario, operator = Scenario.HOME, "Private household"  # no name: operator is COM
        elif self.lessor:
            scenario = Scenario[_weighted(rng, _USES[self.spec.category])]
            operator = self._company(self.where, scenario)
            operator_id = organisation_id(self.where.code, operator)
            self.region = self._home_region()
        else:
            scenario, operator = self.use, self.owner
        self.deployment = Deployment(t, None, scenario, self.region, operator, 0.0, operator_id)
        self.rate = rng.uniform(*_HOURS_PER_DAY[scenario])
        self.started_hours = self.hours
        self.emit(t, EventType.DEPLOYMENT_STARTED, self.deployment)
        end = self.later(t, 90, 540)
        if self.transfer_at is not None and t < self.transfer_at < end:
            end = self.transfer_at
        self.at(end, self.end_deployment, self.deployment)

    def _close_deployment(self, t: datetime) -> None:
        if self.deployment is None:
            return
        self.advance(t)
        used = round(self.hours - self.started_hours, 1)
        self.emit(t, EventType.DEPLOYMENT_ENDED, DeploymentEnd(t, used))
        self.deployment = None

    def end_deployment(self, t: datetime, deployment: Deployment) -> None:
        if deployment is not self.deployment or not self.in_service:
            return
        self._close_deployment(t)
        if self.transfer_at is not None and t >= self.transfer_at:
            self.transfer_at = None
            self.at(self.later(t, 1, 14), self.transfer)
        else:
            self.at(self.later(t, 2, 30), self.start_deployment)

    def transfer(self, t: datetime) -> None:
        """Resale: to a business at home or abroad, sometimes to a private household."""
        if not self.in_service:
            return
        rng = self.rng
        abroad = rng.random() < 0.35
        self.jurisdiction = rng.choice(EXPORTS[self.home.code]) if abroad else self.home.code
        country = self.where
        self.region = rng.choice(country.regions)
        if rng.random() < 0.2:
            self.owner_kind, self.lessor = OwnerKind.NATURAL_PERSON, False
            self.owner = self._person(country)
            self.owner_id = self._person_id(t)
        else:
            self.owner_kind, self.lessor = OwnerKind.ORGANISATION, rng.random() < 0.2
            self.use = Scenario[_weighted(rng, _USES[self.spec.category])]
            self.owner = (
                self._lessor_name(country) if self.lessor else self._company(country, self.use)
            )
            self.owner_id = organisation_id(country.code, self.owner)
        body = OwnershipTransfer(t, self.owner, self.owner_kind, self.jurisdiction, self.owner_id)
        self.emit(t, EventType.OWNERSHIP_TRANSFERRED, body)
        if self.jurisdiction in _EU:  # placing on the EU market needs CE marking
            self.certify(t, "EU")
        self.at(self.later(t, 3, 25), self.start_deployment)

    def end_of_life(self, t: datetime, disposition: RobotStatus) -> None:
        if not self.in_service:
            return
        self._close_deployment(t)
        stem = self.rng.choice(self.where.stems)
        facility = (
            f"{stem} Resource Recycling {self.where.suffix}"
            if disposition is RobotStatus.SCRAPPED
            else f"{self.maker.name} Refurbishment Center"
        )
        self.emit(t, EventType.END_OF_LIFE, EndOfLife(t, disposition, facility))
        self.in_service = False

    def suspend(self, t: datetime) -> None:
        if not self.in_service:
            return
        self._close_deployment(t)
        reason = self.rng.choice(_SUSPENSION_REASONS)
        self.emit(t, EventType.STATUS_CHANGED, StatusChange(RobotStatus.SUSPENDED, reason))
        self.in_service = False


# -- public API ----------------------------------------------------------------------------


def synthetic_fleet(
    count: int,
    *,
    seed: int = 0,
    country: str = "CN",
    registry: str = "cn-heis",
    now: datetime = NOW,
    start: int = 0,
) -> Iterator[list[Event]]:
    """Yield each robot's full hash-chained event log, REGISTERED first.

    Deterministic in (seed, index): robot i is the same in a fleet of 10 or 10,000, on any
    machine. `country` picks the makers (CN, DE or FR) and the registry's jurisdiction.
    `start` is the first robot's index: a slice of a large fleet without the robots before it.
    """
    if count < 0 or start < 0:
        raise ValueError("count and start must not be negative")
    if country not in MAKERS:
        raise ValueError(f"no synthetic makers for {country!r}; use one of {sorted(MAKERS)}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    if now.date() < PRODUCTION_START + 60 * DAY:
        raise ValueError(f"now must be after {PRODUCTION_START + 60 * DAY}")
    fleet = _fleet(seed, country, registry, now)
    return (_Life(fleet, i).run() for i in range(start, start + count))
