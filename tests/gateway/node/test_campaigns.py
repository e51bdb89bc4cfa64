"""A node's campaign API, in process: what the gateway's fan-out relies on, and bad input
answered by name with nothing stored; and the federation's reading of it (paging by code)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

from gateway.federation.campaigns import FederatedCampaigns
from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from schema.campaigns import Campaign, CampaignKind, Issuer, RecallTerms, Selector
from schema.codec import to_plain
from schema.events import EventType, OwnershipTransfer
from schema.passport import OwnerKind, Severity
from schema.source import RobotFilter
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


def scan(store: SqliteStore, campaign_id: str) -> Counter:
    """(country, owner) -> robots reached, from the passports and their events."""
    found: Counter = Counter()
    for code in store.codes():
        if store.event_by_key(f"campaign:{campaign_id}:{code}") is not None:
            owner = store.passport(code).current_owner
            found[(owner.jurisdiction, owner.owner_id or "") if owner else ("", "")] += 1
    return found


def test_the_federation_merges_nodes_pages_of_owners_summing_shared_owners(tmp_path):
    stores = [SqliteStore(tmp_path / f"node{i}.db") for i in range(2)]
    stores[0].import_histories(list(synthetic_fleet(20, seed=7)))
    stores[1].import_histories(list(synthetic_fleet(20, seed=8)))
    try:
        # One owner holds robots on both nodes: its counts must be summed, shown once.
        shared = next(iter(scan_owners(stores[0])))
        code = next(c for c in stores[1].codes() if stores[1].passport(c).current_owner)
        at = datetime.now(UTC)
        move = OwnershipTransfer(at, "Shared", OwnerKind.ORGANISATION, shared[0], shared[1])
        stores[1].append(code, EventType.OWNERSHIP_TRANSFERRED, to_plain(move), at)
        nodes = [Node(s, "cn-miit", tmp_path / f"data{i}") for i, s in enumerate(stores)]
        for store in stores:
            store.issue_campaign(recall())
            store.run_campaign("CN-NODE-1")
        expected = scan(stores[0], "CN-NODE-1") + scan(stores[1], "CN-NODE-1")
        assert len(expected) > 3 and shared in expected
        assert expected[shared] > scan(stores[0], "CN-NODE-1")[shared], "on both nodes"

        async def pages(first: int, **where) -> list[list[tuple[str, str, int]]]:
            sources = [federation(n) for n in nodes]
            clients = {f"n{i}": c for i, s in enumerate(sources) for c in s.clients.values()}
            backend = FederatedCampaigns(clients, {})
            found, after = [], None
            try:
                while True:
                    page = await backend.owner_counts("CN-NODE-1", first, after, **where)
                    keys = page.keys()
                    assert 0 < len(keys) <= first
                    found.append(
                        [
                            (
                                c,
                                o,
                                sum(
                                    r.robots for r in page.rows if (r.country, r.owner_id) == (c, o)
                                ),
                            )
                            for c, o in keys
                        ]
                    )
                    if not page.has_next:
                        return found
                    after = keys[-1]
            finally:
                for source in sources:
                    await source.aclose()

        for first in (1, 2, 3, 500):
            merged = [row for page in asyncio.run(pages(first)) for row in page]
            assert [(c, o) for c, o, _ in merged] == sorted(expected), "each owner once, in order"
            assert Counter({(c, o): n for c, o, n in merged}) == expected
        (only,) = asyncio.run(pages(2, owner_id=shared[1]))
        assert only == [(*shared, expected[shared])]
        assert nodes[0].get("/campaigns/CN-NODE-1/owners?after=%01").status_code == 400
        assert nodes[0].get("/campaigns/CN-NODE-1/owners?countries=germany").status_code == 400
    finally:
        for store in stores:
            store.close()


def scan_owners(store: SqliteStore) -> list[tuple[str, str]]:
    return [
        (p.current_owner.jurisdiction, p.current_owner.owner_id)
        for p in map(store.passport, store.codes())
        if p.current_owner and p.current_owner.owner_id and p.identity.status.value == "ACTIVE"
    ]


def test_the_federation_lists_a_campaigns_robots_by_state_the_node_filtering(tmp_path):
    store = SqliteStore(tmp_path / "node.db")
    store.import_histories(list(synthetic_fleet(20, seed=7)))
    try:
        node = Node(store, "cn-miit", tmp_path / "data")
        store.issue_campaign(recall())
        store.run_campaign("CN-NODE-1")
        reached = [r.code for r in store.campaign_robots("CN-NODE-1", 500).items]
        store.exempt("CN-NODE-1", reached[1], "destroyed in a fire")
        exempted = RobotFilter(campaign="CN-NODE-1", campaign_states=("EXEMPTED",))
        pending = RobotFilter(campaign="CN-NODE-1", campaign_states=("PENDING",))
        nowhere = RobotFilter(campaign="CN-NODE-1", campaign_countries=("ZZ",))

        async def listed(where: RobotFilter) -> tuple[list[str], int]:
            source = federation(node)
            codes: list[str] = []
            after = None
            try:
                while True:
                    page = await source.robots(where, 3, after)
                    codes += [r.passport.code for r in page.items]
                    if not page.has_next_page:
                        return codes, await source.count(where)
                    after = page.end_cursor
            finally:
                await source.aclose()

        assert asyncio.run(listed(RobotFilter(campaign="CN-NODE-1"))) == (reached, len(reached))
        assert asyncio.run(listed(exempted)) == ([reached[1]], 1)
        others = [c for c in reached if c != reached[1]]
        assert asyncio.run(listed(pending)) == (others, len(others))
        assert asyncio.run(listed(nowhere)) == ([], 0)
        for bad in (
            "campaign=CN-NODE-1&campaign_states=OVERDUE",
            "campaign=CN-NODE-1&campaign_countries=germany",
            "campaign=no%20such",
        ):
            assert node.get(f"/robots?{bad}").status_code == 400, bad
    finally:
        store.close()
