"""Campaigns over GraphQL and the downloads: issue, who sees which counts, remedy, exempt,
overdue, every bad input refused with nothing stored. A real app in process over a real
SQLite registry, real RS256 tokens, the demo policies."""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from schema.codec import to_plain
from schema.events import EventType, OwnershipTransfer
from schema.parties import manufacturer_id
from schema.passport import OwnerKind
from tests.support.campaigns import Api
from tests.support.writing import token

HISTORIES = list(synthetic_fleet(40, seed=7))
ISSUE = """mutation ($input: IssueCampaignInput!) { issueCampaign(input: $input) {
  created notice campaign { id selector progress { scanned reached done } } } }"""
COUNTS = """query ($id: String!) { campaign(id: $id) { id counts {
  totals { affected pending remedied overdue exempted }
  byCountry { country counts { affected pending remedied overdue exempted } }
  byOwner(first: 100) { edges { node { country ownerId counts { affected } } } } } } }"""
OWNERS = """query ($id: String!, $first: Int!, $after: String) { campaign(id: $id) { counts {
  byOwner(first: $first, after: $after) {
    edges { cursor node { country ownerId counts { affected pending overdue } } }
    pageInfo { hasNextPage endCursor } } } } }"""
ROBOTS = """query ($id: String!, $states: [RobotState!]) { campaign(id: $id) {
  robots(first: 100, states: $states) { edges { node { code state country reason } } } } }"""
REMEDY = """mutation ($id: String!, $code: RobotCode!, $at: DateTime!) {
  remedyCampaign(campaignId: $id, code: $code, at: $at, idempotencyKey: "r-1") { type } }"""
EXEMPT = """mutation ($id: String!, $code: RobotCode!) {
  exemptFromCampaign(campaignId: $id, code: $code, reason: "scrapped after flood") { state } }"""


@pytest.fixture
def store(tmp_path, seeded):
    s = SqliteStore(tmp_path / "registry.db")
    seeded.fill(s, HISTORIES)
    # Two robots of the biggest maker go abroad, so the recall crosses borders.
    yield s
    s.close()


def maker_of(store: SqliteStore) -> tuple[str, str, list[str]]:
    """The maker with most robots in service: its party id, its code segment, and the codes
    of its robots in service (those a recall reaches)."""
    makers: Counter = Counter()
    codes: dict[str, list[str]] = {}
    for code in store.codes():
        p = store.passport(code)
        if p.identity.status.value in ("ACTIVE", "SUSPENDED"):
            makers[(manufacturer_id(p.manufacturer), code[2:6])] += 1
            codes.setdefault(code[2:6], []).append(code)
    (maker, segment), _ = makers.most_common(1)[0]
    return maker, segment, codes[segment]


def owner_of(store: SqliteStore, code: str) -> tuple[str, str]:
    owner = store.passport(code).current_owner
    return (owner.jurisdiction, owner.owner_id or "") if owner else ("", "")


def move(store: SqliteStore, code: str, country: str, owner_id: str) -> None:
    at = datetime.now(UTC) - timedelta(hours=1)
    body = OwnershipTransfer(at, f"Owner {owner_id}", OwnerKind.ORGANISATION, country, owner_id)
    store.append(code, EventType.OWNERSHIP_TRANSFERRED, to_plain(body), at)


def recall_input(segment: str, **change) -> dict:
    return {
        "id": "CN-RC-2026-7",
        "kind": "RECALL",
        "title": "Knee actuator",
        "legalBasis": "Defective product recall regulations art. 12",
        "selector": {"registryCountry": "CN", "manufacturerCode": segment},
        "recall": {"hazard": "the knee may lock", "severity": "SERIOUS", "remedy": "replace it"},
        **change,
    }


def data(body: dict, field: str):
    assert "errors" not in body, body["errors"]
    return body["data"][field]


def refused(body: dict) -> dict:
    (error,) = body["errors"]
    return error["extensions"]


def stored(store: SqliteStore) -> tuple[int, int]:
    with store._reading() as db:
        campaigns = db.execute("SELECT COUNT(*) FROM campaigns").fetchone()[0]
        events = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    return campaigns, events


