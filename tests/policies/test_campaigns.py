"""Who may issue, exempt and count campaigns: the policy table narrows what an issuer reaches."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from policies import Principal, Role
from policies.campaigns import count_scope, may_exempt, scoped_selector
from schema.campaigns import Campaign, CampaignKind, Issuer, RecallTerms, Selector
from schema.passport import Severity
from schema.writes import WriteForbidden

CAMPAIGN = Campaign(
    "CN-RC-1",
    CampaignKind.RECALL,
    Issuer("uscc:91320506MA7B2N5EXE", "manufacturer", "CN"),
    "GB/T 1",
    "Knee",
    datetime(2026, 12, 1, tzinfo=UTC),
    Selector(plant="3"),
    recall=RecallTerms("knee may lock", Severity.SERIOUS, "replace it"),
)


def who(role: Role, jurisdiction: str | None = "DE", org: str | None = None) -> Principal:
    return Principal("iss", f"{role.value}:x", role, jurisdiction=jurisdiction, organisation_id=org)


def test_a_manufacturer_reaches_its_own_robots_only():
    maker = who(Role.MANUFACTURER, "CN", "uscc:91320506MA7B2N5EXE")
    narrowed = scoped_selector(maker, CampaignKind.RECALL, Selector(all=True))
    assert narrowed.manufacturer_id == "uscc:91320506MA7B2N5EXE" and not narrowed.all
    with pytest.raises(WriteForbidden) as caught:
        scoped_selector(maker, CampaignKind.RECALL, Selector(manufacturer_id="uscc:OTHER"))
    assert caught.value.rule == "campaigns.own_products"
    with pytest.raises(WriteForbidden) as caught:
        scoped_selector(maker, CampaignKind.END_OF_LIFE, Selector(plant="3"))
    assert caught.value.rule == "campaigns.table"
    with pytest.raises(WriteForbidden) as caught:  # reach is public: no probe of owners
        scoped_selector(maker, CampaignKind.RECALL, Selector(plant="3", owner_countries=["FR"]))
    assert caught.value.rule == "campaigns.owner_country"


def test_an_authority_reaches_its_own_jurisdiction_and_others_may_not_issue():
    german = who(Role.REGULATOR, "DE")
    assert scoped_selector(german, CampaignKind.RECALL, Selector(plant="3")).jurisdiction == "DE"
    with pytest.raises(WriteForbidden) as caught:
        scoped_selector(german, CampaignKind.RECALL, Selector(jurisdiction="FR"))
    assert caught.value.rule == "campaigns.jurisdiction"
    for role in (Role.OWNER, Role.INSURER, Role.PUBLIC, Role.SERVICE_PROVIDER):
        with pytest.raises(WriteForbidden):
            scoped_selector(who(role), CampaignKind.RECALL, Selector(plant="3"))


def test_counts_and_exemptions_follow_the_issuer_and_the_jurisdiction():
    c = CAMPAIGN
    assert count_scope(who(Role.REGULATOR, "CN"), c).owners == "all"
    assert count_scope(who(Role.REGULATOR, "DE"), c).countries == {"DE"}
    assert count_scope(who(Role.MARKET_SURVEILLANCE, "FR"), c).countries == {"FR"}
    assert count_scope(who(Role.MANUFACTURER, "CN", c.issuer.organisation_id), c).countries is None
    assert count_scope(who(Role.OWNER, "DE", "reg:DE:X"), c).owners == "own"
    assert count_scope(who(Role.PUBLIC, None), c).countries == frozenset()
    assert may_exempt(who(Role.MANUFACTURER, "CN", c.issuer.organisation_id), c)
    assert may_exempt(who(Role.REGULATOR, "CN"), c)
    assert not may_exempt(who(Role.REGULATOR, "DE"), c)
