"""Canonical passport <-> UN Transparency Protocol Digital Product Passport 0.6.1 credential.

The credential (W3C VC Data Model 2.0 shape, unsigned: signing is the issuer's business)
describes the robot as a product: identity, maker, dimensions, category, certifications.
Hardware and software details go to `product.characteristics`, the standard's extension
point. A product passport has no place for a robot's life (deployments, maintenance,
incidents, condition, owners) nor for recalls and mandates: those fields are UNMAPPED,
dropped on export and defaulted to empty on import, and the loss report says so.

Each `Slot` binds one canonical field to a JSON pointer in the credential (`*` for list
items); the translation and the mapping table are both computed from `SLOTS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from jsonschema import Draft202012Validator

from schema.codec import from_plain, to_plain
from schema.fields import leaf_paths
from schema.passport import Passport

from .errors import InvalidDocument, Violation, pointer
from .format import Format, Plain
from .mapping import SAME, FieldRule, Transform, unmapped
from .shape import complete
from .untp_writer import Write, compile_writer

__all__ = ["FORMAT", "NAME", "SCHEMA_PATH", "decode", "encode", "from_canonical", "to_canonical"]

NAME = "untp-dpp"
CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://test.uncefact.org/vocabulary/untp/dpp/0.6.1/",
]
SCHEMA_PATH = Path(__file__).parents[1] / "schema" / "formats" / "untp-dpp.schema.json"
P = "/credentialSubject/product"
C = f"{P}/characteristics"
CLAIM = "/credentialSubject/conformityClaim/*"


@dataclass(frozen=True, slots=True)
class Slot:
    """One canonical field at one pointer. `read` takes the canonical object holding the
    field, so a value may be built from its siblings (a party id from country and id)."""

    path: str
    location: str
    transform: Transform = SAME
    read: Callable[[Plain], Any] | None = None


@lru_cache(maxsize=4096)
def _quoted(text: str, safe: str = "") -> str:
    """`text` percent-encoded for a URI, remembered: registries, makers, issuers and
    categories recur across robots, and `quote` costs more than the rest of a field."""
    return quote(text, safe=safe)


def _party_id(maker: Plain) -> str | None:
    country, registration_id = maker.get("country"), maker.get("registration_id")
    if country is None or registration_id is None:
        return None
    return f"urn:robopass:party:{country}:{_quoted(registration_id)}"


def _country_of_party(party_id: str) -> str:
    return party_id.split(":")[3]


def _certificate_id(number: str) -> str:
    return f"urn:robopass:certificate:{_quoted(number)}"


def _certificate_number(claim_id: str) -> str:
    return unquote(claim_id.removeprefix("urn:robopass:certificate:"))


def _issuing_party(cert: Plain) -> Plain | None:
    issuer = cert.get("issuer")
    if issuer is None:
        return None
    return {"id": f"urn:robopass:party:{_quoted(issuer)}", "name": issuer}


def _party_name(party: Plain) -> str:
    return party["name"]


SLOTS: list[Slot] = [
    Slot("identity.code", f"{P}/registeredId"),
    Slot("identity.home_registry", "/issuer/name"),
    Slot("identity.registered_at", "/validFrom", Transform("credential valid from registration")),
    Slot("manufacturer.name", f"{P}/producedByParty/name"),
    Slot("manufacturer.registration_id", f"{P}/producedByParty/registeredId"),
    Slot(
        "manufacturer.country",
        f"{P}/producedByParty/id",
        Transform("party id urn:robopass:party:<country>:<id>", decode=_country_of_party),
        read=_party_id,
    ),
    Slot("model.designation", f"{P}/name"),
    Slot("model.category", f"{P}/productCategory/0/code"),
    Slot("model.production_date", f"{P}/productionDate"),
    Slot("model.serial", f"{P}/serialNumber"),
    Slot("hardware.degrees_of_freedom", f"{C}/degreesOfFreedom"),
    Slot("hardware.mass_kg", f"{P}/dimensions/weight/value", Transform("Measure, unit KGM")),
    Slot("hardware.height_mm", f"{P}/dimensions/height/value", Transform("Measure, unit MMT")),
    Slot("hardware.compute", f"{C}/compute"),
    Slot("hardware.battery.chemistry", f"{C}/battery/chemistry"),
    Slot("hardware.battery.capacity_wh", f"{C}/battery/capacity/value", Transform("unit WHR")),
    Slot(
        "hardware.battery.nominal_voltage_v",
        f"{C}/battery/nominalVoltage/value",
        Transform("Measure, unit VLT"),
    ),
    Slot("hardware.battery.pack_id", f"{C}/battery/packId"),
    Slot("hardware.sensors.kind", f"{C}/sensors/*/kind"),
    Slot("hardware.sensors.model", f"{C}/sensors/*/model"),
    Slot("hardware.sensors.count", f"{C}/sensors/*/count"),
    Slot("hardware.actuators.joint", f"{C}/actuators/*/joint"),
    Slot("hardware.actuators.kind", f"{C}/actuators/*/kind"),
    Slot(
        "hardware.actuators.rated_torque_nm",
        f"{C}/actuators/*/ratedTorque/value",
        Transform("Measure, unit NU (newton metre)"),
    ),
    Slot("software.firmware_version", f"{C}/firmwareVersion"),
    Slot("software.operating_system", f"{C}/operatingSystem"),
    Slot("software.ai_models.name", f"{C}/aiModels/*/name"),
    Slot("software.ai_models.version", f"{C}/aiModels/*/version"),
    Slot("software.ai_models.provider", f"{C}/aiModels/*/provider"),
    Slot("software.ai_models.purpose", f"{C}/aiModels/*/purpose"),
    Slot("compliance.certifications.name", f"{CLAIM}/referenceStandard/name"),
    Slot(
        "compliance.certifications.issuer",
        f"{CLAIM}/referenceStandard/issuingParty",
        Transform("Party {id, name}", decode=_party_name),
        read=_issuing_party,
    ),
    Slot(
        "compliance.certifications.number",
        f"{CLAIM}/id",
        Transform(
            "claim id urn:robopass:certificate:<number>", _certificate_id, _certificate_number
        ),
    ),
]

_NO_HOME = "a UNTP product passport has no property for it"
UNMAPPED: list[FieldRule] = [
    unmapped("identity.status", f"{_NO_HOME}; imported as ACTIVE"),
    unmapped("manufacturer.name_local", "UNTP names carry no language; imported as none"),
    unmapped("manufacturer.contact", f"{_NO_HOME}; imported as none"),
    unmapped("compliance.certifications.valid_until", "a Claim has no expiry; imported as none"),
]
_DEFAULTS = {"identity": {"status": "ACTIVE"}}
_WHOLE = {
    "compliance.mandated_updates": "mandated software updates",
    "compliance.recalls": "recalls",
    "compliance.end_of_life": "end of life",
    "deployments": "deployments",
    "maintenance": "maintenance records",
    "incidents": "incidents",
    "conditions": "condition history",
    "ownership": "ownership history",
}

# Values every credential carries, whatever the robot, each written where its parent
# object is: a unit only beside its value, so a withheld measure leaves no empty shell.
# `*` applies to each list item.
CONSTANTS: list[tuple[str, Any]] = [
    ("/type", ["DigitalProductPassport", "VerifiableCredential"]),
    ("/@context", CONTEXT),
    ("/issuer/type", ["CredentialIssuer"]),
    ("/credentialSubject/type", ["ProductPassport"]),
    ("/credentialSubject/granularityLevel", "item"),
    (f"{P}/type", ["Product"]),
    (f"{P}/dimensions/weight/unit", "KGM"),
    (f"{P}/dimensions/height/unit", "MMT"),
    (f"{C}/type", ["Characteristics"]),
    (f"{C}/battery/capacity/unit", "WHR"),
    (f"{C}/battery/nominalVoltage/unit", "VLT"),
    (f"{C}/actuators/*/ratedTorque/unit", "NU"),
    (f"{CLAIM}/type", ["Claim", "Declaration"]),
    (f"{CLAIM}/conformance", True),
    (f"{CLAIM}/conformityTopic", "governance.compliance"),
]

SKELETON = {"/issuer", "/credentialSubject"}
"""Objects a credential has even when a mask withheld everything they would hold."""


def _credential_id(plain: Plain) -> str | None:
    code = (plain.get("identity") or {}).get("code")
    return None if code is None else f"urn:robopass:credential:{code}"


def _issuer_id(plain: Plain) -> str | None:
    registry = (plain.get("identity") or {}).get("home_registry")
    return None if registry is None else f"did:web:robopass.dev:registry:{_quoted(registry)}"


def _product_id(plain: Plain) -> str | None:
    code = (plain.get("identity") or {}).get("code")
    return None if code is None else f"urn:robopass:robot:{code}"


def _category(plain: Plain) -> str | None:
    return (plain.get("model") or {}).get("category")


def _category_id(plain: Plain) -> str | None:
    category = _category(plain)
    return None if category is None else f"https://robopass.dev/category/{_quoted(category, '/')}"


DERIVED: list[tuple[str, Callable[[Plain], Any]]] = [
    ("/id", _credential_id),
    ("/issuer/id", _issuer_id),
    (f"{P}/id", _product_id),
    (f"{P}/productCategory/0/id", _category_id),
    (f"{P}/productCategory/0/name", _category),
]
"""Identifiers the credential needs, computed from canonical fields mapped elsewhere; one
whose source field a mask withheld is left out with it."""


def rules() -> list[FieldRule]:
    mapped = [FieldRule(s.path, s.location, s.transform) for s in SLOTS]
    whole = [
        unmapped(p, f"{_NO_HOME} ({what}); imported as empty")
        for prefix, what in _WHOLE.items()
        for p in leaf_paths()
        if p.startswith(prefix + ".")
    ]
    return mapped + UNMAPPED + whole


# ---- pointer walking ---------------------------------------------------------------


def _split(location: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in location.strip("/").split("/")]


def _found(doc: Any, parts: list[str | int]) -> Iterator[tuple[tuple[int, ...], str, Any]]:
    """Values at a pointer with `*`: (list indices, concrete pointer, value)."""

    def walk(node: Any, rest: list[str | int], idx: tuple[int, ...], at: list):
        if not rest:
            yield idx, pointer(at), node
            return
        head, tail = rest[0], rest[1:]
        if head == "*":
            if isinstance(node, list):
                for i, item in enumerate(node):
                    yield from walk(item, tail, (*idx, i), [*at, i])
        elif _has(node, head):
            yield from walk(node[head], tail, idx, [*at, head])

    yield from walk(doc, rest=parts, idx=(), at=[])


def _has(node: Any, key: str | int) -> bool:
    if isinstance(node, dict):
        return key in node
    return isinstance(node, list) and isinstance(key, int) and key < len(node)


def _put(plain: Plain, parts: list[str], idx: tuple[int, ...], value: Any) -> None:
    stars = iter(idx)
    node: Any = plain
    for part in parts[:-1]:
        node = node.setdefault(part, {}) if isinstance(node, dict) else node
        if isinstance(node, list):
            i = next(stars)
            while len(node) <= i:
                node.append({})
            node = node[i]
    node[parts[-1]] = value


@dataclass(frozen=True, slots=True)
class _Compiled:
    canon: list[str]
    native: list[str | int]
    decode: Callable[[Any], Any]


def _compile(slot: Slot) -> _Compiled:
    return _Compiled(slot.path.split("."), _split(slot.location), slot.transform.decode)


_SLOTS = [_compile(s) for s in SLOTS]
_LIST_FIELDS = {
    "hardware": ["sensors", "actuators"],
    "software": ["ai_models"],
    "compliance": ["certifications"],
}
_LISTS = frozenset(f"{part}.{name}" for part, names in _LIST_FIELDS.items() for name in names)


def _at(location: str) -> tuple[str | int, ...]:
    return tuple(_split(location))


def _write(slot: Slot) -> Write:
    encode = None if slot.transform.encode is SAME.encode else slot.transform.encode
    return Write(slot.path.split("."), _at(slot.location), slot.read, encode, _LISTS)


_ENCODE = compile_writer(
    [_write(s) for s in SLOTS] + [Write((), _at(at), read) for at, read in DERIVED],
    [(_at(at), value) for at, value in CONSTANTS],
    {_at(at) for at in SKELETON},
)


def encode(plain: Plain) -> Plain:
    """Canonical plain data -> UNTP DPP credential (no validation)."""
    return _ordered(_ENCODE(plain))


def _ordered(doc: Plain) -> Plain:
    head = ["type", "@context", "id", "issuer", "validFrom", "credentialSubject"]
    return {k: doc[k] for k in head if k in doc} | doc


def decode(doc: Plain) -> Plain:
    """UNTP DPP credential -> canonical plain data; fields without a home get defaults."""
    plain: Plain = {"compliance": {}}
    for part, lists in _LIST_FIELDS.items():
        plain.setdefault(part, {}).update({name: [] for name in lists})
    errors: list[Violation] = []
    for slot in _SLOTS:
        for idx, at, value in _found(doc, slot.native):
            try:
                _put(plain, slot.canon, idx, slot.decode(value))
            except (TypeError, ValueError, IndexError, KeyError) as exc:
                errors.append(Violation(at, f"cannot read {slot.canon[-1]}: {exc}"))
    if errors:
        raise InvalidDocument(NAME, errors)
    for part, values in _DEFAULTS.items():
        for key, value in values.items():
            plain.setdefault(part, {}).setdefault(key, value)
    return complete(Passport, plain)


# ---- validation ---------------------------------------------------------------------


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def validate(doc: Any) -> None:
    """Check a credential against robopass's schema of the UNTP DPP it reads and writes."""
    violations = [
        Violation(pointer(e.absolute_path), e.message) for e in _validator().iter_errors(doc)
    ]
    if violations:
        raise InvalidDocument(NAME, violations)


def to_canonical(doc: Plain, *, check: bool = True) -> Passport:
    if check:
        validate(doc)
    return from_plain(Passport, decode(doc))


def from_canonical(passport: Passport) -> Plain:
    return encode(to_plain(passport))


FORMAT = Format(NAME, tuple(rules()), validate, decode, encode)