def test_a_manufacturers_recall_crosses_borders_and_each_authority_counts_its_own(store):
    maker, segment, codes = maker_of(store)
    move(store, codes[0], "DE", "reg:DE:HRB100")
    move(store, codes[1], "FR", "reg:FR:RCS200")
    api = Api(store)
    issued = data(
        api.ask(
            ISSUE,
            {"input": recall_input(segment)},
            token("manufacturer", "M", jurisdiction="CN", org_id=maker),
        ),
        "issueCampaign",
    )
    assert issued["created"] and issued["notice"] is None
    assert issued["campaign"]["selector"]["manufacturer_id"] == maker, "narrowed to its robots"
    reached = issued["campaign"]["progress"]["reached"]
    assert issued["campaign"]["progress"]["done"] and reached == len(codes)
    for code in codes:
        assert [r.reference for r in store.passport(code).compliance.recalls][-1] == "CN-RC-2026-7"

    german = data(
        api.ask(COUNTS, {"id": "CN-RC-2026-7"}, token("regulator", "BAuA", jurisdiction="DE")),
        "campaign",
    )
    assert german["counts"]["totals"]["affected"] == 1
    assert [c["country"] for c in german["counts"]["byCountry"]] == ["DE"]
    assert german["counts"]["byOwner"] is None
    rows = data(
        api.ask(ROBOTS, {"id": "CN-RC-2026-7"}, token("regulator", "BAuA", jurisdiction="DE")),
        "campaign",
    )
    assert [e["node"]["code"] for e in rows["robots"]["edges"]] == [codes[0]]

    home = data(
        api.ask(COUNTS, {"id": "CN-RC-2026-7"}, token("regulator", "SAMR", jurisdiction="CN")),
        "campaign",
    )
    scan = Counter(owner_of(store, c)[0] for c in codes)
    assert {c["country"]: c["counts"]["affected"] for c in home["counts"]["byCountry"]} == scan
    owners = Counter(owner_of(store, c)[1] for c in codes)
    assert (
        Counter(
            {
                e["node"]["ownerId"]: e["node"]["counts"]["affected"]
                for e in home["counts"]["byOwner"]["edges"]
            }
        )
        == owners
    )

    public = api.ask(COUNTS, {"id": "CN-RC-2026-7"})
    assert data(public, "campaign")["counts"]["totals"]["affected"] == reached
    assert data(public, "campaign")["counts"]["byCountry"] is None
    owner = api.ask(
        COUNTS,
        {"id": "CN-RC-2026-7"},
        token("owner", "O", jurisdiction="FR", org_id="reg:FR:RCS200"),
    )
    mine = data(owner, "campaign")["counts"]
    assert mine["totals"]["affected"] == 1
    assert [e["node"]["ownerId"] for e in mine["byOwner"]["edges"]] == ["reg:FR:RCS200"]
    forbidden = api.ask(ROBOTS, {"id": "CN-RC-2026-7"}, token("owner", "O", org_id="reg:FR:RCS200"))
    assert refused(forbidden) == {"code": "FORBIDDEN", "rule": "campaigns.robots"}


