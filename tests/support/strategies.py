"""Hypothesis strategies for random valid passports, shared by every test that needs one.

Valid means: every adapter can express it. Times are UTC, whole seconds, between 2000 and
2099 (a Beijing wall-clock time of the same years); percentages lie in 0-100; a Chinese
maker has a valid USCC; text mixes Latin and Chinese script.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import strategies as st

from schema.code import SAFE, RobotCode
from schema.passport import (
    Actuator,
    AiModel,
    Battery,
    Certification,
    Compliance,
    ConditionSnapshot,
    Deployment,
    EndOfLife,
    Hardware,
    Identity,
    Incident,
    IncidentCategory,
    IncidentStatus,
    JointWear,
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
    Software,
)
from schema.uscc import generate_uscc

__all__ = ["passports", "robot_codes", "utc_times"]

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
COUNTRIES = ["CN", "DE", "US", "JP", "FR", "KR", "SG", "BR", "GB"]
# Latin letters, digits, punctuation, a few accented letters and 300 common CJK ideographs.
ALPHABET = (
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 -_.,/#()&"
    + "éüßÅ"
    + "".join(chr(c) for c in range(0x4E00, 0x4E00 + 300))
)
CHINESE = st.text(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=2, max_size=12
)

text = st.text(ALPHABET, max_size=40)
names = st.text(ALPHABET, min_size=1, max_size=40).map(str.strip).filter(bool)
countries = st.sampled_from(COUNTRIES)
quantities = st.floats(0, 1_000_000, allow_nan=False, allow_infinity=False)
percentages = st.floats(0, 100, allow_nan=False, allow_infinity=False)
counts = st.integers(0, 1_000_000)
dates = st.dates(date(2000, 1, 1), date(2099, 12, 31))


def utc_times() -> st.SearchStrategy[datetime]:
    """Timezone-aware UTC datetimes with whole seconds, 2000-2099 in Beijing too."""
    return st.datetimes(
        datetime(2000, 1, 1), datetime(2099, 12, 31, 15, 59, 59), timezones=st.just(UTC)
    ).map(lambda t: t.replace(microsecond=0))


times = utc_times()


@st.composite
def robot_codes(draw: st.DrawFn, country: str = "CN") -> str:
    safe = st.sampled_from(SAFE)
    return RobotCode.generate(
        country,
        "".join(draw(st.lists(safe, min_size=4, max_size=4))),
        draw(st.sampled_from("HWTX")) + "".join(draw(st.lists(safe, min_size=5, max_size=5))),
        draw(st.dates(date(2000, 1, 1), date(2099, 12, 31))),
        draw(safe),
        draw(st.integers(0, 999_999_999)),
    ).value


@st.composite
def manufacturers(draw: st.DrawFn) -> Manufacturer:
    country = draw(st.sampled_from(["CN", "CN", "CN", "DE", "US", "JP"]))
    if country == "CN":
        body = "".join(draw(st.lists(st.sampled_from(USCC_ALPHABET), min_size=17, max_size=17)))
        registration_id = generate_uscc(body)
    else:
        registration_id = draw(st.from_regex(r"[A-Z]{2}[0-9]{6,12}", fullmatch=True))
    local = draw(st.none() | CHINESE)
    return Manufacturer(
        name=draw(CHINESE) if local is None and country == "CN" else draw(names),
        name_local=local,
        registration_id=registration_id,
        country=country,
        contact=draw(st.none() | st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.cn", fullmatch=True)),
    )


def _optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | strategy


def _history(strategy: st.SearchStrategy, max_size: int = 4) -> st.SearchStrategy:
    return st.lists(strategy, max_size=max_size)


hardware = st.builds(
    Hardware,
    degrees_of_freedom=st.integers(0, 80),
    mass_kg=quantities,
    height_mm=st.integers(0, 3000),
    compute=text,
    battery=st.builds(
        Battery, chemistry=text, capacity_wh=quantities, nominal_voltage_v=quantities, pack_id=text
    ),
    sensors=_history(st.builds(Sensor, kind=text, model=_optional(text), count=counts)),
    actuators=_history(
        st.builds(Actuator, joint=text, kind=text, rated_torque_nm=quantities), max_size=6
    ),
)

software = st.builds(
    Software,
    firmware_version=text,
    operating_system=text,
    ai_models=_history(st.builds(AiModel, name=text, version=text, provider=text, purpose=text)),
)

compliance = st.builds(
    Compliance,
    certifications=_history(
        st.builds(
            Certification, name=names, issuer=text, number=names, valid_until=_optional(dates)
        )
    ),
    mandated_updates=_history(
        st.builds(MandatedUpdate, reference=names, required_version=text, due=dates)
    ),
    recalls=_history(
        st.builds(
            Recall,
            reference=names,
            issued_at=times,
            description=text,
            remedied_at=_optional(times),
        )
    ),
    end_of_life=_optional(
        st.builds(
            EndOfLife,
            at=times,
            disposition=st.sampled_from([RobotStatus.DECOMMISSIONED, RobotStatus.SCRAPPED]),
            facility=_optional(text),
        )
    ),
)

deployments = st.builds(
    Deployment,
    start=times,
    end=_optional(times),
    scenario=st.sampled_from(Scenario),
    region=names,
    operator=text,
    operating_hours=quantities,
)

maintenance = st.builds(
    MaintenanceRecord,
    at=times,
    kind=st.sampled_from(MaintenanceKind),
    component=text,
    part_number=_optional(text),
    performed_by=text,
    hours_at_service=quantities,
    notes=_optional(text),
)

incidents = st.builds(
    Incident,
    id=names,
    at=times,
    severity=st.sampled_from(Severity),
    category=st.sampled_from(IncidentCategory),
    root_cause=st.sampled_from(RootCause),
    description=text,
    reported_to=_optional(text),
    status=st.sampled_from(IncidentStatus),
    findings=_optional(text),
)

conditions = st.builds(
    ConditionSnapshot,
    at=times,
    operating_hours=quantities,
    battery_health_pct=percentages,
    charge_cycles=counts,
    movement_precision_mm=quantities,
    abnormal_stress_events=counts,
    joint_wear=_history(st.builds(JointWear, joint=text, wear_pct=percentages), max_size=6),
)

ownership = st.builds(
    Ownership,
    start=times,
    end=_optional(times),
    owner=names,
    owner_kind=st.sampled_from(OwnerKind),
    jurisdiction=countries,
)


@st.composite
def passports(draw: st.DrawFn) -> Passport:
    """A random valid passport; histories are short so that examples stay quick."""
    return Passport(
        identity=Identity(
            code=draw(robot_codes()),
            status=draw(st.sampled_from(RobotStatus)),
            home_registry=draw(st.sampled_from(["CN-MIIT", "cn-heis-01", "CN 国家平台"])),
            registered_at=draw(times),
        ),
        manufacturer=draw(manufacturers()),
        model=Model(
            designation=draw(names),
            category=draw(st.sampled_from(["BIPED_HUMANOID", "WHEELED_HUMANOID", "双足人形"])),
            production_date=draw(dates),
            serial=draw(names),
        ),
        hardware=draw(hardware),
        software=draw(software),
        compliance=draw(compliance),
        deployments=draw(_history(deployments)),
        maintenance=draw(_history(maintenance)),
        incidents=draw(_history(incidents)),
        conditions=draw(_history(conditions)),
        ownership=draw(_history(ownership)),
    )
