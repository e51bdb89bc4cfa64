"""Every disclosure is audited; the trail is for the authority and the owner only.

A real app in process over a real registry, real RS256 tokens from a trusted
issuer, a real audit log on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from gateway.service.disclosures import disclosure_records
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.web.app import create_app
from policies import (
    AuditLog,
    Principal,
    Relationship,
    Role,
)
from schema.graphql.objects import RecordingView
from tests.support import auditdb
from tests.support.audited import (
    BUYER,
    ISSUER,
    POLICY,
    QUERY,
    TRAIL,
    Gateway,
    busy_robot,
    token,
)

audit_url = auditdb.audit_url

REQUESTED = {
    "manufacturer",
    "manufacturer.name",
    "ownership",
    "ownership.owner",
    "ownership.jurisdiction",
    "conditions",
    "conditions.battery_health_pct",
    "maintenance",
    "maintenance.performed_by",
    "incidents",
    "incidents.findings",
}


@pytest.fixture
def log(audit_url: str) -> Iterator[AuditLog]:
    audit = AuditLog(audit_url)
    yield audit
    audit.close()


def test_a_buyer_query_appends_what_was_served_and_denied(store, log: AuditLog, audit_url: str):
    code, _ = busy_robot(store)
    jti = "jti-" + uuid.uuid4().hex
    bearer = token(jti, **BUYER)
    body = Gateway(store, log).ask(QUERY, {"code": code}, bearer)
    assert body["data"]["robot"]["condition"]["batteryHealthPct"] is not None
    [row] = log.trail(code)
    r = row.record
    assert set(r.served) | set(r.denied) == REQUESTED
    assert set(r.denied) == {"ownership.owner", "incidents.findings"}
    assert r.role == "buyer" and r.token_id == jti and r.purposes == ("due_diligence",)
    assert r.policy_version == POLICY.version and r.code == code
    assert log.verify() is None
    stored = auditdb.dump(audit_url)
    assert jti in stored and bearer not in stored, "only the jti is stored, never the token"
    assert bearer.split(".")[2] not in stored


def test_one_record_per_robot_in_one_transaction(store, log: AuditLog):
    query = "{ robots(first: 5) { edges { node { code manufacturer { name } } } } }"
    body = Gateway(store, log).ask(query, {}, token(**BUYER))
    codes = [e["node"]["code"] for e in body["data"]["robots"]["edges"]]
    rows = [row for code in codes for row in log.trail(code)]
    assert sorted(row.id for row in rows) == [1, 2, 3, 4, 5]
    assert len({row.record.at for row in rows}) == 1, "one append for the whole request"
    assert all(row.record.served == ("manufacturer", "manufacturer.name") for row in rows)


def test_anonymous_disclosures_are_recorded_too(store, log: AuditLog):
    code, _ = busy_robot(store)
    Gateway(store, log).ask(QUERY, {"code": code})
    [row] = log.trail(code)
    assert row.record.role == "public" and row.record.token_id is None
    assert "maintenance" in row.record.denied and "manufacturer.name" in row.record.served


def test_history_payloads_are_served_or_denied_whole(store, log: AuditLog):
    code, _ = busy_robot(store)
    query = """query ($code: RobotCode!) { robot(code: $code) {
      history(first: 100) { edges { node { sequence type payload } } } } }"""
    body = Gateway(store, log).ask(query, {"code": code}, token(**BUYER))
    withheld = [e for e in body["data"]["robot"]["history"]["edges"] if e["node"]["type"] is None]
    assert withheld, "the registration carries the owner, which a buyer may not see"
    [row] = log.trail(code)
    assert "ownership.owner" in row.record.denied
    assert not set(row.record.served) & set(row.record.denied)


def test_export_records_every_path_of_the_document(store, log: AuditLog):
    code, _ = busy_robot(store)
    buyer = Principal(ISSUER, "b", Role.BUYER, purposes=frozenset({"due_diligence"}))
    context = Services(LocalSource(store), POLICY, audit=log).context(buyer)
    document = context.export(store.record(code), "canonical")
    assert "owner" not in document["ownership"][0]
    asyncio.run(context.record_disclosures())
    [row] = log.trail(code)
    assert {"identity.code", "maintenance.performed_by"} <= set(row.record.served)
    assert "ownership.owner" in row.record.denied


def test_trusted_mode_audits_nothing(store, log: AuditLog):
    code, _ = busy_robot(store)
    Gateway(store, log, policy=None).ask(QUERY, {"code": code})
    assert log.head() == (0, "0" * 64)


def test_no_data_answered_records_only_refusals():
    buyer = Principal(ISSUER, "b", Role.BUYER)
    decision = POLICY.decide(buyer, Relationship.NONE, "CN")
    seen, refused = RecordingView(decision.mask.visible), RecordingView(decision.mask.visible)
    assert "manufacturer.name" in seen and "manufacturer.name" in refused
    assert "ownership.owner" not in refused
    at = datetime(2026, 6, 1, tzinfo=UTC)
    assert disclosure_records(buyer, {("A", decision): seen}, at, answered=False) == []
    [record] = disclosure_records(buyer, {("B", decision): refused}, at, answered=False)
    assert record.served == () and record.denied == ("ownership.owner",)
    [record] = disclosure_records(buyer, {("B", decision): refused}, at, answered=True)
    assert record.served == ("manufacturer.name",)


def trail(gateway: Gateway, code: str, bearer: str | None, first: int = 20, after=None) -> dict:
    return gateway.ask(TRAIL, {"code": code, "first": first, "after": after}, bearer)


def test_the_owner_reads_its_robots_trail_without_requester_identities(store, log: AuditLog):
    code, owner = busy_robot(store)
    gateway = Gateway(store, log)
    gateway.ask(QUERY, {"code": code}, token("jti-buyer", **BUYER))
    gateway.ask(QUERY, {"code": code})
    owner_id = store.passport(code).current_owner.owner_id
    bearer = token(role="owner", org=owner, org_id=owner_id, purposes="fleet_management")
    body = trail(gateway, code, bearer)
    nodes = [e["node"] for e in body["data"]["auditTrail"]["edges"]]
    assert [n["role"] for n in nodes] == ["buyer", "public"]
    assert nodes[0]["denied"] == ["incidents.findings", "ownership.owner"]
    assert all(n["organisation"] is None and n["tokenId"] is None for n in nodes)
    assert len(log.trail(code)) == 2, "reading the trail is not a passport disclosure"


def test_the_registry_authority_reads_the_trail_in_full_a_page_at_a_time(store, log: AuditLog):
    code, _ = busy_robot(store)
    gateway = Gateway(store, log)
    for _ in range(3):
        gateway.ask(QUERY, {"code": code}, token("jti-buyer", **BUYER))
    cn = token(role="regulator", org="SAMR", jurisdiction="CN", purposes="supervision")
    first = trail(gateway, code, cn, first=2)["data"]["auditTrail"]
    assert [e["node"]["id"] for e in first["edges"]] == [1, 2]
    assert first["edges"][0]["node"]["organisation"] == BUYER["org"]
    assert first["edges"][0]["node"]["tokenId"] == "jti-buyer"
    assert first["pageInfo"]["hasNextPage"] is True
    rest = trail(gateway, code, cn, first=2, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in rest["data"]["auditTrail"]["edges"]] == [3]
    assert rest["data"]["auditTrail"]["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize(
    "claims",
    [
        BUYER,
        {"role": "regulator", "org": "BAuA", "jurisdiction": "DE"},
        {"role": "owner", "org": "Somebody Else Ltd."},
        {"role": "buyer", "org": "OWNER", "org_id": "OWNER_ID"},
        {"role": "owner", "org": "OWNER"},
    ],
    ids=["buyer", "foreign-regulator", "other-owner", "owner-org-as-buyer", "owner-name-no-id"],
)
def test_anyone_else_gets_an_error_and_no_trail(store, log: AuditLog, claims: dict):
    code, owner = busy_robot(store)
    gateway = Gateway(store, log)
    gateway.ask(QUERY, {"code": code}, token("jti-secret", **BUYER))
    owner_id = store.passport(code).current_owner.owner_id
    same = {"OWNER": owner, "OWNER_ID": owner_id}
    claims = {k: same.get(v, v) for k, v in claims.items()}
    body = trail(gateway, code, token(**claims))
    assert body["data"] == {"auditTrail": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    assert error["path"] == ["auditTrail"]
    assert "jti-secret" not in str(body) and "due_diligence" not in str(body)


def test_anonymous_gets_no_trail(store, log: AuditLog):
    code, _ = busy_robot(store)
    body = trail(Gateway(store, log), code, None)
    assert body["data"]["auditTrail"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"


def test_bad_trail_inputs(store, log: AuditLog):
    code, owner = busy_robot(store)
    gateway = Gateway(store, log)
    bearer = token(role="owner", org=owner, org_id=store.passport(code).current_owner.owner_id)

    def code_of(body: dict) -> str:
        return body["errors"][0]["extensions"]["code"]

    assert code_of(trail(gateway, code, bearer, after="bogus")) == "BAD_USER_INPUT"
    assert code_of(trail(gateway, code, bearer, first=101)) == "BAD_USER_INPUT"
    assert code_of(trail(gateway, code, bearer, first=-1)) == "BAD_USER_INPUT"
    robots_cursor = "Y29kZTpY"  # a robots cursor ("code:X"), not an audit one
    assert code_of(trail(gateway, code, bearer, after=robots_cursor)) == "BAD_USER_INPUT"
    unknown = code[:-1] + ("A" if code[-1] != "A" else "B")
    assert code_of(trail(gateway, unknown, bearer)) in {"BAD_ROBOT_CODE", "NOT_FOUND"}


def test_without_an_audit_log_the_trail_is_unavailable(store):
    app = create_app(Services(LocalSource(store), POLICY))

    async def post() -> dict:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            code = store.codes(limit=1)[0]
            body = {"query": TRAIL, "variables": {"code": code, "first": 1}}
            return (await client.post("/graphql", json=body)).json()

    body = asyncio.run(post())
    assert body["errors"][0]["extensions"]["code"] == "AUDIT_LOG_UNAVAILABLE"


def test_no_response_goes_out_unrecorded(store, tmp_path):
    log = AuditLog(tmp_path / "audit.db")
    code, _ = busy_robot(store)
    app = create_app(Services(LocalSource(store), POLICY, audit=log))
    log.close()  # every append now fails

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post("/graphql", json={"query": QUERY, "variables": {"code": code}})

    response = asyncio.run(post())
    assert response.status_code == 500
    assert "manufacturer" not in response.text


def test_graphql_export_records_the_documents_paths(store, log: AuditLog):
    code, _ = busy_robot(store)
    query = """query ($code: RobotCode!) { robot(code: $code) { export(format: CANONICAL) } }"""
    body = Gateway(store, log).ask(query, {"code": code}, token(**BUYER))
    assert body["data"]["robot"]["export"]
    [row] = log.trail(code)
    assert {"identity.code", "maintenance.performed_by"} <= set(row.record.served)
    assert "ownership.owner" in row.record.denied


def test_a_download_is_recorded_before_it_is_sent(store, log: AuditLog):
    code, _ = busy_robot(store)
    jti = "jti-" + uuid.uuid4().hex
    response = Gateway(store, log).get(f"/robots/{code}/export/canonical", token(jti, **BUYER))
    assert response.status_code == 200
    [row] = log.trail(code)
    assert row.record.token_id == jti and "conditions.battery_health_pct" in row.record.served
    assert "ownership.owner" in row.record.denied


def test_a_rejected_operation_records_only_the_refusal(store, log: AuditLog):
    code, _ = busy_robot(store)
    gateway = Gateway(store, log)
    body = gateway.ask(QUERY, {"code": code}, token(**BUYER), **{"robopass-on-denied": "reject"})
    assert body["data"] is None
    [row] = log.trail(code)
    assert row.record.served == ()
    assert set(row.record.denied) == {"incidents.findings", "ownership.owner"}
    query = """query ($code: RobotCode!) { robot(code: $code) { manufacturer { name } } }"""
    allowed = gateway.ask(query, {"code": code}, **{"robopass-on-denied": "reject"})
    assert allowed["data"]["robot"]["manufacturer"]["name"]
    assert len(log.trail(code)) == 2


def test_a_report_page_records_the_whole_view(store, log: AuditLog):
    code, _ = busy_robot(store)
    response = Gateway(store, log).get(f"/robots/{code}")
    assert response.status_code == 200
    [row] = log.trail(code)
    assert row.record.role == "public"
    assert "manufacturer.name" in row.record.served and "ownership.owner" in row.record.denied