def test_a_foreign_authority_reaches_robots_held_in_its_country_only(store):
    """A German authority's recall at the Chinese registry reaches the Chinese robots held in
    Germany and no other; the home registry holds it and shows it on those robots."""
    _, segment, codes = maker_of(store)
    move(store, codes[0], "DE", "reg:DE:HRB100")
    move(store, codes[1], "DE", "reg:DE:HRB101")
    move(store, codes[2], "FR", "reg:FR:RCS200")
    api = Api(store)
    german = token("regulator", "BAuA", jurisdiction="DE", org_id="reg:DE:BAUA")
    issue = {"input": recall_input(segment, id="DE-RC-2026-1", selector={"registryCountry": "CN"})}
    issued = data(api.ask(ISSUE, issue, german), "issueCampaign")
    assert issued["campaign"]["selector"]["jurisdiction"] == "DE", "narrowed to its country"
    in_service = {
        c
        for c in store.codes()
        if store.passport(c).identity.status.value in ("ACTIVE", "SUSPENDED")
    }
    held = {c for c in in_service if owner_of(store, c)[0] == "DE"}
    assert {codes[0], codes[1]} <= held
    recalled = {
        c
        for c in store.codes()
        if any(r.reference == "DE-RC-2026-1" for r in store.passport(c).compliance.recalls)
    }
    assert recalled == held and issued["campaign"]["progress"]["reached"] == len(held)
    # The home registry's regulator sees the campaign and each robot's standing under it.
    home = token("regulator", "SAMR", jurisdiction="CN")
    record = data(
        api.ask('{ campaign(id: "DE-RC-2026-1") { id issuerJurisdiction } }', {}, home),
        "campaign",
    )
    assert record == {"id": "DE-RC-2026-1", "issuerJurisdiction": "DE"}
    standing = api.ask(
        "query ($c: RobotCode!) { robot(code: $c) { campaigns { campaignId state } } }",
        {"c": codes[0]},
        home,
    )
    assert data(standing, "robot")["campaigns"] == [
        {"campaignId": "DE-RC-2026-1", "state": "PENDING"}
    ]
    # Its counts are Germany's; another country's owners are not its to name.
    counts = data(api.ask(COUNTS, {"id": "DE-RC-2026-1"}, german), "campaign")["counts"]
    assert [c["country"] for c in counts["byCountry"]] == ["DE"]
    assert counts["totals"]["affected"] == len(held)
    abroad = {
        "input": recall_input(segment, id="DE-RC-2026-2", selector={"ownerCountries": ["FR"]})
    }
    elsewhere = data(api.ask(ISSUE, abroad, german), "issueCampaign")
    assert elsewhere["campaign"]["progress"]["reached"] == 0 and elsewhere["notice"]
    assert not store.passport(codes[2]).compliance.recalls or all(
        r.reference != "DE-RC-2026-2" for r in store.passport(codes[2]).compliance.recalls
    )


def test_issuing_again_is_a_replay_and_other_terms_conflict(store):
    maker, segment, _ = maker_of(store)
    api = Api(store)
    maker_token = token("manufacturer", "M", jurisdiction="CN", org_id=maker)
    data(api.ask(ISSUE, {"input": recall_input(segment)}, maker_token), "issueCampaign")
    before = stored(store)
    again = data(api.ask(ISSUE, {"input": recall_input(segment)}, maker_token), "issueCampaign")
    assert not again["created"] and stored(store) == before
    other = api.ask(ISSUE, {"input": recall_input(segment, title="Other")}, maker_token)
    assert refused(other)["code"] == "IDEMPOTENCY_CONFLICT" and stored(store) == before


@pytest.mark.parametrize(
    ("change", "who", "expected"),
    [
        (
            {"selector": {}},
            "maker",
            {"code": "EVENT_REJECTED", "rule": "selector.empty", "field": "selector"},
        ),
        (
            {
                "kind": "MANDATED_UPDATE",
                "recall": None,
                "minimumFirmware": "9.0",
                "deadline": "2020-01-01",
            },
            "maker",
            {"code": "EVENT_REJECTED", "rule": "deadline.past", "field": "deadline"},
        ),
        (
            {"selector": {"plant": "O"}},
            "maker",
            {"code": "EVENT_REJECTED", "rule": "code.segment", "field": "selector.plant"},
        ),
        ({}, "owner", {"code": "FORBIDDEN", "rule": "campaigns.table"}),
        (
            {
                "kind": "END_OF_LIFE",
                "recall": None,
                "disposalRequirement": "x",
                "deadline": "2030-01-01",
            },
            "maker",
            {"code": "FORBIDDEN", "rule": "campaigns.table"},
        ),
    ],
)
def test_bad_input_is_refused_by_name_and_stores_nothing(store, change, who, expected):
    maker, segment, _ = maker_of(store)
    bearer = {
        "maker": token("manufacturer", "M", jurisdiction="CN", org_id=maker),
        "owner": token("owner", "O", org_id="reg:DE:HRB1"),
    }[who]
    before = stored(store)
    body = Api(store).ask(ISSUE, {"input": recall_input(segment, **change)}, bearer)
    assert refused(body) == expected
    assert stored(store) == before
    if expected["code"] == "EVENT_REJECTED":  # one line: the field, what is wrong, what to do
        message = body["errors"][0]["message"]
        assert "\n" not in message and message.startswith(expected["field"] + ": ")
    if expected.get("rule") == "deadline.past":
        assert message.endswith("give today (UTC) or a later day (rule deadline.past)")


