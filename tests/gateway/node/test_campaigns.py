"""A node's campaign API, in process: what the gateway's fan-out relies on, and bad input
answered by name with nothing stored; and the federation's reading of it (paging by code)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from gateway.federation.campaigns import FederatedCampaigns
from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from schema.campaigns import Campaign, CampaignKind, Issuer, RecallTerms, Selector
from schema.codec import to_plain
from schema.passport import Severity
from tests.support.node import Node, federation


def recall(title: str = "Knee") -> Campaign:
    return Campaign(
        "CN-NODE-1",
        CampaignKind.RECALL,
        Issuer("reg:CN:SAMR", "regulator", "CN"),
        "GB/T 1",
        title,
        datetime.now(UTC),
        Selector(registry_country="CN"),
        recall=RecallTerms("knee may lock", Severity.SERIOUS, "replace it"),
    )


def test_issue_replay_conflict_and_reads(tmp_path):
    store = SqliteStore(tmp_path / "node.db")
    store.import_histories(list(synthetic_fleet(20, seed=7)))
    try:
        node = Node(store, "cn-miit", tmp_path / "data")
        campaign = recall()
        body = {"campaign": to_plain(campaign)}
        first = node.call("PUT", "/campaigns/CN-NODE-1", json=body)
        assert first.status_code == 201, first.text
        reached = first.json()["progress"]["reached"]
        assert reached > 0 and first.json()["progress"]["done"]
        again = node.call("PUT", "/campaigns/CN-NODE-1", json=body)
        assert again.status_code == 200 and again.json()["progress"]["reached"] == reached
        other = {"campaign": to_plain(recall("Another title"))}
        assert node.call("PUT", "/campaigns/CN-NODE-1", json=other).status_code == 409
        mismatch = node.call("PUT", "/campaigns/CN-NODE-2", json=body)
        assert mismatch.status_code == 400 and "path" in mismatch.json()["detail"]
        broken = node.call("PUT", "/campaigns/CN-NODE-3", json={"campaign": {"id": "CN-NODE-3"}})
        assert broken.status_code == 400 and broken.json()["detail"].startswith("campaign:")
        assert node.get("/campaigns/CN-NODE-9").status_code == 404
        assert node.get("/campaigns/CN-NODE-1/robots?states=LATE").status_code == 400
        assert node.get("/campaigns/CN-NODE-1/robots?after=nope").status_code == 400
        assert node.call("PUT", "/campaigns/CN-NODE-1", json=body, token=None).status_code == 401
        exempt = node.post("/campaigns/CN-NODE-1/exemptions", json={"code": "x", "reason": "r"})
        assert exempt.status_code == 400
        assert store.campaign("CN-NODE-1") is not None
        assert store.campaign("CN-NODE-2") is None and store.campaign("CN-NODE-3") is None

        async def pages() -> list[str]:
            source = federation(node)
            backend = FederatedCampaigns(source.clients, source.homes)
            codes: list[str] = []
            after = None
            try:
                while True:
                    page = await backend.robots("CN-NODE-1", 3, after)
                    codes += [r.code for r in page.items]
                    if not page.has_next_page:
                        return codes
                    after = page.end_cursor
            finally:
                await source.aclose()

        codes = asyncio.run(pages())
        assert codes == sorted(codes) and len(codes) == len(set(codes)) == reached
    finally:
        store.close()
