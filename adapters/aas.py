"""Canonical passport <-> Asset Administration Shell V3.0 environment (JSON).

One shell per robot, its asset identified by `urn:robopass:robot:<code>`. What a standard
IDTA submodel template can hold goes there (Digital Nameplate 3.0 with the maker's
Contact Information, Technical Data with its GeneralInformation, Software Nameplate, Time
Series Data with its Metadata for the condition history); the rest goes to this
project's own submodels, whose semantic ids live under `https://robopass.dev/aas/`
(docs/formats/adapters.md lists each id, its source, and why robopass has its own).
Submodels are found again by semantic id, elements by idShort, so a reader does not depend
on the order of either. Every canonical field has a home: the adapter is lossless.

Over 500 lines because it is one format both ways; its element builders are in
`adapters.aas_elements`.
"""

from __future__ import annotations

import re
from typing import Any

from aas_core3 import jsonization, verification

from schema.codec import from_plain, to_plain
from schema.passport import Passport

from .aas_elements import (
    Derived,
    Fixed,
    Group,
    Lang,
    Prop,
    Submodel,
    compile_submodel,
    describe,
    reference,
)
from .errors import InvalidDocument, Violation, pointer
from .format import Format, Plain
from .mapping import FieldRule

__all__ = [
    "FORMAT",
    "NAME",
    "SUBMODELS",
    "asset_id",
    "code_of_asset",
    "code_of_shell",
    "decode",
    "encode",
    "from_canonical",
    "rules",
    "semantic_id_of",
    "shell_id",
    "submodel_id",
    "submodel_of",
    "submodel_paths",
    "to_canonical",
    "validate",
]

NAME = "aas"
OWN = "https://robopass.dev/aas"
NAMEPLATE = "https://admin-shell.io/idta/nameplate/3/0/Nameplate"
TECHNICAL_DATA = "0173-1#01-AHX837#002"
SOFTWARE_NAMEPLATE = "https://admin-shell.io/idta/SoftwareNameplate/1/0"
SOFTWARE_INSTANCE = f"{SOFTWARE_NAMEPLATE}/SoftwareNameplate/SoftwareNameplateInstance"
TIME_SERIES = "https://admin-shell.io/idta/TimeSeries/1/1"
TS = "https://admin-shell.io/idta/TimeSeries"
ADDRESS_INFORMATION = (
    "https://admin-shell.io/zvei/nameplate/1/0/ContactInformations/AddressInformation"
)
GENERAL_INFORMATION = "0173-1#02-ABK161#002/0173-1#01-AHX838#002"
CONDITION = f"{OWN}/Condition/1/0"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


ASSET_PREFIX = "urn:robopass:robot:"
SHELL_ID_SHORT = "RobotPassport"


def asset_id(code: str) -> str:
    """The globalAssetId of a robot: stable, derived from its code alone."""
    return ASSET_PREFIX + code


def code_of_asset(global_asset_id: str) -> str | None:
    """The robot code a globalAssetId names; None for one this adapter does not write."""
    if not global_asset_id.startswith(ASSET_PREFIX):
        return None
    return global_asset_id[len(ASSET_PREFIX) :] or None


SHELL_PREFIX = "urn:robopass:aas:"
SUBMODEL_PREFIX = "urn:robopass:sm:"


def shell_id(code: str) -> str:
    """The id of a robot's shell: derived from its code alone, and back (`code_of_shell`)."""
    return SHELL_PREFIX + code


def submodel_id(id_short: str, code: str) -> str:
    """The id of one of a robot's submodels, by the submodel's idShort."""
    return f"{SUBMODEL_PREFIX}{id_short}:{code}"


def code_of_shell(identifier: str) -> str | None:
    """The robot code a shell id names; None for an id this adapter does not write."""
    if not identifier.startswith(SHELL_PREFIX):
        return None
    return identifier[len(SHELL_PREFIX) :] or None


def submodel_of(identifier: str) -> tuple[str, str] | None:
    """(submodel idShort, robot code) a submodel id names; None for an id not written here."""
    if not identifier.startswith(SUBMODEL_PREFIX):
        return None
    name, sep, code = identifier[len(SUBMODEL_PREFIX) :].partition(":")
    if not sep or not code or name not in _BY_NAME:
        return None
    return name, code


