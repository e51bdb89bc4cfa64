"""The history report as data: what one viewer may see of one robot.

Built by pure functions from a passport, its event log, its chain check and
the viewer's mask (the same mask GraphQL applies). A value the mask hides
never enters the model: its place holds a `Restricted` marker naming the
canonical path, so no template can show it by mistake.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from functools import cache
from typing import Any

from gateway.service.export import EXPORT_FORMATS
from schema.code import RobotCode
from schema.events import DISCLOSES, ChainReport, Event, EventType, decode_payload
from schema.fields import field_classes
from schema.passport import MaintenanceKind, Passport
from schema.source import LogInclusion, RobotRecord


@dataclass(frozen=True, slots=True)
class Restricted:
    """Stands where a value is that this viewer may not see."""

    path: str


def shown(mask: Container[str], path: str, value: Any) -> Any:
    """`value` when the viewer may see `path`, else a `Restricted` marker."""
    return value if path in mask else Restricted(path)


@dataclass(frozen=True, slots=True)
class Segment:
    """One group of the robot code and what it decodes to."""

    name: str
    value: str
    meaning: str | None = None


@dataclass(frozen=True, slots=True)
class IdentityCard:
    code: str
    grouped: str
    segments: tuple[Segment, ...]
    manufacturer: str | Restricted
    manufacturer_local: str | Restricted | None
    model: str | Restricted
    category: str | Restricted
    status: str | Restricted
    home_registry: str | Restricted
    registered_at: datetime | Restricted


@dataclass(frozen=True, slots=True)
class Summary:
    """The figures a buyer reads in ten seconds."""

    owners: int | Restricted
    current_owner: str | Restricted | None
    countries: tuple[str, ...] | Restricted
    operating_hours: float | Restricted | None
    maintenance_count: int | Restricted
    last_inspection: datetime | Restricted | None
    incidents: int | Restricted
    root_causes: tuple[tuple[str, int], ...] | Restricted
    battery_health: float | Restricted | None
    open_recalls: tuple[str, ...] | Restricted


@dataclass(frozen=True, slots=True)
class Detail:
    """One labelled value of a timeline entry; `enum` values are translated."""

    label: str
    value: Any
    enum: bool = False


@dataclass(frozen=True, slots=True)
class Entry:
    """One dated line of the timeline."""

    at: datetime
    kind: str
    details: tuple[Detail, ...]


@dataclass(frozen=True, slots=True)
class Point:
    at: datetime
    value: float


@dataclass(frozen=True, slots=True)
class Series:
    key: str
    points: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class Chart:
    """A measure over time; `series` is `Restricted` when the viewer may not see it."""

    key: str
    unit: str
    series: tuple[Series, ...] | Restricted
    y_range: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class Integrity:
    """The chain check as of this request; `checked` is False if the source had none."""

    checked: bool
    verified: bool
    length: int
    head_hash: str
    first_bad: int | None
    reason: str | None
    registry: str | Restricted
    log: LogInclusion | None = None
    """The checkpoint of the registry's transparency log the gateway proved this version
    in, when it checks one; None too for a viewer who may not see the home registry,
    which the log's name would tell."""


@dataclass(frozen=True, slots=True)
class Report:
    code: str
    version: int
    as_of: datetime | None
    card: IdentityCard
    summary: Summary
    timeline: tuple[Entry, ...]
    hidden: tuple[str, ...]
    charts: tuple[Chart, ...]
    integrity: Integrity
    exports: tuple[str, ...] = EXPORT_FORMATS


def build_report(
    record: RobotRecord,
    events: Iterable[Event],
    chain: ChainReport | None,
    mask: Container[str],
    log: LogInclusion | None = None,
) -> Report:
    """The report of `record` for a viewer with `mask`; `events` is the robot's log,
    `log` where its version was proven in its registry's transparency log."""
    p = record.passport
    timeline, hidden = build_timeline(p, events, mask)
    return Report(
        code=p.code,
        version=record.head.sequence,
        as_of=record.as_of,
        card=identity_card(p, mask),
        summary=summarise(p, mask),
        timeline=timeline,
        hidden=hidden,
        charts=build_charts(p, mask),
        integrity=integrity(p, chain, mask, log),
    )


def decode_segments(code: str) -> tuple[Segment, ...]:
    """The code's segments with what each decodes to (date, category letter)."""
    parsed = RobotCode.parse(code)
    meanings: dict[str, str | None] = {
        "country": parsed.country,
        "model": parsed.category.name if parsed.category else None,
        "production_date": parsed.production_date.isoformat() if parsed.production_date else None,
    }
    return tuple(
        Segment(name, value, meanings.get(name)) for name, value in parsed.segments().items()
    )


