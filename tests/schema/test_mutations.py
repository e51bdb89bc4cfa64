"""Mutations: each write's happy path, every rule refused by name, retries, denials, audit.

A real app in process over a real SQLite registry, real RS256 tokens, the demo
policies and a real audit log. Each refusal is checked to have stored nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from gateway.store import SqliteStore
from policies import AuditLog
from schema.code import RobotCode
from schema.codec import parse_datetime
from schema.events import EventType, commitment_of, link_hash
from schema.parties import manufacturer_id
from tests.support.writing import Gateway, active, event_count, party, pick, soon, token

RESULT = "{ code sequence hash prevHash type at payload scheme commitment salt replayed }"
MAINTENANCE = f"""mutation ($code: RobotCode!, $input: MaintenanceInput!, $key: String!) {{
  recordMaintenance(code: $code, input: $input, idempotencyKey: $key) {RESULT} }}"""
INCIDENT = f"""mutation ($code: RobotCode!, $input: IncidentInput!, $key: String!) {{
  reportIncident(code: $code, input: $input, idempotencyKey: $key) {RESULT} }}"""
CONDITION = f"""mutation ($code: RobotCode!, $input: ConditionInput!, $key: String!) {{
  recordCondition(code: $code, input: $input, idempotencyKey: $key) {RESULT} }}"""
DEPLOYMENT = f"""mutation ($code: RobotCode!, $input: DeploymentInput!, $key: String!) {{
  recordDeployment(code: $code, input: $input, idempotencyKey: $key) {RESULT} }}"""
SOFTWARE = f"""mutation ($code: RobotCode!, $input: SoftwareInput!, $key: String!) {{
  updateSoftware(code: $code, input: $input, idempotencyKey: $key) {RESULT} }}"""
DECOMMISSION = f"""mutation ($code: RobotCode!, $input: DecommissionInput!, $key: String!) {{
  decommission(code: $code, input: $input, idempotencyKey: $key) {RESULT} }}"""
OFFER = f"""mutation ($code: RobotCode!, $input: TransferInput!, $key: String!) {{
  initiateTransfer(code: $code, input: $input, idempotencyKey: $key) {RESULT} }}"""
ACCEPT = f"""mutation ($code: RobotCode!, $at: DateTime!, $key: String!) {{
  acceptTransfer(code: $code, at: $at, idempotencyKey: $key) {RESULT} }}"""


@pytest.fixture
def log(tmp_path) -> Iterator[AuditLog]:
    audit = AuditLog(tmp_path / "audit.db")
    yield audit
    audit.close()


@pytest.fixture
def gw(store: SqliteStore, log: AuditLog) -> Gateway:
    return Gateway(store, log)


def owner_of(p) -> str:
    return token("owner", p.current_owner.owner, org_id=p.current_owner.owner_id)


def maintenance(**change) -> dict:
    return {
        "at": soon(),
        "kind": "REPAIR",
        "component": "left_knee",
        "performedBy": "Knee Fixers Ltd",
        "hoursAtService": 10.0,
        **change,
    }


def condition(p, **change) -> dict:
    last = p.condition
    return {
        "at": soon(),
        "operatingHours": last.operating_hours + 5,
        "batteryHealthPct": 80.0,
        "chargeCycles": last.charge_cycles + 1,
        "movementPrecisionMm": 0.4,
        "abnormalStressEvents": last.abnormal_stress_events,
        "jointWear": [{"joint": "left_knee", "wearPct": 12.5}],
        **change,
    }


def data(body: dict, field: str) -> dict:
    assert "errors" not in body, body["errors"]
    return body["data"][field]


def refused(body: dict) -> dict:
    assert body["data"] is None or all(v is None for v in body["data"].values())
    (error,) = body["errors"]
    return error["extensions"]


# -- happy paths ---------------------------------------------------------------


def test_record_maintenance_appends_a_chained_event_and_audits_it(store, gw, log):
    p = pick(store, active)
    before, head = event_count(store), store.head(p.code)
    body = gw.ask(
        MAINTENANCE,
        {"code": p.code, "input": maintenance(), "key": "m-1"},
        token("service_provider", "Knee Fixers Ltd"),
    )
    result = data(body, "recordMaintenance")
    assert (result["sequence"], result["prevHash"]) == (head.sequence + 1, head.hash)
    assert result["type"] == "MAINTENANCE_RECORDED" and result["replayed"] is False
    assert event_count(store) == before + 1
    assert store.head(p.code).hash == result["hash"]
    assert store.passport(p.code).maintenance[-1].performed_by == "Knee Fixers Ltd"
    assert store.verify_chain(p.code).verified
    at, kind = parse_datetime(result["at"]), EventType(result["type"])
    assert result["scheme"] == 2, "the writer gets its own salt and can check its event"
    assert commitment_of(result["salt"], at, kind, result["payload"]) == result["commitment"]
    assert link_hash(p.code, result["sequence"], result["commitment"], head.hash) == result["hash"]
    (entry,) = [r.record for r in log.trail(p.code) if r.record.action]
    assert entry.action == f"write:MAINTENANCE_RECORDED:stored:{result['sequence']}"
    assert entry.role == "service_provider" and entry.served == ("maintenance",)
    assert log.verify() is None


def test_report_incident_gets_a_registry_id(store, gw):
    p = pick(store, active)
    incident = {
        "at": soon(),
        "severity": "MODERATE",
        "category": "FALL",
        "description": "Slipped on a wet floor",
    }
    result = data(
        gw.ask(INCIDENT, {"code": p.code, "input": incident, "key": "i-1"}, owner_of(p)),
        "reportIncident",
    )
    stored = store.passport(p.code).incidents[-1]
    assert stored.id == result["payload"]["id"] and stored.id.startswith("INC-")
    assert stored.description == "Slipped on a wet floor" and stored.status.value == "OPEN"


def test_record_condition_by_the_operator_updates_the_current_condition(store, gw):
    def operated(p) -> bool:
        running = [d.operator_id for d in p.deployments if d.end is None]
        return active(p) and bool(running) and running[-1] != p.current_owner.owner_id

    p = pick(store, operated)
    operator = next(d for d in p.deployments if d.end is None)
    result = data(
        gw.ask(
            CONDITION,
            {"code": p.code, "input": condition(p), "key": "c-1"},
            token("operator", operator.operator, org_id=operator.operator_id),
        ),
        "recordCondition",
    )
    now = store.passport(p.code).condition
    assert result["type"] == "CONDITION_RECORDED"
    assert (now.battery_health_pct, now.joint_wear[0].wear_pct) == (80.0, 12.5)


def test_deployment_start_and_end_by_the_owner(store, gw):
    p = pick(store, lambda p: active(p) and all(d.end is not None for d in p.deployments))
    start = {
        "phase": "START",
        "at": soon(),
        "scenario": "LOGISTICS",
        "region": "DE-BE",
        "operator": "Lager Nord GmbH",
    }
    data(
        gw.ask(DEPLOYMENT, {"code": p.code, "input": start, "key": "d-1"}, owner_of(p)),
        "recordDeployment",
    )
    assert store.passport(p.code).deployments[-1].end is None
    end = {"phase": "END", "at": soon(5), "operatingHours": 4.5}
    result = data(
        gw.ask(DEPLOYMENT, {"code": p.code, "input": end, "key": "d-2"}, owner_of(p)),
        "recordDeployment",
    )
    assert result["type"] == "DEPLOYMENT_ENDED"
    last = store.passport(p.code).deployments[-1]
    assert (last.region, last.operating_hours, last.end is not None) == ("DE-BE", 4.5, True)


def test_update_software_by_the_manufacturer(store, gw):
    p = pick(store, active)
    software = {
        "at": soon(),
        "firmwareVersion": "9.9.9",
        "operatingSystem": "RobotOS 4",
        "aiModels": [{"name": "walk", "version": "2", "provider": "Lab", "purpose": "gait"}],
    }
    maker = token(
        "manufacturer",
        p.manufacturer.name,
        jurisdiction="CN",
        org_id=manufacturer_id(p.manufacturer),
    )
    data(
        gw.ask(SOFTWARE, {"code": p.code, "input": software, "key": "s-1"}, maker), "updateSoftware"
    )
    now = store.passport(p.code).software
    assert (now.firmware_version, now.ai_models[0].name) == ("9.9.9", "walk")


def test_decommission_ends_the_robot_and_later_writes_are_refused(store, gw):
    p = pick(store, active)
    out = {"at": soon(), "disposition": "DECOMMISSIONED", "facility": "Recycler"}
    data(
        gw.ask(DECOMMISSION, {"code": p.code, "input": out, "key": "e-1"}, owner_of(p)),
        "decommission",
    )
    assert store.passport(p.code).identity.status.value == "DECOMMISSIONED"
    before = event_count(store)
    body = gw.ask(
        MAINTENANCE,
        {"code": p.code, "input": maintenance(at=soon(1)), "key": "m-after"},
        token("service_provider", "Knee Fixers Ltd"),
    )
    assert refused(body) == {"code": "EVENT_REJECTED", "rule": "status.ended", "field": "code"}
    assert event_count(store) == before


# -- bad input: each rule by name, nothing stored ------------------------------

BAD_CONDITIONS = [
    ({"batteryHealthPct": 101.0}, "range.percent", "batteryHealthPct"),
    ({"batteryHealthPct": -0.5}, "range.percent", "batteryHealthPct"),
    ({"movementPrecisionMm": -0.1}, "range.non_negative", "movementPrecisionMm"),
    ({"jointWear": [{"joint": "knee", "wearPct": 150}]}, "range.percent", "jointWear[0].wearPct"),
    ({"at": "2099-01-01T00:00:00Z"}, "time.future", "at"),
    ({"at": "2020-01-01T00:00:00Z"}, "time.before_registration", "at"),
    ({"at": "2026-01-01T10:00:00"}, "time.offset", "at"),
    ({"operatingHours": 0.0}, "counter.decrease", "operatingHours"),
    ({"chargeCycles": 0}, "counter.decrease", "chargeCycles"),
]


@pytest.mark.parametrize(("change", "rule", "field"), BAD_CONDITIONS)
def test_a_bad_condition_names_its_rule_and_field(store, gw, change, rule, field):
    p = pick(store, lambda p: active(p) and p.condition and p.condition.operating_hours > 1)
    before = event_count(store)
    body = gw.ask(
        CONDITION, {"code": p.code, "input": condition(p, **change), "key": "bad"}, owner_of(p)
    )
    assert refused(body) == {"code": "EVENT_REJECTED", "rule": rule, "field": field}
    assert event_count(store) == before


def test_other_bad_inputs_name_their_rules(store, gw):
    p = pick(store, lambda p: active(p) and all(d.end is not None for d in p.deployments))
    owner, before = owner_of(p), event_count(store)
    cases = [
        (MAINTENANCE, maintenance(hoursAtService=-1), "range.non_negative", "hoursAtService"),
        (MAINTENANCE, maintenance(component=" "), "required", "component"),
        (DEPLOYMENT, {"phase": "END", "at": soon(), "operatingHours": 1},
         "deployment.none_open", "at"),
        (DEPLOYMENT, {"phase": "START", "at": soon()}, "required", "scenario"),
        (DECOMMISSION, {"at": soon(), "disposition": "ACTIVE"},
         "decommission.disposition", "disposition"),
        (OFFER, {"at": soon(), "newOwner": "Another name", "ownerKind": "ORGANISATION",
                 "newOwnerId": p.current_owner.owner_id, "jurisdiction": "DE"},
         "transfer.current_owner", "newOwner"),
        (OFFER, {"at": soon(), "newOwner": "X GmbH", "ownerKind": "ORGANISATION",
                 "newOwnerId": party("X GmbH"), "jurisdiction": "Germany"},
         "format.country", "jurisdiction"),
        (OFFER, {"at": soon(), "newOwner": "X GmbH", "ownerKind": "ORGANISATION",
                 "newOwnerId": "X GmbH", "jurisdiction": "DE"}, "format.party_id", "newOwnerId"),
    ]  # fmt: skip
    service = token("service_provider", "Knee Fixers Ltd")
    for query, value, rule, field in cases:
        who = service if query is MAINTENANCE else owner
        body = gw.ask(query, {"code": p.code, "input": value, "key": f"k-{rule}"}, who)
        assert refused(body) == {"code": "EVENT_REJECTED", "rule": rule, "field": field}, query
    assert event_count(store) == before


def test_an_unknown_robot_is_not_found(store, gw):
    unknown = RobotCode.generate("CN", "HD01", "H10001", date(2025, 3, 1), "1", 987654).value
    assert store.record(unknown) is None
    body = gw.ask(
        MAINTENANCE,
        {"code": unknown, "input": maintenance(), "key": "nf"},
        token("service_provider", "Knee Fixers Ltd"),
    )
    assert refused(body)["code"] == "NOT_FOUND"


# -- idempotency -----------------------------------------------------------------


def test_the_same_key_again_returns_the_first_result_and_writes_nothing(store, gw):
    p = pick(store, active)
    service = token("service_provider", "Knee Fixers Ltd")
    variables = {"code": p.code, "input": maintenance(), "key": "retry-me"}
    first = data(gw.ask(MAINTENANCE, variables, service), "recordMaintenance")
    before = event_count(store)
    again = data(gw.ask(MAINTENANCE, variables, service), "recordMaintenance")
    assert event_count(store) == before
    assert again["replayed"] is True and first["replayed"] is False
    assert {k: v for k, v in again.items() if k != "replayed"} == {
        k: v for k, v in first.items() if k != "replayed"
    }


def test_the_same_key_with_another_payload_is_a_conflict(store, gw, log):
    p = pick(store, active)
    service = token("service_provider", "Knee Fixers Ltd")
    data(
        gw.ask(MAINTENANCE, {"code": p.code, "input": maintenance(), "key": "k"}, service),
        "recordMaintenance",
    )
    before = event_count(store)
    other = maintenance(component="right_knee")
    body = gw.ask(MAINTENANCE, {"code": p.code, "input": other, "key": "k"}, service)
    assert refused(body) == {
        "code": "IDEMPOTENCY_CONFLICT",
        "rule": "idempotency.conflict",
        "field": "idempotencyKey",
    }
    assert event_count(store) == before
    assert (
        log.trail(p.code)[-1].record.action
        == "write:MAINTENANCE_RECORDED:refused:idempotency.conflict"
    )


def test_keys_are_scoped_to_the_caller(store, gw):
    p = pick(store, active)
    variables = {"code": p.code, "input": maintenance(), "key": "shared"}
    data(gw.ask(MAINTENANCE, variables, token("service_provider", "A")), "recordMaintenance")
    other = {**variables, "input": maintenance(at=soon(1))}
    result = data(gw.ask(MAINTENANCE, other, token("service_provider", "B")), "recordMaintenance")
    assert result["replayed"] is False


# -- who may write ----------------------------------------------------------------


def test_parties_without_the_right_are_denied_and_nothing_is_stored(store, gw, log):
    p = pick(store, active)
    before = event_count(store)
    cases = [
        (MAINTENANCE, maintenance(), None, "scope"),  # anonymous
        (MAINTENANCE, maintenance(), token("buyer", "Second Life Robots GmbH"), "writes.table"),
        (MAINTENANCE, maintenance(), token("owner", p.current_owner.owner), "writes.table"),
        (
            MAINTENANCE,
            maintenance(),
            token("service_provider", "Knee Fixers Ltd", scope="robopass:read"),
            "scope",
        ),
        (CONDITION, condition(p), token("owner", "Not The Owner Ltd"), "writes.table"),
        (CONDITION, condition(p), token("regulator", "SAMR", jurisdiction="CN"), "writes.table"),
    ]
    for query, value, bearer, rule in cases:
        body = gw.ask(query, {"code": p.code, "input": value, "key": "deny"}, bearer)
        assert refused(body)["code"] == "FORBIDDEN", body
        assert refused(body)["rule"] == rule
    assert event_count(store) == before
    refusals = [r.record.action for r in log.trail(p.code) if r.record.action]
    assert refusals.count("write:MAINTENANCE_RECORDED:refused:writes.table") == 2
    assert all(":refused:" in a for a in refusals)


def test_a_foreign_regulator_may_not_write_into_the_chinese_record(store, gw):
    p = pick(store, active)
    incident = {"at": soon(), "severity": "MINOR", "category": "OTHER", "description": "x"}
    home = token("regulator", "SAMR", jurisdiction="CN")
    foreign = token("regulator", "BAuA", jurisdiction="DE")
    body = gw.ask(INCIDENT, {"code": p.code, "input": incident, "key": "r"}, foreign)
    assert refused(body)["code"] == "FORBIDDEN"
    data(gw.ask(INCIDENT, {"code": p.code, "input": incident, "key": "r"}, home), "reportIncident")


# -- two-step transfer ---------------------------------------------------------------


def offer(
    p, new_owner: str, jurisdiction: str, minutes: float = 0, owner_id: str | None = None
) -> dict:
    return {
        "at": soon(minutes),
        "newOwner": new_owner,
        "newOwnerId": owner_id or party(new_owner),
        "ownerKind": "ORGANISATION",
        "jurisdiction": jurisdiction,
    }


def buyer_token(name: str, jurisdiction: str = "DE") -> str:
    return token("owner", name, jurisdiction=jurisdiction, org_id=party(name))


def test_a_cross_border_transfer_keeps_the_record_and_moves_the_link(store, gw, log):
    p = pick(store, lambda p: active(p) and p.current_owner.jurisdiction == "CN")
    code, home = p.code, p.identity.home_registry
    french = "Robots de Lyon SARL"
    nobody = buyer_token("Somebody Else SA", "FR")
    body = gw.ask(ACCEPT, {"code": code, "at": soon(), "key": "a-0"}, buyer_token(french, "FR"))
    assert refused(body)["rule"] == "transfer.no_offer"
    before_offer = gw.ask(ACCEPT, {"code": code, "at": soon(1), "key": "a-1"}, nobody)

    result = data(
        gw.ask(OFFER, {"code": code, "input": offer(p, french, "FR"), "key": "o-1"}, owner_of(p)),
        "initiateTransfer",
    )
    assert result["type"] == "TRANSFER_OFFERED"
    assert store.passport(code).current_owner.owner == p.current_owner.owner, "nothing passed yet"

    before = event_count(store)
    body = gw.ask(ACCEPT, {"code": code, "at": soon(1), "key": "a-1"}, nobody)
    assert refused(body)["rule"] == "transfer.no_offer"
    assert body == before_offer, "a stranger cannot tell a pending offer from none"
    assert event_count(store) == before

    buyer = buyer_token(french, "FR")
    accepted = data(
        gw.ask(ACCEPT, {"code": code, "at": soon(1), "key": "a-1"}, buyer), "acceptTransfer"
    )
    assert accepted["type"] == "OWNERSHIP_TRANSFERRED" and accepted["payload"]["owner"] == french
    now = store.passport(code)
    assert (now.current_owner.owner, now.current_owner.jurisdiction) == (french, "FR")
    assert (now.code, now.identity.home_registry) == (code, home), "the record stays whole"
    assert [(link.code, link.home) for link in store.links()] == [(code, home)]

    again = data(
        gw.ask(ACCEPT, {"code": code, "at": soon(1), "key": "a-1"}, buyer), "acceptTransfer"
    )
    assert again["replayed"] is True and again["sequence"] == accepted["sequence"]
    other = gw.ask(ACCEPT, {"code": code, "at": soon(9), "key": "a-1"}, buyer)
    assert refused(other)["code"] == "IDEMPOTENCY_CONFLICT"
    body = gw.ask(ACCEPT, {"code": code, "at": soon(2), "key": "a-2"}, buyer)
    assert refused(body)["rule"] == "transfer.no_offer", "an offer is accepted once"

    # Onward from France to the United States: France's link goes, the US one comes.
    american = "Robots of Ohio Inc."
    data(
        gw.ask(OFFER, {"code": code, "input": offer(p, american, "US", 2), "key": "o-2"}, buyer),
        "initiateTransfer",
    )
    us = buyer_token(american, "US")
    data(gw.ask(ACCEPT, {"code": code, "at": soon(3), "key": "a-3"}, us), "acceptTransfer")
    (link,) = store.links()
    assert (link.code, link.home) == (code, home)
    # And home again: no foreign registry holds a link any more.
    chinese = p.current_owner
    home_offer = offer(p, chinese.owner, "CN", 3, chinese.owner_id)
    data(
        gw.ask(OFFER, {"code": code, "input": home_offer, "key": "o-3"}, us),
        "initiateTransfer",
    )
    data(gw.ask(ACCEPT, {"code": code, "at": soon(4), "key": "a-4"}, owner_of(p)), "acceptTransfer")
    assert store.links() == []
    assert store.verify_chain(code).verified
    kinds = [r.record.action.split(":")[1:3] for r in log.trail(code) if r.record.action]
    assert ["OWNERSHIP_TRANSFERRED", "stored"] in kinds and ["TRANSFER_OFFERED", "stored"] in kinds


def test_a_newer_offer_replaces_the_older_one(store, gw):
    p = pick(store, active)
    first, second = "First Buyer GmbH", "Second Buyer GmbH"
    for i, who in enumerate((first, second)):
        variables = {"code": p.code, "input": offer(p, who, "DE", i), "key": f"o-{i}"}
        data(gw.ask(OFFER, variables, owner_of(p)), "initiateTransfer")
    body = gw.ask(ACCEPT, {"code": p.code, "at": soon(2), "key": "a"}, buyer_token(first))
    assert refused(body)["rule"] == "transfer.no_offer"
    data(
        gw.ask(ACCEPT, {"code": p.code, "at": soon(2), "key": "a"}, buyer_token(second)),
        "acceptTransfer",
    )
    assert store.passport(p.code).current_owner.owner == second


def test_every_chain_still_verifies_after_the_writes(store, gw):
    p = pick(store, active)
    service = token("service_provider", "Knee Fixers Ltd")
    for i in range(3):
        variables = {"code": p.code, "input": maintenance(at=soon(i)), "key": f"v-{i}"}
        data(gw.ask(MAINTENANCE, variables, service), "recordMaintenance")
    assert all(store.verify_chain(code).verified for code in store.codes())


def test_a_gateway_without_a_writer_answers_writes_unavailable(store, log):
    from gateway.service.local import LocalSource
    from gateway.service.services import Services
    from gateway.web.app import create_app
    from tests.support.writing import POLICY

    gw = Gateway(store, log)
    gw.app = create_app(Services(LocalSource(store), POLICY))
    p = pick(store, active)
    body = gw.ask(MAINTENANCE, {"code": p.code, "input": maintenance(), "key": "x"})
    assert refused(body)["code"] == "WRITES_UNAVAILABLE"


def test_the_policy_rows_writes_added():
    from policies import Principal, Relationship, Role, may_accept_transfer, may_write
    from schema.events import EventType as E

    acme = "reg:DE:HRB1234"

    def who(role: Role, org_id: str | None = acme) -> Principal:
        return Principal(
            "iss", "sub", role, organisation="Acme GmbH", jurisdiction="DE", organisation_id=org_id
        )

    owner, R = who(Role.OWNER), Relationship
    assert may_write(owner, R.CURRENT_OWNER, E.TRANSFER_OFFERED)
    assert not may_write(owner, R.PAST_OWNER, E.TRANSFER_OFFERED)
    assert may_write(owner, R.CURRENT_OWNER, E.CONDITIONS_INGESTED)
    assert may_write(who(Role.OPERATOR), R.OPERATOR, E.CONDITIONS_INGESTED)
    assert not may_write(who(Role.BUYER), R.CURRENT_OWNER, E.CONDITIONS_INGESTED)
    assert may_accept_transfer(who(Role.BUYER), acme)
    assert not may_accept_transfer(who(Role.BUYER, "reg:DE:HRB12345"), acme)
    assert not may_accept_transfer(who(Role.BUYER, None), acme)
    assert not may_accept_transfer(who(Role.BUYER), None), "an offer without an id: no one"
    assert not may_accept_transfer(who(Role.REGULATOR), acme)


def test_writes_on_postgresql(pg_url, fleet, log):
    """The same write path on PostgreSQL, where the writer works on a worker thread."""
    from gateway.store.postgres import PostgresStore

    store = PostgresStore(pg_url)
    try:
        store.import_histories(fleet[:10])
        gw = Gateway(store, log)
        p = pick(store, lambda p: active(p) and p.current_owner.jurisdiction == "CN")
        service = token("service_provider", "Knee Fixers Ltd")
        variables = {"code": p.code, "input": maintenance(), "key": "pg-1"}
        first = data(gw.ask(MAINTENANCE, variables, service), "recordMaintenance")
        before = event_count(store)
        again = data(gw.ask(MAINTENANCE, variables, service), "recordMaintenance")
        assert (again["replayed"], again["hash"], event_count(store)) == (
            True,
            first["hash"],
            before,
        )
        french = "Robots de Lyon SARL"
        offered = {"code": p.code, "input": offer(p, french, "FR", 1), "key": "pg-o"}
        data(gw.ask(OFFER, offered, owner_of(p)), "initiateTransfer")
        buyer = buyer_token(french, "FR")
        data(
            gw.ask(ACCEPT, {"code": p.code, "at": soon(2), "key": "pg-a"}, buyer), "acceptTransfer"
        )
        assert [link.code for link in store.links()] == [p.code]
        assert store.verify_chain(p.code).verified
    finally:
        store.close()