def _year(obj: Plain) -> str | None:
    made = (obj.get("model") or {}).get("production_date")
    return None if made is None else made[:4]


def _code(obj: Plain) -> str | None:
    return (obj.get("identity") or {}).get("code")


def _product_uri(obj: Plain) -> str | None:
    code = _code(obj)
    return None if code is None else asset_id(code)


def _maker_country(obj: Plain) -> str | None:
    return (obj.get("manufacturer") or {}).get("country")


def _maker_email(obj: Plain) -> str | None:
    """The maker's contact, when it is an e-mail address (it is free text canonically)."""
    contact = (obj.get("manufacturer") or {}).get("contact")
    return contact if contact is not None and _EMAIL.fullmatch(contact) else None


def _maker_name(obj: Plain) -> str | None:
    return (obj.get("manufacturer") or {}).get("name")


def _designation(obj: Plain) -> str | None:
    return (obj.get("model") or {}).get("designation")


_RECORDS = Group(
    "conditions",
    "Records",
    [
        Prop("at", "Time", f"{TS}/UtcTime/1/1"),
        Prop("operating_hours", "OperatingHours", f"{CONDITION}/OperatingHours"),
        Prop("battery_health_pct", "BatteryHealthPct", f"{CONDITION}/BatteryHealthPct"),
        Prop("charge_cycles", "ChargeCycles", f"{CONDITION}/ChargeCycles"),
        Prop("movement_precision_mm", "MovementPrecisionMm", f"{CONDITION}/MovementPrecisionMm"),
        Prop("abnormal_stress_events", "AbnormalStressEvents", f"{CONDITION}/AbnormalStressEvents"),
        Group(
            "joint_wear",
            "JointWear",
            [Prop("joint", "Joint"), Prop("wear_pct", "WearPct")],
            f"{CONDITION}/JointWear",
        ),
    ],
    f"{TS}/Records/1/1",
    style="numbered",
    item="Record",
    item_semantic_id=f"{TS}/Record/1/1",
)
"""The condition history as the Time Series template's Records; its variables, robopass's."""

