"""Rules, agreements, legal modules and the masks they produce for the demo policy set."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime

import pytest

from policies import (
    PUBLIC,
    Agreement,
    AgreementError,
    PolicySet,
    Principal,
    Relationship,
    Role,
    RulesError,
    from_odrl,
    load_agreements,
    load_rules,
    mask_for,
    may_write,
    redact,
    relationship_of,
    to_odrl,
)
from policies.modules import Context, cn, eu
from schema.codec import to_plain
from schema.events import EventType
from schema.fields import field_classes
from schema.passport import (
    Battery,
    Compliance,
    DataClass,
    Deployment,
    Hardware,
    Identity,
    Incident,
    IncidentCategory,
    IncidentStatus,
    MaintenanceKind,
    MaintenanceRecord,
    Manufacturer,
    Model,
    OwnerKind,
    Ownership,
    Passport,
    RobotStatus,
    RootCause,
    Scenario,
    Severity,
    Software,
)
from tests.support.paths import ROOT

POLICIES = ROOT / "policies"
AT = datetime(2026, 6, 1, tzinfo=UTC)
R = Relationship
D = DataClass
ALL = frozenset(DataClass)
FLEET = "Global Humanoid Logistics Ltd"
MAKER = "91110108MA01K7XD2T"
FLEET_ID = "lei:5493001LRMUTUAL7K203"
PERSON_ID = "person:zhangweiisnotinthisid0"
OPERATOR_ID = "reg:DE:HRB4711"
IDS = {FLEET: FLEET_ID, "Zhang Wei": PERSON_ID, "Lager Nord GmbH": OPERATOR_ID}
IDS["Bundeskriminalamt"] = "reg:DE:BKA"
IDS[MAKER] = f"uscc:{MAKER}"


def who(
    role: Role,
    jurisdiction: str | None = "DE",
    org: str | None = None,
    *purposes: str,
    org_id: str | None = None,
):
    """A principal named `org`, identified by `org_id` or, for the parties above, their id."""
    return Principal(
        issuer="https://as.example",
        subject=f"{role.value}-1",
        role=role,
        organisation=org,
        jurisdiction=jurisdiction,
        purposes=frozenset(purposes),
        token_id="t1",
        organisation_id=org_id if org_id is not None else IDS.get(org or ""),
    )


@pytest.fixture(scope="module")
def demo() -> PolicySet:
    return PolicySet.demo()


def passport() -> Passport:
    t = datetime(2026, 5, 28, tzinfo=UTC)
    return Passport(
        identity=Identity("CNH7K2H0A1B32605281000012345A", RobotStatus.ACTIVE, "CN-HEIS", t),
        manufacturer=Manufacturer("Acme Robotics", "阿克米", MAKER, "CN", "safety@acme.example"),
        model=Model("AR-1", "BIPED_HUMANOID", date(2026, 5, 28), "SN1"),
        hardware=Hardware(40, 60.0, 1650, "Orin", Battery("NMC", 800.0, 48.0, "PK1")),
        software=Software("1.0", "RobotOS 2"),
        compliance=Compliance(),
        deployments=[
            Deployment(t, None, Scenario.LOGISTICS, "DE-BY", "Lager Nord GmbH", 10.0, OPERATOR_ID),
        ],
        maintenance=[
            MaintenanceRecord(t, MaintenanceKind.INSPECTION, "left_knee", None, "Fix AG", 5.0, None)
        ],
        incidents=[
            Incident(
                "I1",
                t,
                Severity.MINOR,
                IncidentCategory.FALL,
                RootCause.UNKNOWN,
                "tripped",
                None,
                IncidentStatus.OPEN,
                "secret findings",
            )
        ],
        ownership=[
            Ownership(t, t, "Zhang Wei", OwnerKind.NATURAL_PERSON, "CN", PERSON_ID),
            Ownership(t, None, FLEET, OwnerKind.ORGANISATION, "DE", FLEET_ID),
        ],
    )


# -- masks of the demo set ---------------------------------------------------


def classes(demo: PolicySet, p: Principal, rel: R = R.NONE, registry: str = "CN", at=AT):
    return demo.mask(p, rel, registry, at).classes


def test_anonymous_sees_public_only(demo: PolicySet) -> None:
    mask = demo.mask(PUBLIC, R.NONE, "CN", AT)
    assert mask.classes == {D.PUBLIC}
    assert "identity.code" in mask and "ownership" in mask and "ownership.jurisdiction" in mask
    assert "ownership.owner" not in mask and "maintenance" not in mask
    assert "maintenance.performed_by" in mask.denied and "no.such.path" not in mask


def test_buyer_with_due_diligence(demo: PolicySet) -> None:
    buyer = who(Role.BUYER, "DE", "Second Life Robots GmbH", "due_diligence")
    assert classes(demo, buyer) == {D.PUBLIC, D.MAINTENANCE, D.INCIDENT, D.TELEMETRY}
    mask = demo.mask(buyer, R.NONE, "CN", AT)
    assert "incidents.severity" in mask and "incidents.findings" not in mask
    assert "ownership.owner" not in mask and "deployments" not in mask


def test_buyer_without_purpose_sees_public_only(demo: PolicySet) -> None:
    assert classes(demo, who(Role.BUYER, "US")) == {D.PUBLIC}


def test_current_owner_sees_all_but_restricted(demo: PolicySet) -> None:
    owner = who(Role.OWNER, "DE", FLEET, "fleet_management")
    assert classes(demo, owner, R.CURRENT_OWNER) == ALL - {D.RESTRICTED}
    assert classes(demo, owner, R.NONE) == {D.PUBLIC}
    assert classes(demo, owner, R.PAST_OWNER) == {D.PUBLIC, D.MAINTENANCE}


def test_foreign_market_surveillance_gets_agreement_minus_personal(demo: PolicySet) -> None:
    msa = who(Role.MARKET_SURVEILLANCE, "DE", "BAuA", "market_surveillance")
    decision = demo.decide(msa, R.NONE, "CN", AT)
    granted = {D.PUBLIC, D.COMMERCIAL, D.MAINTENANCE, D.INCIDENT, D.TELEMETRY}
    assert decision.mask.classes == granted, "PIPL Art. 41 removes PERSONAL"
    assert decision.agreements == ("CN-DE-MSA-2026",) and decision.agreement == "CN-DE-MSA-2026"
    assert decision.policy_version == demo.version
    late = datetime(2028, 6, 1, tzinfo=UTC)
    assert classes(demo, msa, at=late) == {D.PUBLIC}, "agreement expired"
    assert classes(demo, who(Role.MARKET_SURVEILLANCE, "FR", None, "market_surveillance")) == {
        D.PUBLIC
    }
    assert classes(demo, who(Role.MARKET_SURVEILLANCE, "DE")) == {D.PUBLIC}, "no purpose"


def test_home_regulator_sees_everything(demo: PolicySet) -> None:
    regulator = who(Role.REGULATOR, "CN", "MIIT", "incident_investigation")
    mask = demo.mask(regulator, R.NONE, "CN", AT)
    assert mask.classes == ALL and "incidents.findings" in mask and not mask.denied
    assert classes(demo, who(Role.REGULATOR, "DE", None, "x")) == {D.PUBLIC}
    assert classes(demo, who(Role.REGULATOR, "DE", None, "x"), registry="DE") == ALL


def test_law_enforcement_with_approved_agreement_keeps_personal(demo: PolicySet) -> None:
    bka = who(Role.LAW_ENFORCEMENT, "DE", "Bundeskriminalamt", "incident_investigation")
    decision = demo.decide(bka, R.NONE, "CN", AT)
    assert decision.mask.classes == {D.PUBLIC, D.INCIDENT, D.PERSONAL}
    assert decision.agreements == ("CN-DE-BKA-2026",)
    other = who(Role.LAW_ENFORCEMENT, "DE", "Landespolizei", "incident_investigation")
    assert classes(demo, other) == {D.PUBLIC}
    named = who(
        Role.LAW_ENFORCEMENT, "DE", "Bundeskriminalamt", "incident_investigation", org_id="x"
    )
    assert classes(demo, named) == {D.PUBLIC}, "the agreement's name alone grants nothing"


def test_roles_differ_visibly(demo: PolicySet) -> None:
    views = {
        classes(demo, PUBLIC),
        classes(demo, who(Role.BUYER, "DE", None, "due_diligence")),
        classes(demo, who(Role.OWNER, "DE", FLEET, "fleet_management"), R.CURRENT_OWNER),
        classes(demo, who(Role.MARKET_SURVEILLANCE, "DE", None, "market_surveillance")),
        classes(demo, who(Role.REGULATOR, "CN", None, "x")),
        classes(demo, who(Role.INSURER, "US", None, "underwriting")),
        classes(demo, who(Role.STANDARDS_BODY, "CH", None, "conformance_testing")),
    }
    assert len(views) == 7


def test_decisions_are_cached_on_policy_attributes_only(demo: PolicySet) -> None:
    a = who(Role.BUYER, "DE", "A", "due_diligence")
    b = Principal(
        "https://other", "someone", Role.BUYER, "c", "B", "DE", frozenset({"due_diligence"})
    )
    before = demo.cache_info().hits
    assert demo.decide(a, R.NONE, "CN", AT) is demo.decide(b, R.NONE, "CN", AT)
    assert demo.cache_info().hits > before
    assert demo.mask(a, R.NONE, "CN", AT) is mask_for(demo.mask(a, R.NONE, "CN", AT).classes)


def test_version_changes_with_documents() -> None:
    rules = json.loads((POLICIES / "demo" / "rules.json").read_text())
    one = PolicySet.load(rules)
    rules["registries"]["*"][0]["classes"] = ["PUBLIC", "COMMERCIAL"]
    two = PolicySet.load(rules)
    assert one.version != two.version and len(one.version) == 16
    assert PolicySet.demo().version == PolicySet.demo().version


# -- mask invariants, redaction ---------------------------------------------


@pytest.mark.parametrize("granted", [frozenset(), frozenset({D.PUBLIC}), ALL - {D.PUBLIC}, ALL])
def test_mask_invariants(granted: frozenset[DataClass]) -> None:
    mask = mask_for(granted)
    paths = set(field_classes())
    assert mask.visible | mask.denied == paths and not mask.visible & mask.denied
    for path in mask.visible:
        parent = path.rpartition(".")[0]
        assert not parent or parent in mask
        assert field_classes()[path] in granted
    assert hash(mask) == hash(mask_for(frozenset(granted)))
    with pytest.raises(AttributeError):
        mask.visible = frozenset()  # type: ignore[misc]


def test_redact_removes_every_denied_path(demo: PolicySet) -> None:
    plain = to_plain(passport())
    original = copy.deepcopy(plain)
    public = redact(plain, demo.mask(PUBLIC, R.NONE, "CN", AT))
    assert plain == original, "input is not modified"
    assert "maintenance" not in public and "incidents" not in public
    assert all("owner" not in o and "jurisdiction" in o for o in public["ownership"])
    assert all("owner_id" not in o for o in public["ownership"]), "an owner's id is PERSONAL"
    assert "contact" not in public["manufacturer"] and "compute" not in public["hardware"]
    text = json.dumps(public, ensure_ascii=False)
    secrets = ("Zhang Wei", FLEET, "secret findings", "Fix AG", "Lager Nord")
    for secret in (*secrets, FLEET_ID, PERSON_ID, OPERATOR_ID):
        assert secret not in text
    full = redact(plain, mask_for(ALL))
    assert full == plain
    buyer = redact(plain, demo.mask(who(Role.BUYER, "DE", None, "due_diligence"), R.NONE, "CN", AT))
    assert buyer["incidents"][0]["description"] == "tripped"
    assert "findings" not in buyer["incidents"][0]


def test_redact_drops_unknown_keys() -> None:
    assert redact({"identity": {"code": "X", "extra": 1}, "bogus": 2}, mask_for(ALL)) == {
        "identity": {"code": "X"}
    }


# -- relationships and writes -------------------------------------------------


def test_relationship_of() -> None:
    p = passport()
    assert relationship_of(who(Role.OWNER, "DE", FLEET), p) is R.CURRENT_OWNER
    # a name, however close, is no identity: only the identifier relates
    assert relationship_of(who(Role.OWNER, "DE", " global humanoid  logistics ltd"), p) is R.NONE
    assert relationship_of(who(Role.OWNER, "DE", "Other", org_id=FLEET_ID), p) is (R.CURRENT_OWNER)
    assert relationship_of(who(Role.OWNER, "CN", "Zhang Wei"), p) is R.PAST_OWNER
    assert relationship_of(who(Role.MANUFACTURER, "CN", MAKER), p) is R.MANUFACTURER
    assert relationship_of(who(Role.OPERATOR, "DE", "Lager Nord GmbH"), p) is R.OPERATOR
    assert relationship_of(who(Role.BUYER, "DE", "Someone"), p) is R.NONE
    assert relationship_of(who(Role.BUYER, "DE", None), p) is R.NONE
    assert relationship_of(PUBLIC, p) is R.NONE


def test_write_table() -> None:
    E = EventType
    owner = who(Role.OWNER, "DE", FLEET)
    assert may_write(owner, R.CURRENT_OWNER, E.OWNERSHIP_TRANSFERRED)
    assert not may_write(owner, R.PAST_OWNER, E.OWNERSHIP_TRANSFERRED)
    assert not may_write(owner, R.CURRENT_OWNER, E.MAINTENANCE_RECORDED)
    assert may_write(who(Role.SERVICE_PROVIDER), R.NONE, E.MAINTENANCE_RECORDED)
    operator = who(Role.OPERATOR)
    assert may_write(operator, R.OPERATOR, E.CONDITION_RECORDED)
    assert may_write(operator, R.OPERATOR, E.DEPLOYMENT_ENDED)
    assert not may_write(operator, R.NONE, E.CONDITION_RECORDED)
    maker = who(Role.MANUFACTURER, "CN", MAKER)
    for event in (E.SOFTWARE_UPDATED, E.RECALL_ISSUED, E.CERTIFIED):
        assert may_write(maker, R.MANUFACTURER, event)
        assert not may_write(maker, R.NONE, event)
    home, foreign = who(Role.REGULATOR, "CN"), who(Role.REGULATOR, "DE")
    assert may_write(home, R.NONE, E.INCIDENT_UPDATED, registry_jurisdiction="CN")
    assert not may_write(home, R.NONE, E.INCIDENT_UPDATED)
    assert not may_write(foreign, R.NONE, E.INCIDENT_UPDATED, registry_jurisdiction="CN")
    assert not may_write(PUBLIC, R.NONE, E.CONDITION_RECORDED)
    assert not may_write(who(Role.BUYER), R.CURRENT_OWNER, E.OWNERSHIP_TRANSFERRED)


# -- legal modules -------------------------------------------------------------


def agreement(**changes) -> Agreement:
    fields = {
        "id": "A1",
        "assigner_registry": "CN-HEIS",
        "assigner_jurisdiction": "CN",
        "assignee_roles": frozenset({Role.CUSTOMS}),
        "assignee_jurisdiction": "US",
        "classes": frozenset({D.PERSONAL}),
        "purposes": frozenset({"customs"}),
        "valid_from": datetime(2026, 1, 1, tzinfo=UTC),
        "valid_until": datetime(2027, 1, 1, tzinfo=UTC),
    }
    return Agreement(**{**fields, **changes})


def ctx(role: Role, jurisdiction: str | None, registry="CN", purposes=("x",), agreements=()):
    return Context(role, jurisdiction, frozenset(purposes), R.NONE, registry, tuple(agreements))


def test_pipl_art41() -> None:
    both = frozenset({D.PUBLIC, D.PERSONAL})
    for role in (Role.REGULATOR, Role.CUSTOMS, Role.MARKET_SURVEILLANCE, Role.JUDICIAL):
        assert cn.restrict(ctx(role, "US"), both) == {D.PUBLIC}
        assert cn.restrict(ctx(role, None), both) == {D.PUBLIC}, "no jurisdiction: fail closed"
        assert cn.restrict(ctx(role, "CN"), both) == both
        assert cn.restrict(ctx(role, "US", registry="DE"), both) == both
        assert cn.restrict(ctx(role, "US", agreements=[agreement()]), both) == {D.PUBLIC}
        approved = agreement(approval_reference="PRC-1")
        assert cn.restrict(ctx(role, "US", agreements=[approved]), both) == both
    assert cn.restrict(ctx(Role.BUYER, "US"), both) == both


def test_gdpr_purpose_limitation() -> None:
    many = frozenset({D.PUBLIC, D.MAINTENANCE})
    assert eu.restrict(ctx(Role.INSURER, "DE", purposes=()), many) == {D.PUBLIC}
    assert eu.restrict(ctx(Role.INSURER, "US", registry="FR", purposes=()), many) == {D.PUBLIC}
    assert eu.restrict(ctx(Role.INSURER, "DE"), many) == many
    assert eu.restrict(ctx(Role.INSURER, "US", purposes=()), many) == many


def test_modules_cannot_widen() -> None:
    class Greedy:
        NAME, VERSION = "greedy", "1"

        @staticmethod
        def restrict(ctx, classes):
            return ALL

    rules = load_rules(POLICIES / "demo" / "rules.json")
    assert PolicySet(rules, (), (Greedy,)).mask(PUBLIC, R.NONE, "CN", AT).classes == {D.PUBLIC}


# -- rules documents -------------------------------------------------------------


def bad_rules(change) -> dict:
    doc = json.loads((POLICIES / "demo" / "rules.json").read_text())
    change(doc)
    return doc


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (
            lambda d: d["registries"]["*"][3].update(roles=["owner", "emperor"]),
            "registries.*[3].roles[1]",
        ),
        (lambda d: d["registries"]["*"][1].update(rolez=["regulator"]), "registries.*[1].rolez"),
        (lambda d: d["registries"]["*"][0].pop("classes"), "registries.*[0].classes"),
        (
            lambda d: d["registries"]["*"][2].update(classes=["SECRET"]),
            "registries.*[2].classes[0]",
        ),
        (
            lambda d: d["registries"]["*"][2].update(jurisdictions=["germany"]),
            "registries.*[2].jurisdictions[0]",
        ),
        (
            lambda d: d["registries"]["*"][4].update(relationships=["friend"]),
            "registries.*[4].relationships[0]",
        ),
        (lambda d: d["registries"]["*"][5].update(purposes=[]), "registries.*[5].purposes"),
        (lambda d: d.update(extra=1), "extra"),
        (lambda d: d.pop("registries"), "registries"),
        (
            lambda d: d["registries"]["*"].append(dict(d["registries"]["*"][0])),
            "registries.*[11].id",
        ),
    ],
)
def test_bad_rules_documents_name_the_key(change, path: str) -> None:
    with pytest.raises(RulesError) as info:
        load_rules(bad_rules(change))
    assert info.value.path == path, str(info.value)
    assert str(info.value).startswith(path)


def test_bad_registry_key_is_rejected() -> None:
    with pytest.raises(RulesError, match="cn"):
        load_rules({"registries": {"cn": []}})


def test_schema_enums_match_python() -> None:
    schema = json.loads((POLICIES / "rules.schema.json").read_text())["$defs"]
    assert set(schema["role"]["enum"]) == {r.value for r in Role}
    assert set(schema["relationship"]["enum"]) == {r.value for r in Relationship}
    assert set(schema["dataClass"]["enum"]) == {c.value for c in DataClass}


def test_deny_by_default_with_empty_rules() -> None:
    empty = PolicySet(load_rules({"registries": {"*": []}}), ())
    assert not empty.mask(who(Role.REGULATOR, "CN", None, "x"), R.NONE, "CN", AT).visible


# -- agreements and ODRL -----------------------------------------------------------


def test_odrl_round_trip_of_demo_agreements() -> None:
    found = load_agreements(POLICIES / "demo" / "agreements.json")
    assert len(found) == 2
    for a in found:
        policy = json.loads(json.dumps(to_odrl(a)))
        assert policy["@type"] == "Agreement" and policy["uid"].endswith(a.id)
        assert len(policy["permission"]) == len(a.classes)
        assert all(p["action"] == "read" for p in policy["permission"])
        assert {p["target"]["@type"] for p in policy["permission"]} == {"AssetCollection"}
        assert from_odrl(policy) == a
        assert to_odrl(from_odrl(policy)) == policy


def test_odrl_import_names_the_problem() -> None:
    policy = to_odrl(load_agreements(POLICIES / "demo" / "agreements.json")[0])
    policy["permission"][0]["action"] = "distribute"
    with pytest.raises(AgreementError) as info:
        from_odrl(policy)
    assert info.value.path == "permission[0].action"
    with pytest.raises(AgreementError):
        from_odrl({"@type": "Offer"})


def test_bad_agreement_document() -> None:
    doc = json.loads((POLICIES / "demo" / "agreements.json").read_text())
    doc["agreements"][0]["assignee"]["roles"] = ["spy"]
    with pytest.raises(AgreementError) as info:
        load_agreements(doc)
    assert info.value.path == "agreements[0].assignee.roles[0]"
    with pytest.raises(AgreementError):
        agreement(valid_until=datetime(2025, 1, 1, tzinfo=UTC))