def identity_card(p: Passport, mask: Container[str]) -> IdentityCard:
    return IdentityCard(
        code=p.code,
        grouped=RobotCode.parse(p.code).grouped(),
        segments=decode_segments(p.code),
        manufacturer=shown(mask, "manufacturer.name", p.manufacturer.name),
        manufacturer_local=shown(mask, "manufacturer.name_local", p.manufacturer.name_local),
        model=shown(mask, "model.designation", p.model.designation),
        category=shown(mask, "model.category", p.model.category),
        status=shown(mask, "identity.status", p.identity.status.value),
        home_registry=shown(mask, "identity.home_registry", p.identity.home_registry),
        registered_at=shown(mask, "identity.registered_at", p.identity.registered_at),
    )


def _all_in(mask: Container[str], *paths: str) -> bool:
    return all(path in mask for path in paths)


def _gated(mask: Container[str], paths: Sequence[str], compute: Callable[[], Any]) -> Any:
    """`compute()` when every path is visible, else `Restricted` naming the first hidden one."""
    hidden = next((path for path in paths if path not in mask), None)
    return compute() if hidden is None else Restricted(hidden)


def summarise(p: Passport, mask: Container[str]) -> Summary:
    latest = p.condition
    inspections = [m.at for m in p.maintenance if m.kind is MaintenanceKind.INSPECTION]
    causes = Counter(i.root_cause.value for i in p.incidents)
    return Summary(
        owners=_gated(mask, ["ownership"], lambda: len(p.ownership)),
        current_owner=_gated(
            mask,
            ["ownership", "ownership.owner"],
            lambda: p.current_owner.owner if p.current_owner else None,
        ),
        countries=_gated(
            mask,
            ["ownership", "ownership.jurisdiction"],
            lambda: tuple(dict.fromkeys(o.jurisdiction for o in p.ownership)),
        ),
        operating_hours=_gated(
            mask,
            ["conditions", "conditions.operating_hours"],
            lambda: latest.operating_hours if latest else None,
        ),
        maintenance_count=_gated(mask, ["maintenance"], lambda: len(p.maintenance)),
        last_inspection=_gated(
            mask,
            ["maintenance", "maintenance.kind", "maintenance.at"],
            lambda: max(inspections, default=None),
        ),
        incidents=_gated(mask, ["incidents"], lambda: len(p.incidents)),
        root_causes=_gated(
            mask,
            ["incidents", "incidents.root_cause"],
            lambda: tuple(sorted(causes.items(), key=lambda kv: (-kv[1], kv[0]))),
        ),
        battery_health=_gated(
            mask,
            ["conditions", "conditions.battery_health_pct"],
            lambda: latest.battery_health_pct if latest else None,
        ),
        open_recalls=_gated(
            mask,
            [
                "compliance.recalls",
                "compliance.recalls.reference",
                "compliance.recalls.remedied_at",
            ],
            lambda: tuple(r.reference for r in p.compliance.recalls if r.remedied_at is None),
        ),
    )


@cache
def _subtree(prefix: str) -> tuple[str, ...]:
    return tuple(p for p in field_classes() if p == prefix or p.startswith(prefix + "."))


def discloses(event_type: EventType, mask: Container[str]) -> bool:
    """The GraphQL history rule: an event shows only if every path it touches is visible."""
    return all(path in mask for prefix in DISCLOSES[event_type] for path in _subtree(prefix))


def _detail(mask: Container[str], label: str, path: str, value: Any, enum: bool = False) -> Detail:
    return Detail(label, shown(mask, path, value), enum)


