"""Issuing a campaign and exempting a robot are audited as every other write: who, what,
when and the outcome, a refusal included (`campaign:ACT:ID:OUTCOME:DETAIL`)."""

from __future__ import annotations

import sqlite3

from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from policies import AuditLog
from schema.parties import manufacturer_id
from tests.support.campaigns import Api
from tests.support.writing import token

ISSUE = """mutation ($input: IssueCampaignInput!) { issueCampaign(input: $input) {
  created campaign { progress { reached } } } }"""
EXEMPT = """mutation ($id: String!, $code: RobotCode!) {
  exemptFromCampaign(campaignId: $id, code: $code, reason: "scrapped after flood") { state } }"""


def recall(segment: str) -> dict:
    return {
        "id": "CN-RC-AUDIT-1",
        "kind": "RECALL",
        "title": "Knee actuator",
        "legalBasis": "Defective product recall regulations art. 12",
        "selector": {"registryCountry": "CN", "manufacturerCode": segment},
        "recall": {"hazard": "the knee may lock", "severity": "SERIOUS", "remedy": "replace it"},
    }


def actions(path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT subject, code, action FROM audit_log WHERE action LIKE 'campaign:%' ORDER BY id"
        ).fetchall()
    return [tuple(r) for r in rows]


def test_issue_replay_refusal_and_exemption_are_in_the_audit_log(tmp_path):
    store = SqliteStore(tmp_path / "registry.db")
    store.import_histories(list(synthetic_fleet(12, seed=7)))
    audit_db = tmp_path / "audit.db"
    audit = AuditLog(str(audit_db))
    try:
        first = store.passport(next(iter(store.codes())))
        maker, segment = manufacturer_id(first.manufacturer), first.code[2:6]
        api = Api(store, audit)
        maker_token = token("manufacturer", "M", jurisdiction="CN", org_id=maker)
        issued = api.ask(ISSUE, {"input": recall(segment)}, maker_token)
        assert "errors" not in issued, issued["errors"]
        reached = issued["data"]["issueCampaign"]["campaign"]["progress"]["reached"]
        assert api.ask(ISSUE, {"input": recall(segment)}, maker_token)["data"]
        refused = api.ask(ISSUE, {"input": recall(segment)}, token("insurer", "I"))
        assert refused["errors"][0]["extensions"]["rule"] == "campaigns.table"
        exempted = api.ask(EXEMPT, {"id": "CN-RC-AUDIT-1", "code": first.code}, maker_token)
        assert exempted["data"]["exemptFromCampaign"]["state"] == "EXEMPTED"
        other = api.ask(EXEMPT, {"id": "CN-RC-AUDIT-1", "code": first.code}, token("owner", "O"))
        assert other["errors"][0]["extensions"]["rule"] == "campaigns.exempt"
        audit.close()
        assert actions(audit_db) == [
            ("manufacturer:M", "", f"campaign:issue:CN-RC-AUDIT-1:stored:{reached}"),
            ("manufacturer:M", "", f"campaign:issue:CN-RC-AUDIT-1:replayed:{reached}"),
            ("insurer:I", "", "campaign:issue:CN-RC-AUDIT-1:refused:campaigns.table"),
            ("manufacturer:M", first.code, "campaign:exempt:CN-RC-AUDIT-1:stored:EXEMPTED"),
            ("owner:O", first.code, "campaign:exempt:CN-RC-AUDIT-1:refused:campaigns.exempt"),
        ]
    finally:
        store.close()
