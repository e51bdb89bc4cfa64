"""The Chinese humanoid robot registry's native record format ("cn-miit").

The registry's official schema is not public; this is the format as such a registry would
keep it, and this project's design: Beijing wall-clock times without offset, manufacturers
by Unified Social Credit Code, names in Chinese with optional English, national-standard
style numeric codes, integer percentages. Every value of a valid cn-miit document has an
exact canonical counterpart, so cn-miit -> canonical -> cn-miit is the identity; the other
way round loses fractions of a second and of a percent. See docs/formats/cn-miit.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from schema.code import CodeProfile, is_valid
from schema.codec import from_plain, to_plain
from schema.passport import (
    IncidentCategory,
    IncidentStatus,
    MaintenanceKind,
    OwnerKind,
    Passport,
    RobotStatus,
    RootCause,
    Scenario,
    Severity,
)

from .errors import InvalidDocument, Violation, pointer
from .format import Format
from .mapping import SAME, FieldRule, Transform
from .shape import Joint, Leaf, Obj, compile_shape
from .transforms import code_table, local_time, rounded_int

__all__ = [
    "FORMAT",
    "NAME",
    "SCHEMA_PATH",
    "decode",
    "encode",
    "from_canonical",
    "rules",
    "schema",
    "to_canonical",
    "validate",
]

NAME = "cn-miit"
SCHEMA_ID = "https://robopass.dev/schema/formats/cn-miit.schema.json"
SCHEMA_PATH = Path(__file__).parents[1] / "schema" / "formats" / "cn-miit.schema.json"
ZONE = "Asia/Shanghai"

# Codes in the style of the national standards: two digits, tens for the main class.
STATUS_CODES = {"ACTIVE": 10, "SUSPENDED": 20, "DECOMMISSIONED": 30, "SCRAPPED": 40}
STATUS = code_table(RobotStatus, STATUS_CODES)
SCENARIO_CODES = {
    "MANUFACTURING": 10,
    "LOGISTICS": 20,
    "SERVICE": 30,
    "HEALTHCARE": 40,
    "EDUCATION": 50,
    "HOME": 60,
    "RESEARCH": 90,
}
SCENARIO = code_table(Scenario, SCENARIO_CODES)
MAINTENANCE_CODES = {
    "INSPECTION": 10,
    "CALIBRATION": 20,
    "REPAIR": 30,
    "REPLACEMENT": 40,
    "SOFTWARE_UPDATE": 50,
}
MAINTENANCE = code_table(MaintenanceKind, MAINTENANCE_CODES)
# Accident grading in Chinese practice counts down: grade 1 (特别重大) is the gravest.
SEVERITY_CODES = {"CRITICAL": 1, "SERIOUS": 2, "MODERATE": 3, "MINOR": 4}
SEVERITY = code_table(Severity, SEVERITY_CODES)
CATEGORY_CODES = {
    "COLLISION": 10,
    "FALL": 20,
    "MALFUNCTION": 30,
    "THERMAL": 40,
    "CYBERSECURITY": 50,
    "OTHER": 99,
}
CATEGORY = code_table(IncidentCategory, CATEGORY_CODES)
CAUSE_CODES = {"HARDWARE": 10, "SOFTWARE": 20, "MAINTENANCE": 30, "OPERATOR": 40, "UNKNOWN": 99}
CAUSE = code_table(RootCause, CAUSE_CODES)
INCIDENT_STATUS_CODES = {"OPEN": 10, "UNDER_INVESTIGATION": 20, "CLOSED": 30}
INCIDENT_STATUS = code_table(IncidentStatus, INCIDENT_STATUS_CODES)
OWNER_KIND_CODES = {"ORGANISATION": 1, "NATURAL_PERSON": 2}
OWNER_KIND = code_table(OwnerKind, OWNER_KIND_CODES)
TIME = local_time(ZONE)
PERCENT = rounded_int("percent")

_LOCAL_TIME = {
    "type": "string",
    "pattern": r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]) "
    r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
    "format": "cn-local-date-time",
    "$comment": "Beijing time (Asia/Shanghai, UTC+8), no offset, whole seconds",
}
_DATE = {
    "type": "string",
    "pattern": r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
    "format": "date",
}
_TEXT = {"type": "string"}
_NAME = {"type": "string", "minLength": 1}
_PARTY = {
    "type": "string",
    "pattern": "^(uscc|lei|reg|person):",
    "$comment": "robopass party identifier: uscc:, lei:, reg:CC: or person: (docs/policies.md)",
}
_COUNTRY = {"type": "string", "pattern": "^[A-Z]{2}$", "$comment": "GB/T 2659.1 (ISO 3166-1)"}
_NUMBER = {"type": "number", "minimum": 0}
_COUNT = {"type": "integer", "minimum": 0}
_PCT = {"type": "integer", "minimum": 0, "maximum": 100}
_USCC = {"type": "string", "pattern": "^[0-9A-HJ-NP-RTUWXY]{18}$"}


def _coded(canon: str, native: str, transform: Transform, codes: Iterable[int]) -> Leaf:
    return Leaf(canon, native, transform, {"type": "integer", "enum": sorted(codes)})


def _time(canon: str, native: str) -> Leaf:
    return Leaf(canon, native, TIME, _LOCAL_TIME)


def _encode_names(src: dict[str, Any], out: dict[str, Any]) -> None:
    """A withheld `name_local` reads as none, so `name` is then written as the only name."""
    name, local = src.get("name"), src.get("name_local")
    if local is None:
        if name is not None:
            out["name_zh"] = name
    else:
        out["name_zh"] = local
        if name is not None:
            out["name_en"] = name


def _decode_names(src: dict[str, Any], out: dict[str, Any]) -> None:
    english = src.get("name_en")
    if english is None:
        out["name"], out["name_local"] = src["name_zh"], None
    else:
        out["name"], out["name_local"] = english, src["name_zh"]


_NAMES = Joint(
    fields=(
        ("name", "name_en|name_zh", Transform("English name; the Chinese name when none")),
        ("name_local", "name_zh", Transform("Chinese name; absent when it is the only name")),
    ),
    encode=_encode_names,
    decode=_decode_names,
    schema={
        "properties": {
            "name_zh": {**_NAME, "description": "Registered name in Chinese."},
            "name_en": {**_NAME, "description": "Registered English name, if any."},
        },
        "required": ["name_zh"],
    },
)


def _encode_registration(src: dict[str, Any], out: dict[str, Any]) -> None:
    """The id's key depends on the country: with the country withheld, the id is left out."""
    country = src.get("country")
    if country is None:
        return
    out["country"] = country
    registration_id = src.get("registration_id")
    if registration_id is not None:
        out["uscc" if country == "CN" else "foreign_reg_no"] = registration_id


