"""Campaigns in the store: fan-out, idempotence, resuming, late registrations, states, and
counts that always equal a brute-force scan of the fleet. Every test runs on SQLite and on
PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from gateway.store import IdempotencyConflict, SqliteStore, Store
from gateway.store.campaigns import UnknownCampaign
from gateway.store.errors import UnknownRobot
from gateway.synthetic.fleet import synthetic_fleet
from schema.campaign_source import Progress
from schema.campaigns import (
    Campaign,
    CampaignKind,
    DisposalTerms,
    Issuer,
    MandateTerms,
    RecallTerms,
    RobotState,
    Selector,
    applies,
    state_of,
)
from schema.codec import to_plain
from schema.events import EventType, OwnershipTransfer, RecallRemedy, SoftwareUpdate, payload_of
from schema.passport import EndOfLife, OwnerKind, RobotStatus, Severity
from schema.source import RobotFilter
from tests.support.stores import empty_store, reopen

__all__ = ["empty_store"]  # the store on both backends, used by parameter name

HISTORIES = list(synthetic_fleet(40, seed=7))


@pytest.fixture
def store(empty_store: Store, seeded) -> Store:
    seeded.fill(empty_store, HISTORIES[:30])
    return empty_store


def campaign(id: str = "CN-RC-1", selector: Selector | None = None, **change) -> Campaign:
    base = Campaign(
        id,
        CampaignKind.RECALL,
        Issuer("uscc:91320506MA7B2N5EXE", "manufacturer", "CN"),
        "GB/T 1",
        "Knee",
        datetime.now(UTC),
        selector or Selector(registry_country="CN"),
        recall=RecallTerms("knee may lock", Severity.SERIOUS, "replace it"),
    )
    return dataclasses.replace(base, **change)


def brute_force(store: Store, c: Campaign) -> Counter:
    """Counts by (country, owner, state) from every passport of the fleet, no aggregate."""
    found: Counter = Counter()
    for code in store.codes():
        p = store.passport(code)
        reached = store.event_by_key(f"campaign:{c.id}:{code}") is not None or (
            c.kind is CampaignKind.END_OF_LIFE and applies(c, p)
        )
        if reached:
            owner = p.current_owner
            country = owner.jurisdiction if owner else ""
            state = state_of(c, p)
            exempt = [r for r in store.campaign_robots(c.id, 500).items if r.code == code]
            if exempt and exempt[0].state is RobotState.EXEMPTED:
                state = RobotState.EXEMPTED
            found[(country, (owner.owner_id or "") if owner else "", state)] += 1
    return found


def aggregate(store: Store, c: Campaign) -> Counter:
    return Counter(
        {(r.country, r.owner_id, r.state): r.robots for r in store.campaign_counts(c.id)}
    )


def by_country(store: Store, c: Campaign) -> Counter:
    return Counter({(r.country, r.state): r.robots for r in store.campaign_country_counts(c.id)})


def assert_consistent(store: Store, c: Campaign) -> None:
    scanned = brute_force(store, c)
    assert aggregate(store, c) == scanned
    countries: Counter = Counter()
    for (country, _, state), n in scanned.items():
        countries[(country, state)] += n
    assert by_country(store, c) == countries
    assert store.campaign(c.id).progress.reached == sum(scanned.values())


def events(store: Store) -> int:
    with store._reading() as db:
        return db.execute("SELECT COUNT(*) FROM events").fetchone()[0]


def test_fan_out_reaches_every_robot_in_service_once_and_counts_match_a_scan(store):
    c = campaign()
    record, created = store.issue_campaign(c)
    assert created and record.progress == Progress(0, 0, False)
    before = events(store)
    progress = store.run_campaign(c.id, batch=7)
    assert progress.done and progress.scanned == 30
    assert progress.reached == events(store) - before > 0
    ended = 0
    for code in store.codes():
        p = store.passport(code)
        ours = [r for r in p.compliance.recalls if r.reference == c.id]
        assert len(ours) == (1 if applies(c, p) else 0), "robots in service, each once"
        ended += p.identity.status.value in ("DECOMMISSIONED", "SCRAPPED")
        assert store.verify_chain(code).verified
    assert progress.reached == 30 - ended
    assert_consistent(store, c)
    assert store.run_campaign(c.id).reached == progress.reached  # done: nothing more


def test_issuing_again_adds_nothing_and_other_terms_under_the_id_conflict(store):
    c = campaign()
    store.issue_campaign(c)
    store.run_campaign(c.id)
    before = events(store)
    _, created = store.issue_campaign(c)
    assert not created and store.run_campaign(c.id).done and events(store) == before
    with pytest.raises(IdempotencyConflict):
        store.issue_campaign(dataclasses.replace(c, title="Another"))
    assert store.campaign(c.id).campaign.title == "Knee"


def test_a_fan_out_stopped_midway_resumes_where_it_stopped(store, tmp_path, request):
    c = campaign()
    store.issue_campaign(c)
    partial = store.run_campaign(c.id, batch=4, budget=12)
    assert not partial.done and partial.scanned == 12
    backend = "sqlite" if isinstance(store, SqliteStore) else "postgresql"
    reopened = reopen(backend, tmp_path / "registry.db", request)  # as a new process would
    try:
        assert reopened.campaign(c.id).progress == partial
        final = reopened.run_campaign(c.id, batch=4)
        assert final.done and final.scanned == 30
        for code in reopened.codes():
            refs = [r.reference for r in reopened.passport(code).compliance.recalls]
            assert refs.count(c.id) <= 1
        assert_consistent(reopened, c)
    finally:
        reopened.close()


def test_a_robot_registered_later_that_matches_is_reached_when_it_registers(store):
    c = campaign()
    store.issue_campaign(c)
    store.run_campaign(c.id)
    reached = store.campaign(c.id).progress.reached
    store.import_histories(HISTORIES[30:])
    late = [h[0].code for h in HISTORIES[30:]]
    got = [code for code in late if store.event_by_key(f"campaign:{c.id}:{code}") is not None]
    assert got and store.campaign(c.id).progress.reached == reached + len(got)
    assert_consistent(store, c)


def test_a_selector_matching_nothing_is_kept_and_reaches_nobody(store):
    c = campaign("CN-RC-NONE", Selector(registry_country="DE"))
    store.issue_campaign(c)
    before = events(store)
    progress = store.run_campaign(c.id)
    assert progress.done and progress.reached == 0 and events(store) == before
    assert store.campaign_counts(c.id) == []


def active_owned(store: Store, c: Campaign) -> list[str]:
    rows = store.campaign_robots(c.id, 500).items
    return [r.code for r in rows if store.passport(r.code).current_owner is not None]


def test_remedy_transfer_and_exemption_move_the_counts(store):
    c = campaign()
    store.issue_campaign(c)
    store.run_campaign(c.id)
    first, second, third = active_owned(store, c)[:3]
    at = datetime.now(UTC) - timedelta(minutes=1)
    store.append(first, EventType.RECALL_REMEDIED, payload_of(EventType.RECALL_REMEDIED,
                 RecallRemedy(c.id, at)), at)  # fmt: skip
    transfer = OwnershipTransfer(
        at, "Zweite Hand GmbH", OwnerKind.ORGANISATION, "DE", "reg:DE:HRB1"
    )
    store.append(second, EventType.OWNERSHIP_TRANSFERRED, to_plain(transfer), at)
    store.exempt(c.id, third, "destroyed in a fire")
    states = {r.code: r for r in store.campaign_robots(c.id, 500).items}
    assert states[first].state is RobotState.REMEDIED
    assert (states[second].country, states[second].owner_id) == ("DE", "reg:DE:HRB1")
    assert states[third].state is RobotState.EXEMPTED and states[third].reason
    assert_consistent(store, c)
    only = store.campaign_robots(c.id, 500, states=(RobotState.REMEDIED,)).items
    assert [r.code for r in only] == [first]
    german = [r.code for r in store.campaign_robots(c.id, 500, countries=("DE",)).items]
    assert second in german
    assert all(store.passport(code).current_owner.jurisdiction == "DE" for code in german)


def test_a_mandated_update_is_remedied_by_the_software_update_itself(store):
    c = campaign(
        "CN-MU-1",
        kind=CampaignKind.MANDATED_UPDATE,
        recall=None,
        mandate=MandateTerms("99.0"),
        deadline=(datetime.now(UTC) + timedelta(days=30)).date(),
    )
    store.issue_campaign(c)
    store.run_campaign(c.id)
    code = active_owned(store, c)[0]
    p = store.passport(code)
    assert p.compliance.mandated_updates[-1].required_version == "99.0"
    at = datetime.now(UTC) - timedelta(minutes=1)
    for version, expected in (("98.9", RobotState.PENDING), ("99.0.1", RobotState.REMEDIED)):
        software = dataclasses.replace(p.software, firmware_version=version)
        update = payload_of(EventType.SOFTWARE_UPDATED, SoftwareUpdate(at, software))
        store.append(code, EventType.SOFTWARE_UPDATED, update, at)
        (row,) = [r for r in store.campaign_robots(c.id, 500).items if r.code == code]
        assert row.state is expected
    assert_consistent(store, c)


def test_exempting_what_is_not_there_says_so_and_changes_nothing(store):
    c = campaign("CN-RC-NONE", Selector(registry_country="DE"))
    store.issue_campaign(c)
    with pytest.raises(UnknownCampaign, match="no campaign"):
        store.exempt("NOPE-1", store.codes()[0], "x")
    with pytest.raises(UnknownRobot, match="not under campaign"):
        store.exempt(c.id, store.codes()[0], "x")
    assert store.campaign_counts(c.id) == [] and store.campaign_robots(c.id, 10).items == []


def test_an_end_of_life_obligation_reaches_robots_as_they_leave_service(store):
    c = campaign(
        "CN-EOL-1",
        kind=CampaignKind.END_OF_LIFE,
        recall=None,
        disposal=DisposalTerms("recycled by a licensed facility"),
        deadline=(datetime.now(UTC) + timedelta(days=90)).date(),
    )
    store.issue_campaign(c)
    before = events(store)
    store.run_campaign(c.id)
    assert events(store) == before, "an end-of-life obligation appends no event"
    reached = {r.code for r in store.campaign_robots(c.id, 500).items}
    ended = {
        code
        for code in store.codes()
        if store.passport(code).identity.status.value in ("DECOMMISSIONED", "SCRAPPED")
    }
    assert reached == ended
    code = active_owned(store, campaign_reaching_all(store))[0]
    at = datetime.now(UTC) - timedelta(minutes=1)
    for disposition, facility, expected in (
        (RobotStatus.DECOMMISSIONED, None, RobotState.PENDING),
        (RobotStatus.SCRAPPED, "Licensed Recycling Ltd", RobotState.REMEDIED),
    ):
        body = payload_of(EventType.END_OF_LIFE, EndOfLife(at, disposition, facility))
        store.append(code, EventType.END_OF_LIFE, body, at)
        (row,) = [r for r in store.campaign_robots(c.id, 500).items if r.code == code]
        assert row.state is expected
    assert_consistent(store, c)


def campaign_reaching_all(store: Store) -> Campaign:
    c = campaign("CN-RC-ALL")
    store.issue_campaign(c)
    store.run_campaign(c.id)
    return c


def paged_owners(store: Store, campaign_id: str, first: int, **where) -> list:
    """Every row of the per-owner aggregate, read a page of `first` owners at a time;
    each page checked: whole owners, in key order, after the last page's last key."""
    rows: list = []
    after = None
    while True:
        page = store.campaign_owner_counts(campaign_id, first, after, **where)
        keys = page.keys()
        assert len(keys) <= first and (not page.has_next or len(keys) == first)
        assert after is None or all(k > after for k in keys)
        assert [(r.country, r.owner_id) for r in page.rows] == sorted(
            (r.country, r.owner_id) for r in page.rows
        )
        rows += page.rows
        if not page.has_next:
            return rows
        after = keys[-1]