def test_a_selector_that_matches_nothing_is_accepted_and_says_so(store):
    api = Api(store)
    body = api.ask(
        ISSUE,
        {"input": recall_input("YYYY", id="CN-RC-EMPTY")},
        token("regulator", "SAMR", jurisdiction="CN"),
    )
    issued = data(body, "issueCampaign")
    assert issued["campaign"]["progress"]["reached"] == 0 and "matches no robot" in issued["notice"]


def test_an_unknown_campaign_is_not_found_everywhere(store):
    api = Api(store)
    before = stored(store)
    lookup = api.ask(COUNTS, {"id": "NOPE-1"})
    assert refused(lookup)["code"] == "NOT_FOUND"
    assert lookup["errors"][0]["message"] == "no campaign 'NOPE-1': check the id or list campaigns"
    code = store.codes()[0]
    at = datetime.now(UTC).isoformat()
    reg = token("regulator", "SAMR", jurisdiction="CN")
    remedy = api.ask(REMEDY, {"id": "NOPE-1", "code": code, "at": at}, reg)
    assert refused(remedy)["code"] == "NOT_FOUND" and "NOPE-1" in remedy["errors"][0]["message"]
    exempt = api.ask(EXEMPT, {"id": "NOPE-1", "code": code}, reg)
    assert refused(exempt)["code"] == "NOT_FOUND" and "NOPE-1" in exempt["errors"][0]["message"]
    assert api.request("GET", "/campaigns/NOPE-1/robots.csv", reg).status_code == 404
    assert stored(store) == before, "no event, no campaign"
    with store._reading() as db:
        assert db.execute("SELECT COUNT(*) FROM campaign_robots").fetchone()[0] == 0


CAMPAIGNS = """query ($f: CampaignFilterInput, $after: String) {
  campaigns(filter: $f, first: 1, after: $after) {
    edges { node { id kind issuerRole } } pageInfo { hasNextPage endCursor } } }"""


def listed(api: Api, where: dict | None) -> list[str]:
    """Every campaign id `campaigns(filter)` lists, one a page."""
    ids, after = [], None
    while True:
        page = data(api.ask(CAMPAIGNS, {"f": where, "after": after}), "campaigns")
        ids += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids
        after = page["pageInfo"]["endCursor"]


def test_campaigns_are_listed_by_kind_and_issuer_in_id_order(store):
    maker, segment, _ = maker_of(store)
    api = Api(store)
    maker_token = token("manufacturer", "M", jurisdiction="CN", org_id=maker)
    regulator = token("regulator", "SAMR", jurisdiction="CN", org_id="reg:CN:SAMR")
    deadline = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    mandate = {"kind": "MANDATED_UPDATE", "recall": None, "minimumFirmware": "99.0"}
    for change, bearer in (
        ({"id": "CN-RC-B"}, maker_token),
        ({"id": "CN-MU-A", **mandate, "deadline": deadline}, maker_token),
        ({"id": "CN-RC-C"}, regulator),
    ):
        issued = api.ask(ISSUE, {"input": recall_input(segment, **change)}, bearer)
        data(issued, "issueCampaign")
    assert listed(api, None) == ["CN-MU-A", "CN-RC-B", "CN-RC-C"]
    assert listed(api, {"kind": "RECALL"}) == ["CN-RC-B", "CN-RC-C"]
    assert listed(api, {"kind": "MANDATED_UPDATE"}) == ["CN-MU-A"]
    assert listed(api, {"issuerId": maker}) == ["CN-MU-A", "CN-RC-B"]
    assert listed(api, {"issuerId": maker, "kind": "RECALL"}) == ["CN-RC-B"]
    assert listed(api, {"kind": "END_OF_LIFE"}) == []


