"""Bilateral data-sharing agreements that widen access beyond the rules.

An agreement is made by a registry (the assigner) with one authority or with
the authorities of one jurisdiction (the assignee), for data classes and
purposes, for a period; some carry an approval reference (PIPL Art. 41 needs
one before personal data leaves China). Agreements are exchanged as ODRL 2.2
`Agreement` policies: one `read` permission per data class, whose target is the
asset collection of that class in the registry, constrained by purpose and time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from schema.codec import format_datetime, parse_datetime
from schema.parties import PARTY_ID_SYNTAX, is_party_id, same_party
from schema.passport import DataClass

from .documents import read_json, validate
from .errors import AgreementError
from .principal import Principal, Role

SCHEMA = "agreements.schema.json"
ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
NS = "https://robopass.dev/odrl/"
PROFILE = NS + "profile"


@dataclass(frozen=True, slots=True)
class Agreement:
    """One agreement; the assignee is an organisation, a jurisdiction, or both.

    The organisation is a party identifier (schema/parties.py), matched exactly
    against the token's `org_id`, never against its display name.
    """

    id: str
    assigner_registry: str
    assigner_jurisdiction: str
    assignee_roles: frozenset[Role]
    classes: frozenset[DataClass]
    purposes: frozenset[str]
    valid_from: datetime
    valid_until: datetime
    assignee_organisation: str | None = None
    assignee_jurisdiction: str | None = None
    approval_reference: str | None = None

    def __post_init__(self) -> None:
        if self.assignee_organisation is None and self.assignee_jurisdiction is None:
            raise AgreementError(self.id, "assignee names neither organisation nor jurisdiction")
        if self.assignee_organisation is not None and not is_party_id(self.assignee_organisation):
            raise AgreementError(
                self.id, f"assignee organisation must be a party identifier ({PARTY_ID_SYNTAX})"
            )
        if self.valid_until <= self.valid_from:
            raise AgreementError(self.id, "valid_until is not after valid_from")

    def applies(self, principal: Principal, registry_jurisdiction: str, at: datetime) -> bool:
        """Whether the agreement covers this principal reading this registry at `at`."""
        return (
            self.assigner_jurisdiction == registry_jurisdiction
            and principal.role in self.assignee_roles
            and self.valid_from <= at < self.valid_until
            and bool(self.purposes & principal.purposes)
            and (
                self.assignee_organisation is None
                or same_party(self.assignee_organisation, principal.organisation_id)
            )
            and self.assignee_jurisdiction in (None, principal.jurisdiction)
        )

    def to_json(self) -> dict[str, Any]:
        """The native document form, as `load_agreements` reads it."""
        assignee: dict[str, Any] = {"roles": sorted(r.value for r in self.assignee_roles)}
        if self.assignee_organisation is not None:
            assignee["organisation"] = self.assignee_organisation
        if self.assignee_jurisdiction is not None:
            assignee["jurisdiction"] = self.assignee_jurisdiction
        out: dict[str, Any] = {
            "id": self.id,
            "assigner": {
                "registry": self.assigner_registry,
                "jurisdiction": self.assigner_jurisdiction,
            },
            "assignee": assignee,
            "classes": sorted(c.value for c in self.classes),
            "purposes": sorted(self.purposes),
            "valid_from": format_datetime(self.valid_from),
            "valid_until": format_datetime(self.valid_until),
        }
        if self.approval_reference is not None:
            out["approval_reference"] = self.approval_reference
        return out


def load_agreements(source: str | Path | dict[str, Any]) -> tuple[Agreement, ...]:
    """Read and validate a native agreements document."""
    document = read_json(source, AgreementError)
    validate(document, SCHEMA, AgreementError)
    out = tuple(_from_native(item) for item in document["agreements"])
    ids = [a.id for a in out]
    if len(set(ids)) != len(ids):
        raise AgreementError("agreements", "duplicate agreement id")
    return out


def agreements_document(agreements: Iterable[Agreement]) -> dict[str, Any]:
    return {"agreements": [a.to_json() for a in agreements]}


def _from_native(item: dict[str, Any]) -> Agreement:
    assignee = item["assignee"]
    return Agreement(
        id=item["id"],
        assigner_registry=item["assigner"]["registry"],
        assigner_jurisdiction=item["assigner"]["jurisdiction"],
        assignee_roles=frozenset(Role(r) for r in assignee["roles"]),
        assignee_organisation=assignee.get("organisation"),
        assignee_jurisdiction=assignee.get("jurisdiction"),
        classes=frozenset(DataClass(c) for c in item["classes"]),
        purposes=frozenset(item["purposes"]),
        valid_from=parse_datetime(item["valid_from"]),
        valid_until=parse_datetime(item["valid_until"]),
        approval_reference=item.get("approval_reference"),
    )


# -- ODRL 2.2 ---------------------------------------------------------------


def _asset(a: Agreement, data_class: DataClass) -> str:
    return f"urn:robopass:registry:{a.assigner_registry}:class:{data_class.value}"


def to_odrl(a: Agreement) -> dict[str, Any]:
    """The agreement as an ODRL 2.2 `Agreement` in JSON-LD compact form."""
    assignee: dict[str, Any] = {
        "@type": "PartyCollection",
        "uid": (
            f"urn:robopass:org:{a.assignee_organisation}"
            if a.assignee_organisation is not None
            else f"urn:robopass:jurisdiction:{a.assignee_jurisdiction}"
        ),
        "refinement": [
            {
                "leftOperand": "robopass:role",
                "operator": "isAnyOf",
                "rightOperand": sorted(r.value for r in a.assignee_roles),
            }
        ],
    }
    if a.assignee_organisation is not None and a.assignee_jurisdiction is not None:
        assignee["refinement"].append(
            {
                "leftOperand": "robopass:jurisdiction",
                "operator": "eq",
                "rightOperand": a.assignee_jurisdiction,
            }
        )
    constraints = [
        {"leftOperand": "purpose", "operator": "isAnyOf", "rightOperand": sorted(a.purposes)},
        {"leftOperand": "dateTime", "operator": "gteq", "rightOperand": _time(a.valid_from)},
        {"leftOperand": "dateTime", "operator": "lt", "rightOperand": _time(a.valid_until)},
    ]
    policy: dict[str, Any] = {
        "@context": [ODRL_CONTEXT, {"robopass": NS}],
        "@type": "Agreement",
        "uid": f"urn:robopass:agreement:{a.id}",
        "profile": PROFILE,
        "assigner": {
            "@type": "Party",
            "uid": f"urn:robopass:registry:{a.assigner_registry}",
            "robopass:jurisdiction": a.assigner_jurisdiction,
        },
        "assignee": assignee,
        "permission": [
            {
                "target": {"@type": "AssetCollection", "uid": _asset(a, c)},
                "action": "read",
                "constraint": constraints,
            }
            for c in sorted(a.classes, key=lambda c: c.value)
        ],
    }
    if a.approval_reference is not None:
        policy["robopass:approvalReference"] = a.approval_reference
    return policy


def from_odrl(policy: dict[str, Any]) -> Agreement:
    """Read an ODRL `Agreement` as `to_odrl` writes it; `AgreementError` names the key."""
    try:
        return _from_odrl(policy)
    except AgreementError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise AgreementError("", f"not a robopass ODRL agreement: {exc!r}") from exc


def _from_odrl(policy: dict[str, Any]) -> Agreement:
    if policy.get("@type") not in ("Agreement", "odrl:Agreement"):
        raise AgreementError("@type", "must be Agreement")
    agreement_id = _strip(policy["uid"], "urn:robopass:agreement:", "uid")
    registry = _strip(policy["assigner"]["uid"], "urn:robopass:registry:", "assigner.uid")
    assignee = policy["assignee"]
    organisation = jurisdiction = None
    uid = assignee["uid"]
    if uid.startswith("urn:robopass:org:"):
        organisation = uid.removeprefix("urn:robopass:org:")
    else:
        jurisdiction = _strip(uid, "urn:robopass:jurisdiction:", "assignee.uid")
    roles: frozenset[Role] = frozenset()
    for i, ref in enumerate(assignee.get("refinement", [])):
        if ref["leftOperand"] == "robopass:role":
            roles = frozenset(Role(r) for r in _list(ref["rightOperand"]))
        elif ref["leftOperand"] == "robopass:jurisdiction":
            jurisdiction = ref["rightOperand"]
        else:
            raise AgreementError(f"assignee.refinement[{i}].leftOperand", "unsupported")
    if not roles:
        raise AgreementError("assignee.refinement", "no robopass:role refinement")
    classes, purposes, times = set(), set(), []
    for i, permission in enumerate(_list(policy["permission"])):
        if permission.get("action") not in ("read", "odrl:read"):
            raise AgreementError(f"permission[{i}].action", "only read is supported")
        target = permission["target"]
        asset = target["uid"] if isinstance(target, dict) else target
        prefix = f"urn:robopass:registry:{registry}:class:"
        classes.add(DataClass(_strip(asset, prefix, f"permission[{i}].target")))
        p, t = _constraints(permission.get("constraint", []), f"permission[{i}]")
        purposes |= p
        times.append(t)
    if not classes or len(set(times)) != 1:
        raise AgreementError("permission", "permissions must share one validity period")
    ((valid_from, valid_until),) = set(times)
    return Agreement(
        id=agreement_id,
        assigner_registry=registry,
        assigner_jurisdiction=policy["assigner"]["robopass:jurisdiction"],
        assignee_roles=roles,
        assignee_organisation=organisation,
        assignee_jurisdiction=jurisdiction,
        classes=frozenset(classes),
        purposes=frozenset(purposes),
        valid_from=valid_from,
        valid_until=valid_until,
        approval_reference=policy.get("robopass:approvalReference"),
    )


def _constraints(
    items: list[dict[str, Any]], where: str
) -> tuple[set[str], tuple[datetime, datetime]]:
    purposes: set[str] = set()
    start = end = None
    for i, c in enumerate(items):
        left, op, right = c["leftOperand"], c["operator"], c["rightOperand"]
        if left == "purpose" and op in ("isAnyOf", "eq"):
            purposes |= set(_list(right))
        elif left == "dateTime" and op == "gteq":
            start = parse_datetime(right["@value"] if isinstance(right, dict) else right)
        elif left == "dateTime" and op == "lt":
            end = parse_datetime(right["@value"] if isinstance(right, dict) else right)
        else:
            raise AgreementError(f"{where}.constraint[{i}]", f"unsupported {left} {op}")
    if not purposes or start is None or end is None:
        raise AgreementError(f"{where}.constraint", "needs purpose and dateTime gteq/lt")
    return purposes, (start, end)


def _time(value: datetime) -> dict[str, str]:
    return {"@value": format_datetime(value), "@type": "xsd:dateTime"}


def _strip(value: str, prefix: str, where: str) -> str:
    if not isinstance(value, str) or not value.startswith(prefix):
        raise AgreementError(where, f"expected a URI starting {prefix}")
    return value.removeprefix(prefix)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