def _decode_registration(src: dict[str, Any], out: dict[str, Any]) -> None:
    country = out["country"] = src["country"]
    out["registration_id"] = src["uscc" if country == "CN" else "foreign_reg_no"]


_REGISTRATION = Joint(
    fields=(
        ("registration_id", "uscc|foreign_reg_no", Transform("USCC for CN makers, else foreign")),
        ("country", "country", SAME),
    ),
    encode=_encode_registration,
    decode=_decode_registration,
    schema={
        "properties": {
            "country": {**_COUNTRY, "description": "Country of the manufacturer."},
            "uscc": {**_USCC, "description": "Unified Social Credit Code (GB 32100)."},
            "foreign_reg_no": {**_NAME, "description": "Registration id of a foreign maker."},
        },
        "required": ["country"],
        "allOf": [
            {
                "if": {"properties": {"country": {"const": "CN"}}},
                "then": {"required": ["uscc"], "properties": {"foreign_reg_no": False}},
                "else": {"required": ["foreign_reg_no"], "properties": {"uscc": False}},
            }
        ],
    },
)

SPEC = [
    Obj(
        "identity",
        None,
        [
            Leaf("code", "rbt_code", SAME, {"type": "string", "format": "robot-code"}),
            _coded("status", "rbt_status", STATUS, STATUS_CODES.values()),
            Leaf("home_registry", "reg_org", SAME, _NAME),
            _time("registered_at", "reg_time"),
        ],
    ),
    Obj(
        "manufacturer",
        "mfr",
        [_NAMES, _REGISTRATION, Leaf("contact", "contact", SAME, _TEXT)],
    ),
    Obj(
        "model",
        "model",
        [
            Leaf("designation", "model_no", SAME, _NAME),
            Leaf("category", "category", SAME, _NAME),
            Leaf("production_date", "prod_date", SAME, _DATE),
            Leaf("serial", "serial_no", SAME, _NAME),
        ],
    ),
    Obj(
        "hardware",
        "hw",
        [
            Leaf("degrees_of_freedom", "dof", SAME, _COUNT),
            Leaf("mass_kg", "mass_kg", SAME, _NUMBER),
            Leaf("height_mm", "height_mm", SAME, _COUNT),
            Leaf("compute", "compute", SAME, _TEXT),
            Obj(
                "battery",
                "battery",
                [
                    Leaf("chemistry", "chem", SAME, _TEXT),
                    Leaf("capacity_wh", "cap_wh", SAME, _NUMBER),
                    Leaf("nominal_voltage_v", "volt_v", SAME, _NUMBER),
                    Leaf("pack_id", "pack_no", SAME, _TEXT),
                ],
            ),
            Obj(
                "sensors",
                "sensors",
                [
                    Leaf("kind", "type", SAME, _TEXT),
                    Leaf("model", "model", SAME, _TEXT),
                    Leaf("count", "qty", SAME, _COUNT),
                ],
            ),
            Obj(
                "actuators",
                "actuators",
                [
                    Leaf("joint", "joint", SAME, _TEXT),
                    Leaf("kind", "type", SAME, _TEXT),
                    Leaf("rated_torque_nm", "torque_nm", SAME, _NUMBER),
                ],
            ),
        ],
    ),
    Obj(
        "software",
        "sw",
        [
            Leaf("firmware_version", "fw_ver", SAME, _TEXT),
            Leaf("operating_system", "os", SAME, _TEXT),
            Obj(
                "ai_models",
                "ai_models",
                [
                    Leaf("name", "name", SAME, _TEXT),
                    Leaf("version", "ver", SAME, _TEXT),
                    Leaf("provider", "provider", SAME, _TEXT),
                    Leaf("purpose", "purpose", SAME, _TEXT),
                ],
            ),
        ],
    ),
    Obj(
        "compliance",
        "compliance",
        [
            Obj(
                "certifications",
                "certs",
                [
                    Leaf("name", "name", SAME, _NAME),
                    Leaf("issuer", "issuer", SAME, _TEXT),
                    Leaf("number", "cert_no", SAME, _NAME),
                    Leaf("valid_until", "expiry_date", SAME, _DATE),
                ],
            ),
            Obj(
                "mandated_updates",
                "mandated_updates",
                [
                    Leaf("reference", "ref_no", SAME, _NAME),
                    Leaf("required_version", "min_fw_ver", SAME, _TEXT),
                    Leaf("due", "due_date", SAME, _DATE),
                ],
            ),
            Obj(
                "recalls",
                "recalls",
                [
                    Leaf("reference", "ref_no", SAME, _NAME),
                    _time("issued_at", "issue_time"),
                    Leaf("description", "desc", SAME, _TEXT),
                    _time("remedied_at", "remedy_time"),
                ],
            ),
            Obj(
                "end_of_life",
                "eol",
                [
                    _time("at", "time"),
                    _coded("disposition", "disposition", STATUS, [30, 40]),
                    Leaf("facility", "facility", SAME, _TEXT),
                ],
            ),
        ],
    ),
    Obj(
        "deployments",
        "deploy_recs",
        [
            _time("start", "start_time"),
            _time("end", "end_time"),
            _coded("scenario", "scene", SCENARIO, SCENARIO_CODES.values()),
            Leaf("region", "region", SAME, _NAME),
            Leaf("operator", "operator", SAME, _TEXT),
            Leaf("operating_hours", "run_hours", SAME, _NUMBER),
            Leaf("operator_id", "operator_id", SAME, _PARTY),
        ],
    ),
    Obj(
        "maintenance",
        "maint_recs",
        [
            _time("at", "time"),
            _coded("kind", "type", MAINTENANCE, MAINTENANCE_CODES.values()),
            Leaf("component", "component", SAME, _TEXT),
            Leaf("part_number", "part_no", SAME, _TEXT),
            Leaf("performed_by", "provider", SAME, _TEXT),
            Leaf("hours_at_service", "run_hours", SAME, _NUMBER),
            Leaf("notes", "remark", SAME, _TEXT),
        ],
    ),
    Obj(
        "incidents",
        "incident_recs",
        [
            Leaf("id", "incident_no", SAME, _NAME),
            _time("at", "time"),
            _coded("severity", "level", SEVERITY, SEVERITY_CODES.values()),
            _coded("category", "type", CATEGORY, CATEGORY_CODES.values()),
            _coded("root_cause", "cause", CAUSE, CAUSE_CODES.values()),
            Leaf("description", "desc", SAME, _TEXT),
            Leaf("reported_to", "reported_to", SAME, _TEXT),
            _coded("status", "status", INCIDENT_STATUS, INCIDENT_STATUS_CODES.values()),
            Leaf("findings", "findings", SAME, _TEXT),
        ],
    ),
    Obj(
        "conditions",
        "condition_recs",
        [
            _time("at", "time"),
            Leaf("operating_hours", "run_hours", SAME, _NUMBER),
            Leaf("battery_health_pct", "battery_soh_pct", PERCENT, _PCT),
            Leaf("charge_cycles", "charge_cycles", SAME, _COUNT),
            Leaf("movement_precision_mm", "precision_mm", SAME, _NUMBER),
            Leaf("abnormal_stress_events", "stress_events", SAME, _COUNT),
            Obj(
                "joint_wear",
                "joint_wear",
                [Leaf("joint", "joint", SAME, _TEXT), Leaf("wear_pct", "wear_pct", PERCENT, _PCT)],
            ),
        ],
    ),
    Obj(
        "ownership",
        "owner_recs",
        [
            _time("start", "start_time"),
            _time("end", "end_time"),
            Leaf("owner", "owner_name", SAME, _NAME),
            _coded("owner_kind", "owner_type", OWNER_KIND, OWNER_KIND_CODES.values()),
            Leaf("jurisdiction", "country", SAME, _COUNTRY),
            Leaf("owner_id", "owner_id", SAME, _PARTY),
        ],
    ),
]