def test_remedy_exempt_overdue_and_the_downloads_agree(store):
    maker, segment, codes = maker_of(store)
    api = Api(store)
    maker_token = token("manufacturer", "M", jurisdiction="CN", org_id=maker)
    deadline = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    data(
        api.ask(ISSUE, {"input": recall_input(segment, deadline=deadline)}, maker_token),
        "issueCampaign",
    )
    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    remedied = api.ask(REMEDY, {"id": "CN-RC-2026-7", "code": codes[0], "at": at}, maker_token)
    assert data(remedied, "remedyCampaign")["type"] == "RECALL_REMEDIED"
    assert data(
        api.ask(EXEMPT, {"id": "CN-RC-2026-7", "code": codes[1]}, maker_token), "exemptFromCampaign"
    ) == {"state": "EXEMPTED"}
    other = api.ask(
        EXEMPT, {"id": "CN-RC-2026-7", "code": codes[2]}, token("regulator", "B", jurisdiction="DE")
    )
    assert refused(other) == {"code": "FORBIDDEN", "rule": "campaigns.exempt"}

    reg = token("regulator", "SAMR", jurisdiction="CN")
    totals = data(api.ask(COUNTS, {"id": "CN-RC-2026-7"}, reg), "campaign")["counts"]["totals"]
    assert totals == {
        "affected": len(codes),
        "pending": len(codes) - 2,
        "remedied": 1,
        "overdue": 0,
        "exempted": 1,
    }

    api.services.campaigns.clock = lambda: datetime.now(UTC) + timedelta(days=11)
    late = data(api.ask(COUNTS, {"id": "CN-RC-2026-7"}, reg), "campaign")["counts"]["totals"]
    assert late == {
        "affected": len(codes),
        "pending": 0,
        "remedied": 1,
        "overdue": len(codes) - 2,
        "exempted": 1,
    }
    overdue = data(api.ask(ROBOTS, {"id": "CN-RC-2026-7", "states": ["OVERDUE"]}, reg), "campaign")
    assert sorted(e["node"]["code"] for e in overdue["robots"]["edges"]) == sorted(codes[2:])
    pending = data(api.ask(ROBOTS, {"id": "CN-RC-2026-7", "states": ["PENDING"]}, reg), "campaign")
    assert pending["robots"]["edges"] == []

    table = api.request("GET", "/campaigns/CN-RC-2026-7/robots.csv", reg)
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert Counter(r["state"] for r in rows) == Counter(
        {"OVERDUE": len(codes) - 2, "REMEDIED": 1, "EXEMPTED": 1}
    )
    lines = api.request(
        "GET", "/campaigns/CN-RC-2026-7/robots.ndjson?state=EXEMPTED", reg
    ).text.splitlines()
    assert [orjson.loads(x)["code"] for x in lines] == [codes[1]]
    assert orjson.loads(lines[0])["reason"] == "scrapped after flood"
    assert api.request("GET", "/campaigns/CN-RC-2026-7/robots.csv", None).status_code == 403
    assert (
        api.request("GET", "/campaigns/CN-RC-2026-7/robots.csv?state=LATE", reg).status_code == 400
    )

    robot = api.ask(
        "query ($c: RobotCode!) { robot(code: $c) { campaigns { campaignId state } } }",
        {"c": codes[2]},
    )
    assert data(robot, "robot")["campaigns"] == [{"campaignId": "CN-RC-2026-7", "state": "OVERDUE"}]
    reasons = "query ($c: RobotCode!) { robot(code: $c) { campaigns { state reason } } }"
    public = data(api.ask(reasons, {"c": codes[1]}), "robot")["campaigns"]
    assert public == [{"state": "EXEMPTED", "reason": None}], "the reason is not for everyone"
    home = data(api.ask(reasons, {"c": codes[1]}, reg), "robot")["campaigns"]
    assert home == [{"state": "EXEMPTED", "reason": "scrapped after flood"}]


def test_a_long_fan_out_answers_early_and_finishes_in_the_background(store, monkeypatch):
    monkeypatch.setattr("gateway.service.campaigns.IN_REQUEST", 5)
    monkeypatch.setattr("gateway.service.campaigns.FAN_OUT_BATCH", 2)
    api = Api(store)
    reg = token("regulator", "SAMR", jurisdiction="CN")
    progress = 'query { campaign(id: "CN-RC-ALL-1") { progress { scanned reached done } } }'

    async def issue_then_follow() -> tuple[dict, dict]:
        body = await api.ask_async(
            ISSUE,
            {"input": recall_input("X", id="CN-RC-ALL-1", selector={"registryCountry": "CN"})},
            reg,
        )
        first = data(body, "issueCampaign")["campaign"]["progress"]
        for _ in range(600):
            now = data(await api.ask_async(progress, {}), "campaign")["progress"]
            if now["done"]:
                return first, now
            await asyncio.sleep(0.05)
        raise AssertionError("the fan-out did not finish")

    first, last = asyncio.run(issue_then_follow())
    assert first == {"scanned": 5, "reached": first["reached"], "done": False}
    assert last["scanned"] == len(store.codes()) and last["reached"] > first["reached"]
    reached = sum(1 for code in store.codes() if store.event_by_key(f"campaign:CN-RC-ALL-1:{code}"))
    assert reached == last["reached"]