SUBMODELS = [
    Submodel(
        "Nameplate",
        NAMEPLATE,
        [
            Derived(
                "URIOfTheProduct",
                "xs:anyURI",
                _product_uri,
                "0112/2///61987#ABN590#002",
                ("identity.code",),
            ),
            Lang(
                [("en", "manufacturer.name"), ("zh", "manufacturer.name_local")],
                "ManufacturerName",
                "0112/2///61987#ABA565#009",
            ),
            Lang(
                [("en", "model.designation")],
                "ManufacturerProductDesignation",
                "0112/2///61987#ABA567#009",
            ),
            Group(
                None,
                "AddressInformation",
                [
                    Derived(
                        "NationalCode",
                        "xs:string",
                        _maker_country,
                        "0173-1#02-AAO134#002",
                        ("manufacturer.country",),
                        language="en",
                    ),
                    Group(
                        None,
                        "Email",
                        [
                            Derived(
                                "EmailAddress",
                                "xs:string",
                                _maker_email,
                                "0173-1#02-AAO198#002",
                                ("manufacturer.contact",),
                            )
                        ],
                        "0173-1#02-AAQ836#005",
                    ),
                ],
                ADDRESS_INFORMATION,
            ),
            Prop("model.serial", "SerialNumber", "0112/2///61987#ABA951#009"),
            Derived(
                "YearOfConstruction",
                "xs:string",
                _year,
                "0112/2///61987#ABP000#002",
                ("model.production_date",),
            ),
            Prop("model.production_date", "DateOfManufacture", "0112/2///61987#ABB757#007"),
            Prop("software.firmware_version", "FirmwareVersion", "0112/2///61987#ABA302#006"),
        ],
    ),
    Submodel(
        "Registration",
        f"{OWN}/Registration/1/0",
        [
            Prop("identity.code", "RobotCode"),
            Prop("identity.status", "Status"),
            Prop("identity.home_registry", "HomeRegistry"),
            Prop("identity.registered_at", "RegisteredAt"),
            Prop("model.category", "Category"),
            Group(
                "manufacturer",
                "Manufacturer",
                [
                    Prop("registration_id", "RegistrationId"),
                    Prop("country", "Country"),
                    Prop("contact", "Contact"),
                ],
            ),
        ],
        own=True,
    ),
    Submodel(
        "TechnicalData",
        TECHNICAL_DATA,
        [
            Group(
                None,
                "GeneralInformation",
                [
                    Derived(
                        "ManufacturerName",
                        "xs:string",
                        _maker_name,
                        "0173-1#02-AAO677#004",
                        ("manufacturer.name",),
                    ),
                    Derived(
                        "ManufacturerProductDesignation",
                        "xs:string",
                        _designation,
                        "0173-1#02-AAW338#003",
                        ("model.designation",),
                        language="en",
                    ),
                ],
                GENERAL_INFORMATION,
            ),
            Group(
                "hardware",
                "TechnicalProperties",
                [
                    Prop("degrees_of_freedom", "DegreesOfFreedom"),
                    Prop("mass_kg", "MassKg"),
                    Prop("height_mm", "HeightMm"),
                    Prop("compute", "Compute"),
                    Group(
                        "battery",
                        "Battery",
                        [
                            Prop("chemistry", "Chemistry"),
                            Prop("capacity_wh", "CapacityWh"),
                            Prop("nominal_voltage_v", "NominalVoltageV"),
                            Prop("pack_id", "PackId"),
                        ],
                    ),
                    Group(
                        "sensors",
                        "Sensors",
                        [Prop("kind", "Kind"), Prop("model", "Model"), Prop("count", "Count")],
                    ),
                    Group(
                        "actuators",
                        "Actuators",
                        [
                            Prop("joint", "Joint"),
                            Prop("kind", "Kind"),
                            Prop("rated_torque_nm", "RatedTorqueNm"),
                        ],
                    ),
                ],
                f"{OWN}/TechnicalData/1/0/TechnicalProperties",
            ),
        ],
    ),
    Submodel(
        "SoftwareNameplate",
        SOFTWARE_NAMEPLATE,
        [
            Group(
                "software",
                "SoftwareNameplateInstance",
                [
                    Prop("operating_system", "InstalledOnOS", f"{SOFTWARE_INSTANCE}/InstalledOnOS"),
                    Group(
                        "ai_models",
                        "AiModels",
                        [
                            Prop("name", "Name"),
                            Prop("version", "Version"),
                            Prop("provider", "Provider"),
                            Prop("purpose", "Purpose"),
                        ],
                        f"{OWN}/Software/1/0/AiModels",
                    ),
                ],
                SOFTWARE_INSTANCE,
            )
        ],
    ),
    Submodel(
        "TimeSeries",
        TIME_SERIES,
        [
            Fixed(
                {
                    "modelType": "SubmodelElementCollection",
                    "idShort": "Metadata",
                    "semanticId": reference(f"{TS}/Metadata/1/1"),
                    "value": [
                        {
                            "modelType": "MultiLanguageProperty",
                            "idShort": "Name",
                            "semanticId": reference(f"{TS}/Metadata/Name/1/1"),
                            "value": [{"language": "en", "text": "Robot condition history"}],
                        },
                        {
                            "modelType": "SubmodelElementCollection",
                            "idShort": "Record",
                            "semanticId": reference(f"{TS}/Record/1/1"),
                            "value": describe(Passport, _RECORDS),
                        },
                    ],
                }
            ),
            Group(
                None,
                "Segments",
                [
                    Group(
                        None,
                        "InternalSegment",
                        [_RECORDS],
                        f"{TS}/Segments/InternalSegment/1/1",
                    )
                ],
                f"{TS}/Segments/1/1",
            ),
        ],
    ),
    Submodel(
        "Deployments",
        f"{OWN}/Deployments/1/0",
        [
            Group(
                "deployments",
                "Deployments",
                [
                    Prop("start", "Start"),
                    Prop("end", "End"),
                    Prop("scenario", "Scenario"),
                    Prop("region", "Region"),
                    Prop("operator", "Operator"),
                    Prop("operating_hours", "OperatingHours"),
                    Prop("operator_id", "OperatorId"),
                ],
            )
        ],
        own=True,
    ),
    Submodel(
        "Maintenance",
        f"{OWN}/Maintenance/1/0",
        [
            Group(
                "maintenance",
                "Records",
                [
                    Prop("at", "At"),
                    Prop("kind", "Kind"),
                    Prop("component", "Component"),
                    Prop("part_number", "PartNumber"),
                    Prop("performed_by", "PerformedBy"),
                    Prop("hours_at_service", "HoursAtService"),
                    Prop("notes", "Notes"),
                ],
            )
        ],
        own=True,
    ),
    Submodel(
        "Incidents",
        f"{OWN}/Incidents/1/0",
        [
            Group(
                "incidents",
                "Incidents",
                [
                    Prop("id", "Id"),
                    Prop("at", "At"),
                    Prop("severity", "Severity"),
                    Prop("category", "Category"),
                    Prop("root_cause", "RootCause"),
                    Prop("description", "Description"),
                    Prop("reported_to", "ReportedTo"),
                    Prop("status", "Status"),
                    Prop("findings", "Findings"),
                ],
            )
        ],
        own=True,
    ),
    Submodel(
        "Ownership",
        f"{OWN}/Ownership/1/0",
        [
            Group(
                "ownership",
                "Owners",
                [
                    Prop("start", "Start"),
                    Prop("end", "End"),
                    Prop("owner", "Owner"),
                    Prop("owner_kind", "OwnerKind"),
                    Prop("jurisdiction", "Jurisdiction"),
                    Prop("owner_id", "OwnerId"),
                ],
            )
        ],
        own=True,
    ),
    Submodel(
        "Compliance",
        f"{OWN}/Compliance/1/0",
        [
            Group(
                "compliance",
                "Compliance",
                [
                    Group(
                        "certifications",
                        "Certifications",
                        [
                            Prop("name", "Name"),
                            Prop("issuer", "Issuer"),
                            Prop("number", "Number"),
                            Prop("valid_until", "ValidUntil"),
                        ],
                    ),
                    Group(
                        "mandated_updates",
                        "MandatedUpdates",
                        [
                            Prop("reference", "Reference"),
                            Prop("required_version", "RequiredVersion"),
                            Prop("due", "Due"),
                        ],
                    ),
                    Group(
                        "recalls",
                        "Recalls",
                        [
                            Prop("reference", "Reference"),
                            Prop("issued_at", "IssuedAt"),
                            Prop("description", "Description"),
                            Prop("remedied_at", "RemediedAt"),
                        ],
                    ),
                    Group(
                        "end_of_life",
                        "EndOfLife",
                        [
                            Prop("at", "At"),
                            Prop("disposition", "Disposition"),
                            Prop("facility", "Facility"),
                        ],
                    ),
                ],
            )
        ],
        own=True,
    ),
]