def test_counts_by_owner_are_paged_by_owner_key_and_add_up_to_a_scan(store):
    c = campaign()
    store.issue_campaign(c)
    store.run_campaign(c.id)
    scanned = brute_force(store, c)
    owners = {(country, owner) for country, owner, _ in scanned}
    assert len(owners) > 3, "enough owners to page"
    for first in (1, 2, 3, len(owners), 500):
        rows = paged_owners(store, c.id, first)
        assert Counter({(r.country, r.owner_id, r.state): r.robots for r in rows}) == scanned
        assert len(rows) == len({(r.country, r.owner_id, r.state) for r in rows}), "no repeats"
    country, owner = sorted(owners)[len(owners) // 2]
    mine = paged_owners(store, c.id, 1, owner_id=owner)
    assert Counter({(r.country, r.owner_id, r.state): r.robots for r in mine}) == Counter(
        {k: n for k, n in scanned.items() if k[1] == owner}
    )
    there = paged_owners(store, c.id, 2, countries=(country,))
    assert Counter({(r.country, r.owner_id, r.state): r.robots for r in there}) == Counter(
        {k: n for k, n in scanned.items() if k[0] == country}
    )
    last = max(owners)
    assert store.campaign_owner_counts(c.id, 5, last).rows == []
    assert not store.campaign_owner_counts(c.id, 5, last).has_next
    assert store.campaign_owner_counts("NO-SUCH", 5).rows == []


def paged_codes(store: Store, where: RobotFilter, first: int) -> list[str]:
    codes: list[str] = []
    after = None
    while True:
        page = store.page(where, first, after)
        codes += [r.passport.code for r in page.items]
        if not page.has_next_page:
            return codes
        after = page.end_cursor


def test_the_fleet_list_filters_on_a_campaigns_state_and_owner_country(store):
    c = campaign()
    store.issue_campaign(c)
    store.run_campaign(c.id)
    first, second, third = active_owned(store, c)[:3]
    at = datetime.now(UTC) - timedelta(minutes=1)
    store.append(first, EventType.RECALL_REMEDIED, payload_of(EventType.RECALL_REMEDIED,
                 RecallRemedy(c.id, at)), at)  # fmt: skip
    transfer = OwnershipTransfer(
        at, "Zweite Hand GmbH", OwnerKind.ORGANISATION, "DE", "reg:DE:HRB1"
    )
    store.append(second, EventType.OWNERSHIP_TRANSFERRED, to_plain(transfer), at)
    store.exempt(c.id, third, "destroyed in a fire")
    scanned = brute_force_codes(store, c)
    cases = [
        (RobotFilter(campaign=c.id), lambda s, country, status: True),
        (
            RobotFilter(campaign=c.id, campaign_states=("REMEDIED",)),
            lambda s, country, status: s == "REMEDIED",
        ),
        (
            RobotFilter(campaign=c.id, campaign_states=("PENDING", "EXEMPTED")),
            lambda s, country, status: s in ("PENDING", "EXEMPTED"),
        ),
        (
            RobotFilter(campaign=c.id, campaign_countries=("DE",)),
            lambda s, country, status: country == "DE",
        ),
        (
            RobotFilter(status="ACTIVE", campaign=c.id, campaign_states=("PENDING",)),
            lambda s, country, status: s == "PENDING" and status == "ACTIVE",
        ),
    ]
    for where, keep in cases:
        expected = sorted(code for code, row in scanned.items() if keep(*row))
        assert paged_codes(store, where, 2) == expected
        assert store.count(where) == len(expected)
    assert paged_codes(store, RobotFilter(campaign=c.id, campaign_states=("REMEDIED",)), 5) == [
        first
    ]
    assert second in paged_codes(store, RobotFilter(campaign=c.id, campaign_countries=("DE",)), 5)
    assert paged_codes(store, RobotFilter(campaign="NO-SUCH"), 5) == []
    # Without a campaign (a node's API allows it): in that state under any campaign.
    assert paged_codes(store, RobotFilter(campaign_states=("EXEMPTED",)), 5) == [third]
    # The change feed filters the same way (its clauses are read on the robots' rows).
    fed = {ch.event.code for ch in store.changes(0, 10_000, RobotFilter(campaign=c.id))}
    assert fed == set(scanned)


def brute_force_codes(store: Store, c: Campaign) -> dict[str, tuple[str, str, str]]:
    """code -> (stored state, owner country, status) for each robot the campaign reached, from
    the passports and the campaign's events (the exemption from its one record)."""
    found = {}
    exempted = {r.code for r in store.campaign_robots(c.id, 500).items if r.reason}
    for code in store.codes():
        if store.event_by_key(f"campaign:{c.id}:{code}") is None:
            continue
        p = store.passport(code)
        state = "EXEMPTED" if code in exempted else state_of(c, p).value
        country = p.current_owner.jurisdiction if p.current_owner else ""
        found[code] = (state, country, p.identity.status.value)
    return found