def test_the_owners_change_feed_carries_the_campaign_event(store):
    maker, segment, codes = maker_of(store)
    owner_id = owner_of(store, codes[0])[1] or "reg:DE:HRB300"
    if not owner_of(store, codes[0])[1]:
        move(store, codes[0], "DE", owner_id)
    api = Api(store)
    owner = token("owner", "O", org_id=owner_id)
    head = data(api.ask("{ fleetFeed { headCursor } }", {}, owner), "fleetFeed")["headCursor"]
    maker_token = token("manufacturer", "M", jurisdiction="CN", org_id=maker)
    data(api.ask(ISSUE, {"input": recall_input(segment)}, maker_token), "issueCampaign")
    feed = api.ask(
        "query ($after: String) { fleetChanges(after: $after) { edges { node { code type"
        " payload } } } }",
        {"after": head},
        owner,
    )
    changes = [e["node"] for e in data(feed, "fleetChanges")["edges"]]
    ours = [c for c in changes if c["type"] == "RECALL_ISSUED"]
    assert codes[0] in {c["code"] for c in ours}
    assert {c["payload"]["reference"] for c in ours} == {"CN-RC-2026-7"}


def owner_pages(api: Api, bearer: str | None, first: int) -> list[list[dict]]:
    """Every page of byOwner, `first` owners at a time, following endCursor."""
    pages, after = [], None
    while True:
        body = api.ask(OWNERS, {"id": "CN-RC-2026-7", "first": first, "after": after}, bearer)
        page = data(body, "campaign")["counts"]["byOwner"]
        pages.append(page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]


def test_counts_by_owner_page_in_key_order_and_add_up_to_a_scan(store):
    maker, segment, codes = maker_of(store)
    move(store, codes[0], "DE", "reg:DE:HRB100")
    move(store, codes[1], "FR", "reg:FR:RCS200")
    api = Api(store)
    maker_token = token("manufacturer", "M", jurisdiction="CN", org_id=maker)
    data(api.ask(ISSUE, {"input": recall_input(segment)}, maker_token), "issueCampaign")
    scan = Counter(owner_of(store, c) for c in codes)
    assert len(scan) > 2, "enough owners to page"
    home = token("regulator", "SAMR", jurisdiction="CN")
    for first in (1, 2, len(scan)):
        pages = owner_pages(api, home, first)
        assert all(0 < len(p) <= first for p in pages)
        keys = [(e["node"]["country"], e["node"]["ownerId"]) for p in pages for e in p]
        assert keys == sorted(scan), "each owner once, in (country, owner) order"
        shown = {
            (e["node"]["country"], e["node"]["ownerId"]): e["node"]["counts"]["affected"]
            for p in pages
            for e in p
        }
        assert Counter(shown) == scan
    # The owner pages over its own row only; the German authority and the public see none.
    owner = token("owner", "O", jurisdiction="FR", org_id="reg:FR:RCS200")
    assert [[e["node"]["ownerId"] for e in p] for p in owner_pages(api, owner, 1)] == [
        ["reg:FR:RCS200"]
    ]
    german = token("regulator", "BAuA", jurisdiction="DE")
    for bearer in (german, None):
        body = api.ask(OWNERS, {"id": "CN-RC-2026-7", "first": 5}, bearer)
        assert data(body, "campaign")["counts"]["byOwner"] is None
    # A cursor not issued, or a page too big, is the caller's mistake, said once.
    bad = api.ask(OWNERS, {"id": "CN-RC-2026-7", "first": 5, "after": "bm90LWEta2V5"}, home)
    assert refused(bad)["code"] == "BAD_USER_INPUT"
    big = api.ask(OWNERS, {"id": "CN-RC-2026-7", "first": 501}, home)
    assert refused(big)["code"] == "BAD_USER_INPUT"