_COMPILED = [compile_submodel(Passport, spec) for spec in SUBMODELS]
_BY_SEMANTIC = {c.spec.semantic_id: c for c in _COMPILED}
_BY_NAME = {c.spec.id_short: c for c in _COMPILED}
SUBMODEL_NAMES = tuple(_BY_NAME)
"""The idShorts of the submodels, in the order an environment lists them."""


def semantic_id_of(id_short: str) -> str:
    """The semantic id of a submodel, by its idShort."""
    return _BY_NAME[id_short].spec.semantic_id


def submodel_paths(id_short: str) -> frozenset[str]:
    """The canonical paths a submodel is written from, with their parents.

    Every submodel names its robot (ids, the product URI), so `identity.code` is
    always among them.
    """
    compiled = _BY_NAME[id_short]
    leaves = [rule.path for rule in compiled.rules]
    leaves += _derived_reads(compiled.spec.children)
    paths = {"identity", "identity.code"}
    for leaf in leaves:
        parts = leaf.split(".")
        paths.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return frozenset(paths)


def _derived_reads(children: Any) -> list[str]:
    """The canonical paths the Derived elements among `children`, at any depth, read."""
    out: list[str] = []
    for spec in children:
        if isinstance(spec, Derived):
            out += spec.reads
        elif isinstance(spec, Group):
            out += _derived_reads(spec.children)
    return out


