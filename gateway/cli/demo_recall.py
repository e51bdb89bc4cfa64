"""`robopass demo`'s recall, issued through the registry nodes as the gateway issues one.

The demo recall (gateway/synthetic/recall.py: the Chinese maker whose robots
are most often held in Germany and France recalls them all) is chosen over the
Chinese node's fleet, then sent to every node's campaign API
(gateway/node/campaigns.py) with the gateway's service token, exactly as the
gateway forwards an `issueCampaign` (docs/campaigns.md). A later start finds it
at the Chinese node and sends that same campaign again, a replay that adds
nothing and finishes a fan-out an earlier start left midway.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx

from gateway.store.open import open_store
from gateway.synthetic.recall import DEMO_RECALL, choose_demo_recall
from schema.campaign_source import CampaignRecord
from schema.campaigns import Campaign
from schema.codec import from_plain, to_plain


def issue_demo_recall(
    nodes: Mapping[str, str], home: str, home_db: Path, token: str
) -> tuple[Campaign, int] | None:
    """Issue the demo recall at every node (`nodes`: registry id to base URL); the campaign
    and how many robots it reached, or None when no robot of `home`'s fleet is held abroad."""
    headers = {"authorization": f"Bearer {token}"}
    path = f"/campaigns/{DEMO_RECALL}"
    earlier = httpx.get(nodes[home] + path, headers=headers, timeout=30)
    if earlier.status_code == 200:
        campaign = from_plain(CampaignRecord, earlier.json()["record"]).campaign
    else:
        store = open_store(str(home_db), home, existing=True)
        try:
            chosen = choose_demo_recall(store)
        finally:
            store.close()
        if chosen is None:
            return None
        campaign = chosen
    reached = 0
    for base in nodes.values():
        answer = httpx.put(
            base + path, json={"campaign": to_plain(campaign)}, headers=headers, timeout=120
        )
        answer.raise_for_status()
        reached += int(answer.json()["progress"]["reached"])
    return campaign, reached