FLEET = """query ($f: RobotFilterInput, $after: String) {
  robots(filter: $f, first: 2, after: $after) {
    totalCount edges { node { code } } pageInfo { hasNextPage endCursor } } }"""


def fleet(api: Api, where: dict, bearer: str | None) -> tuple[list[str], int]:
    """Every robot of the fleet list under `where`, two a page, and the total it gave."""
    codes, after, totals = [], None, set()
    while True:
        page = data(api.ask(FLEET, {"f": where, "after": after}, bearer), "robots")
        codes += [e["node"]["code"] for e in page["edges"]]
        totals.add(page["totalCount"])
        if not page["pageInfo"]["hasNextPage"]:
            (total,) = totals
            return codes, total
        after = page["pageInfo"]["endCursor"]


def test_the_fleet_list_filters_on_compliance_state_as_campaign_robots_allows(store):
    maker, segment, codes = maker_of(store)
    move(store, codes[2], "DE", "reg:DE:HRB100")
    api = Api(store)
    maker_token = token("manufacturer", "M", jurisdiction="CN", org_id=maker)
    deadline = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    issue = {"input": recall_input(segment, deadline=deadline)}
    data(api.ask(ISSUE, issue, maker_token), "issueCampaign")
    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    data(
        api.ask(REMEDY, {"id": "CN-RC-2026-7", "code": codes[0], "at": at}, maker_token),
        "remedyCampaign",
    )
    data(
        api.ask(EXEMPT, {"id": "CN-RC-2026-7", "code": codes[1]}, maker_token), "exemptFromCampaign"
    )
    rest = sorted(codes[2:])
    reg = token("regulator", "SAMR", jurisdiction="CN")
    cid = "CN-RC-2026-7"
    assert fleet(api, {"campaign": cid}, reg) == (sorted(codes), len(codes))
    assert fleet(api, {"campaign": cid, "campaignState": "REMEDIED"}, reg) == ([codes[0]], 1)
    assert fleet(api, {"campaign": cid, "campaignState": "EXEMPTED"}, maker_token) == (
        [codes[1]],
        1,
    )
    assert fleet(api, {"campaign": cid, "campaignState": "PENDING"}, reg) == (rest, len(rest))
    assert fleet(api, {"campaign": cid, "campaignState": "OVERDUE"}, reg) == ([], 0)
    # With the other filters, all must hold.
    status = store.passport(codes[3]).identity.status.value
    same = sorted(c for c in rest if store.passport(c).identity.status.value == status)
    pending = {"campaign": cid, "campaignState": "PENDING", "status": status}
    assert fleet(api, pending, reg) == (same, len(same))

    api.services.campaigns.clock = lambda: datetime.now(UTC) + timedelta(days=11)
    assert fleet(api, {"campaign": cid, "campaignState": "OVERDUE"}, reg) == (rest, len(rest))
    assert fleet(api, {"campaign": cid, "campaignState": "PENDING"}, reg) == ([], 0)

    # A foreign authority lists its own country's robots only, as Campaign.robots does.
    german = token("regulator", "BAuA", jurisdiction="DE")
    assert fleet(api, {"campaign": cid}, german) == ([codes[2]], 1)
    assert fleet(api, {"campaign": cid, "campaignState": "REMEDIED"}, german) == ([], 0)
    # Whoever may not list a campaign's robots is refused, as there; bad input by name.
    owner = token("owner", "O", jurisdiction="DE", org_id="reg:DE:HRB100")
    for bearer in (owner, None):
        body = api.ask(FLEET, {"f": {"campaign": cid}}, bearer)
        assert refused(body) == {"code": "FORBIDDEN", "rule": "campaigns.robots"}
    alone = api.ask(FLEET, {"f": {"campaignState": "PENDING"}}, reg)
    assert refused(alone)["code"] == "BAD_USER_INPUT"
    assert "campaignState needs filter.campaign" in alone["errors"][0]["message"]
    unknown = api.ask(FLEET, {"f": {"campaign": "NO-SUCH-1"}}, reg)
    assert refused(unknown)["code"] == "NOT_FOUND"