def rules() -> list[FieldRule]:
    """The field rules the AAS translation runs on."""
    return [rule for c in _COMPILED for rule in c.rules]


WITHHELD = "withheld"
"""Stands for the robot code in identifiers when a mask withholds the code: AAS requires
an id on the shell, its asset and each submodel, and the code must not show."""


_PARTS = [
    (
        c.encode,
        c.spec.id_short,
        f"{SUBMODEL_PREFIX}{c.spec.id_short}:",
        reference(c.spec.semantic_id),
    )
    for c in _COMPILED
]


def encode(plain: Plain) -> dict[str, Any]:
    """Canonical plain data -> AAS environment (no validation).

    `plain` may lack any field a visibility mask withheld: the element is then left out,
    and so is a submodel left with no element.
    """
    code = _code(plain) or WITHHELD
    submodels, refs = [], []
    for encode_elements, name, prefix, semantic in _PARTS:
        elements = encode_elements(plain)
        if not elements:
            continue
        sm_id = prefix + code
        submodels.append(
            {
                "modelType": "Submodel",
                "id": sm_id,
                "idShort": name,
                "kind": "Instance",
                "semanticId": semantic,
                "submodelElements": elements,
            }
        )
        refs.append({"type": "ModelReference", "keys": [{"type": "Submodel", "value": sm_id}]})
    shell: dict[str, Any] = {
        "modelType": "AssetAdministrationShell",
        "id": shell_id(code),
        "idShort": SHELL_ID_SHORT,
        "assetInformation": {"assetKind": "Instance", "globalAssetId": asset_id(code)},
    }
    if not submodels:
        return {"assetAdministrationShells": [shell]}
    shell["submodels"] = refs
    return {"assetAdministrationShells": [shell], "submodels": submodels}


def decode(doc: dict[str, Any]) -> Plain:
    """AAS environment -> canonical plain data; raises `InvalidDocument` if parts are missing.

    Submodels are matched by semantic id; the environment must hold one robot's shell.
    """
    errors: list[Violation] = []
    found: dict[str, tuple[int, dict[str, Any]]] = {}
    for i, submodel in enumerate(doc.get("submodels") or ()):
        keys = (submodel.get("semanticId") or {}).get("keys") or [{}]
        semantic = keys[0].get("value")
        if semantic in _BY_SEMANTIC:
            found.setdefault(semantic, (i, submodel))
    plain: Plain = {}
    for compiled in _COMPILED:
        i, submodel = found.get(compiled.spec.semantic_id, (-1, None))
        if submodel is None:
            errors.append(
                Violation("/submodels", f"no submodel with semanticId {compiled.spec.semantic_id}")
            )
            continue
        elements = submodel.get("submodelElements") or []
        compiled.decode(elements, plain, f"/submodels/{i}/submodelElements", errors)
    if errors:
        raise InvalidDocument(NAME, errors)
    return plain


def _json_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _pointer(path: Any) -> str:
    parts: list[str | int] = []
    for segment in path.segments:
        if hasattr(segment, "index"):
            parts.append(segment.index)
        else:
            parts.append(_json_name(segment.name))
    return pointer(parts)


def validate(doc: Any) -> None:
    """Check a document with aas-core3.0: JSON de-serialization, then every AAS constraint."""
    try:
        environment = jsonization.environment_from_jsonable(doc)
    except jsonization.DeserializationException as exc:
        raise InvalidDocument(NAME, [Violation(_pointer(exc.path), exc.cause)]) from None
    violations = [Violation(_pointer(e.path), e.cause) for e in verification.verify(environment)]
    if violations:
        raise InvalidDocument(NAME, violations)


def to_canonical(doc: dict[str, Any], *, check: bool = True) -> Passport:
    if check:
        validate(doc)
    return from_plain(Passport, decode(doc))


def from_canonical(passport: Passport) -> dict[str, Any]:
    return encode(to_plain(passport))


FORMAT = Format(NAME, tuple(rules()), validate, decode, encode)