def build_timeline(
    p: Passport, events: Iterable[Event], mask: Container[str]
) -> tuple[tuple[Entry, ...], tuple[str, ...]]:
    """Dated entries oldest first, and the kinds of history this viewer may not see."""
    entries: list[Entry] = []
    hidden: list[str] = []

    def section(kind: str, *dated: str) -> bool:
        ok = _all_in(mask, *dated)
        if not ok:
            hidden.append(kind)
        return ok

    if "identity.registered_at" in mask:
        entries.append(
            Entry(
                p.identity.registered_at,
                "registered",
                (_detail(mask, "registry", "identity.home_registry", p.identity.home_registry),),
            )
        )
    if section("ownership", "ownership", "ownership.start"):
        for o in p.ownership:
            details: tuple[Detail, ...] = (
                _detail(mask, "owner", "ownership.owner", o.owner),
                _detail(mask, "owner_kind", "ownership.owner_kind", o.owner_kind.value, True),
                _detail(mask, "country", "ownership.jurisdiction", o.jurisdiction),
            )
            entries.append(Entry(o.start, "ownership", details))
    if section("deployments", "deployments", "deployments.start"):
        for d in p.deployments:
            details = (
                _detail(mask, "scenario", "deployments.scenario", d.scenario.value, True),
                _detail(mask, "region", "deployments.region", d.region),
                _detail(mask, "operator", "deployments.operator", d.operator),
                _detail(mask, "until", "deployments.end", d.end.date() if d.end else None),
            )
            if d.end is not None:
                details += (
                    _detail(mask, "hours", "deployments.operating_hours", d.operating_hours),
                )
            entries.append(Entry(d.start, "deployment", details))
    if section("maintenance", "maintenance", "maintenance.at"):
        for m in p.maintenance:
            details = (
                _detail(mask, "work", "maintenance.kind", m.kind.value, True),
                _detail(mask, "component", "maintenance.component", m.component),
                _detail(mask, "performed_by", "maintenance.performed_by", m.performed_by),
            )
            entries.append(Entry(m.at, "maintenance", details))
    if section("incidents", "incidents", "incidents.at"):
        for i in p.incidents:
            details = (
                _detail(mask, "severity", "incidents.severity", i.severity.value, True),
                _detail(mask, "category", "incidents.category", i.category.value, True),
                _detail(mask, "root_cause", "incidents.root_cause", i.root_cause.value, True),
                _detail(mask, "status", "incidents.status", i.status.value, True),
                _detail(mask, "description", "incidents.description", i.description),
                _detail(mask, "findings", "incidents.findings", i.findings),
            )
            entries.append(Entry(i.at, "incident", details))
    if discloses(EventType.SOFTWARE_UPDATED, mask):
        for e in events:
            if e.type is EventType.SOFTWARE_UPDATED:
                update = decode_payload(e.type, e.payload)
                firmware = update.software.firmware_version
                entries.append(Entry(update.at, "software", (Detail("firmware", firmware),)))
    else:
        hidden.append("software")
    if section("recalls", "compliance.recalls", "compliance.recalls.issued_at"):
        for r in p.compliance.recalls:
            details = (
                _detail(mask, "reference", "compliance.recalls.reference", r.reference),
                _detail(mask, "description", "compliance.recalls.description", r.description),
                _detail(
                    mask,
                    "remedied",
                    "compliance.recalls.remedied_at",
                    r.remedied_at.date() if r.remedied_at else None,
                ),
            )
            entries.append(Entry(r.issued_at, "recall", details))
    eol = p.compliance.end_of_life
    if eol is not None and _all_in(mask, "compliance.end_of_life", "compliance.end_of_life.at"):
        details = (
            _detail(
                mask, "status", "compliance.end_of_life.disposition", eol.disposition.value, True
            ),
        )
        entries.append(Entry(eol.at, "end_of_life", details))
    entries.sort(key=lambda entry: entry.at)
    return tuple(entries), tuple(hidden)


def build_charts(p: Passport, mask: Container[str]) -> tuple[Chart, ...]:
    snapshots = p.conditions

    def series(key: str, values: Iterable[tuple[datetime, float]]) -> Series:
        return Series(key, tuple(Point(at, value) for at, value in values))

    def wear() -> tuple[Series, ...]:
        with_joints = [s for s in snapshots if s.joint_wear]
        return (
            series("max", ((s.at, max(j.wear_pct for j in s.joint_wear)) for s in with_joints)),
            series(
                "mean",
                (
                    (s.at, round(sum(j.wear_pct for j in s.joint_wear) / len(s.joint_wear), 2))
                    for s in with_joints
                ),
            ),
        )

    return (
        Chart(
            "battery",
            "%",
            _gated(
                mask,
                ["conditions", "conditions.at", "conditions.battery_health_pct"],
                lambda: (series("battery", ((s.at, s.battery_health_pct) for s in snapshots)),),
            ),
            (0.0, 100.0),
        ),
        Chart(
            "wear",
            "%",
            _gated(
                mask,
                [
                    "conditions",
                    "conditions.at",
                    "conditions.joint_wear",
                    "conditions.joint_wear.wear_pct",
                ],
                wear,
            ),
            (0.0, 100.0),
        ),
        Chart(
            "precision",
            "mm",
            _gated(
                mask,
                ["conditions", "conditions.at", "conditions.movement_precision_mm"],
                lambda: (
                    series("precision", ((s.at, s.movement_precision_mm) for s in snapshots)),
                ),
            ),
        ),
    )


def integrity(
    p: Passport, chain: ChainReport | None, mask: Container[str], log: LogInclusion | None = None
) -> Integrity:
    registry = shown(mask, "identity.home_registry", p.identity.home_registry)
    if isinstance(registry, Restricted):
        log = None
    if chain is None:
        return Integrity(False, False, 0, "", None, None, registry, log)
    return Integrity(
        True,
        chain.verified,
        chain.length,
        chain.head_hash,
        chain.first_bad,
        chain.reason,
        registry,
        log,
    )


def has_restricted(value: Any) -> bool:
    """Whether anything in a report (or part of one) is withheld from its viewer."""
    if isinstance(value, Restricted):
        return True
    if isinstance(value, Report) and value.hidden:
        return True
    if is_dataclass(value):
        return any(has_restricted(getattr(value, f.name)) for f in fields(value))
    if isinstance(value, tuple):
        return any(has_restricted(v) for v in value)
    return False
