"""The demo's recall: a Chinese manufacturer recalls robots that are now held in Germany and France.

`robopass serve` issues it on the demo database it seeds, and `robopass demo`
through both registry nodes (gateway/cli/demo_recall.py), so a newcomer (or a
German authority, in the README) finds a campaign that crosses borders: the
maker whose robots are most often owned in DE and FR recalls all of its
robots by the code's manufacturer segment, and the fan-out reaches them
wherever their owners are. Issued once: a second start finds it and adds
nothing.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from gateway.store import Store
from schema.campaigns import Campaign, CampaignKind, Issuer, RecallTerms, Selector
from schema.parties import manufacturer_id
from schema.passport import Severity

DEMO_RECALL = "CN-DEMO-RECALL-2026-001"
HELD_IN = ("DE", "FR")


def demo_recall(store: Store) -> Campaign | None:
    """Issue and fan out the demo recall unless it is there; None when no robot is held in
    DE or FR (a fleet too small to show it)."""
    found = store.campaign(DEMO_RECALL)
    if found is not None:
        store.run_campaign(DEMO_RECALL)  # finishes a fan-out an earlier start left midway
        return found.campaign
    campaign = choose_demo_recall(store)
    if campaign is None:
        return None
    store.issue_campaign(campaign)
    store.run_campaign(DEMO_RECALL)
    return campaign


def choose_demo_recall(store: Store) -> Campaign | None:
    """The demo recall over this fleet, issued now: the maker whose robots are most often
    held in DE and FR recalls them all; None when no robot is held there."""
    held: Counter[tuple[str, str]] = Counter()
    for record in store.records(store.codes()).values():
        p = record.passport
        owner = p.current_owner
        maker = manufacturer_id(p.manufacturer)
        if owner is not None and owner.jurisdiction in HELD_IN and maker is not None:
            held[(p.code[2:6], maker)] += 1
    if not held:
        return None
    (segment, maker), _ = held.most_common(1)[0]
    campaign = Campaign(
        id=DEMO_RECALL,
        kind=CampaignKind.RECALL,
        issuer=Issuer(maker, "manufacturer", "CN"),
        legal_basis="Regulations on the Administration of Defective Product Recalls (demo)",
        title="Knee actuator may lock under load",
        issued_at=datetime.now(UTC),
        selector=Selector(registry_country="CN", manufacturer_code=segment, manufacturer_id=maker),
        recall=RecallTerms(
            "The knee actuator may lock under load; the robot can fall.",
            Severity.SERIOUS,
            "Replace the knee actuator at an authorised service partner.",
        ),
    )
    return campaign