_SHAPE = compile_shape(Passport, SPEC)

encode = _SHAPE.encode
"""Canonical plain data -> cn-miit document (no validation)."""
decode = _SHAPE.decode
"""cn-miit document -> canonical plain data (no validation)."""


def rules() -> list[FieldRule]:
    """The field rules the cn-miit translation runs on."""
    return list(_SHAPE.rules)


def schema() -> dict[str, Any]:
    """The cn-miit JSON Schema (draft 2020-12), generated from the same specs as the code."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "cn-miit humanoid robot registry record",
        "description": (
            "A robot's record in the format of the Chinese humanoid robot registry as designed "
            "by robopass (the official schema is not public). Times are Beijing time without "
            "offset; see docs/formats/cn-miit.md."
        ),
        **_SHAPE.schema,
    }


_FORMATS = FormatChecker(formats=["date"])


@_FORMATS.checks("cn-local-date-time", raises=ValueError)
def _is_local_time(value: object) -> bool:
    if isinstance(value, str):
        TIME.decode(value)
    return True


@_FORMATS.checks("robot-code")
def _is_robot_code(value: object) -> bool:
    return not isinstance(value, str) or (
        value == value.strip().upper() and is_valid(value, CodeProfile.PUBLISHED)
    )


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text()), format_checker=_FORMATS)


def validate(doc: Any) -> None:
    """Raise `InvalidDocument` listing every schema violation of a cn-miit document."""
    violations = [
        Violation(pointer(e.absolute_path), e.message) for e in _validator().iter_errors(doc)
    ]
    if violations:
        raise InvalidDocument(NAME, violations)


def to_canonical(doc: dict[str, Any], *, check: bool = True) -> Passport:
    """Read a cn-miit document; with `check` it is validated first."""
    if check:
        validate(doc)
    return from_plain(Passport, decode(doc))


def from_canonical(passport: Passport) -> dict[str, Any]:
    """Write a passport as a cn-miit document."""
    return encode(to_plain(passport))


FORMAT = Format(NAME, tuple(_SHAPE.rules), validate, decode, encode)
