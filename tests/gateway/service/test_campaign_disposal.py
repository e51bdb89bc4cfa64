"""A recycler's disposal record on a robot already decommissioned: the one event such a
robot still takes, from a recycler only, and what an end-of-life obligation waits for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from tests.support.campaigns import Api
from tests.support.writing import token

DECOMMISSION = """mutation ($c: RobotCode!, $k: String!, $input: DecommissionInput!) {
  decommission(code: $c, input: $input, idempotencyKey: $k) { type } }"""
ISSUE = """mutation ($input: IssueCampaignInput!) { issueCampaign(input: $input) {
  campaign { progress { reached } } } }"""
STANDING = "query ($c: RobotCode!) { robot(code: $c) { campaigns { campaignId state } } }"
COUNTS = (
    """{ campaign(id: "CN-EOL-1") { counts { totals { affected pending remedied overdue } } } }"""
)


def owned_active(store: SqliteStore) -> list[tuple[str, str]]:
    """Robots in service with an owner in CN: (code, owner id)."""
    found = []
    for code in store.codes():
        p = store.passport(code)
        owner = p.current_owner
        if p.identity.status.value == "ACTIVE" and owner and owner.owner_id:
            found.append((code, owner.owner_id))
    return found


def decommission(api: Api, code: str, who: str, disposition: str, facility: str | None, key: str):
    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    body = {"at": at, "disposition": disposition, "facility": facility}
    return api.ask(DECOMMISSION, {"c": code, "k": key, "input": body}, who)


def state(api: Api, code: str, who: str) -> str:
    body = api.ask(STANDING, {"c": code}, who)
    assert "errors" not in body, body["errors"]
    (row,) = [r for r in body["data"]["robot"]["campaigns"] if r["campaignId"] == "CN-EOL-1"]
    return row["state"]


def test_a_recyclers_disposal_remedies_the_obligation_and_nothing_else_gets_through(tmp_path):
    store = SqliteStore(tmp_path / "registry.db")
    store.import_histories(list(synthetic_fleet(30, seed=7)))
    try:
        api = Api(store)
        (first, first_owner), (second, second_owner), (active, _) = owned_active(store)[:3]
        for code, owner, key in ((first, first_owner, "d-1"), (second, second_owner, "d-2")):
            done = decommission(
                api, code, token("owner", "O", org_id=owner), "DECOMMISSIONED", None, key
            )
            assert done["data"]["decommission"]["type"] == "END_OF_LIFE", done
        regulator = token("regulator", "SAMR", jurisdiction="CN")
        issued = api.ask(
            ISSUE,
            {
                "input": {
                    "id": "CN-EOL-1",
                    "kind": "END_OF_LIFE",
                    "title": "Disposal of decommissioned humanoids",
                    "legalBasis": "WEEE-like disposal rules art. 3",
                    "disposalRequirement": "scrap at a licensed facility",
                    "deadline": (datetime.now(UTC) + timedelta(days=10)).date().isoformat(),
                    "selector": {"registryCountry": "CN"},
                }
            },
            regulator,
        )
        assert "errors" not in issued, issued["errors"]
        assert state(api, first, regulator) == "PENDING"
        before = api.ask(COUNTS, {}, regulator)["data"]["campaign"]["counts"]["totals"]

        recycler = token("recycler", "R", jurisdiction="CN", org_id="uscc:91320506MA7B2N5EXE")
        wrong = decommission(api, first, recycler, "DECOMMISSIONED", "Plant 4", "r-0")
        assert wrong["errors"][0]["extensions"]["rule"] == "writes.table", "not a disposal"
        bare = decommission(api, first, recycler, "SCRAPPED", None, "r-1")
        assert bare["errors"][0]["extensions"]["rule"] == "writes.table", "no facility named"
        on_active = decommission(api, active, recycler, "SCRAPPED", "Plant 4", "r-2")
        assert on_active["errors"][0]["extensions"]["rule"] == "writes.table"
        owner_late = decommission(
            api, first, token("owner", "O", org_id=first_owner), "SCRAPPED", "Plant 4", "o-3"
        )
        assert owner_late["errors"][0]["extensions"]["rule"] == "writes.table", "recyclers only"

        disposed = decommission(
            api, first, recycler, "SCRAPPED", "Shenzhen recycling plant 4", "r-3"
        )
        assert disposed["data"]["decommission"]["type"] == "END_OF_LIFE", disposed
        assert store.passport(first).identity.status.value == "SCRAPPED"
        assert state(api, first, regulator) == "REMEDIED"
        again = decommission(api, first, recycler, "SCRAPPED", "Another plant", "r-4")
        assert again["errors"][0]["extensions"]["rule"] == "writes.table", "one disposal only"

        counts = api.ask(COUNTS, {}, regulator)["data"]["campaign"]["counts"]["totals"]
        assert counts["affected"] == before["affected"]
        assert counts["remedied"] == before["remedied"] + 1
        assert counts["pending"] == before["pending"] - 1 > 0
        api.services.campaigns.clock = lambda: datetime.now(UTC) + timedelta(days=11)
        late = api.ask(COUNTS, {}, regulator)["data"]["campaign"]["counts"]["totals"]
        assert late["overdue"] == counts["pending"] and late["pending"] == 0
        assert late["remedied"] == counts["remedied"]
        assert state(api, second, regulator) == "OVERDUE"
    finally:
        store.close()
