"""A robot's rows under the campaigns that reached it, kept true by every append.

Counts by state, owner country and owner are a maintained aggregate
(`campaign_counts`, and `campaign_country_counts` without the owner, so that
totals and countries read a few rows however many owners), never a scan:
whatever changes a robot's row (reached by a campaign, remedied, exempted, a
firmware update, a new owner) moves one count down and one up in the same
transaction. `refresh` is what `append_event` calls
after each event, so no writer can change a passport and leave the campaign
rows behind.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

import orjson

from gateway.store.sql import Db
from schema.campaigns import Campaign, CampaignKind, RobotState, applies, state_of
from schema.codec import format_datetime, from_plain
from schema.passport import Passport

UPSERT_COUNTRY = (
    "INSERT INTO campaign_country_counts (campaign_id, country, state, robots)"
    " VALUES (?, ?, ?, ?) ON CONFLICT (campaign_id, country, state)"
    " DO UPDATE SET robots = campaign_country_counts.robots + excluded.robots"
)
UPSERT_COUNT = (
    "INSERT INTO campaign_counts (campaign_id, country, owner_id, state, robots)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (campaign_id, country, owner_id, state)"
    " DO UPDATE SET robots = campaign_counts.robots + excluded.robots"
)


@lru_cache(maxsize=256)
def decode_campaign(body: str) -> Campaign:
    """A stored campaign body; campaigns never change, so the text names one value."""
    return from_plain(Campaign, orjson.loads(body))


def owner_of(passport: Passport) -> tuple[str, str]:
    """The (country, party id) counts are kept under; '' for what is not known."""
    owner = passport.current_owner
    if owner is None:
        return "", ""
    return owner.jurisdiction, owner.owner_id or ""


def count(db: Db, campaign_id: str, country: str, owner: str, state: str, delta: int) -> None:
    db.execute(UPSERT_COUNT, (campaign_id, country, owner, state, delta))
    db.execute(UPSERT_COUNTRY, (campaign_id, country, state, delta))


def insert(db: Db, campaign: Campaign, passport: Passport, now: str) -> RobotState:
    """Put a robot under a campaign it just reached; its state as the passport stands."""
    state = state_of(campaign, passport)
    country, owner = owner_of(passport)
    db.execute(
        "INSERT INTO campaign_robots (campaign_id, code, state, country, owner_id, reason,"
        " updated_at) VALUES (?, ?, ?, ?, ?, NULL, ?)",
        (campaign.id, passport.code, state.value, country, owner, now),
    )
    count(db, campaign.id, country, owner, state.value, 1)
    return state


def refresh(db: Db, passport: Passport) -> None:
    """Re-derive the robot's rows from its new passport, moving counts that changed."""
    rows = db.execute(
        "SELECT r.campaign_id, r.state, r.country, r.owner_id, c.body FROM campaign_robots r"
        " JOIN campaigns c ON c.id = r.campaign_id WHERE r.code = ?",
        (passport.code,),
    ).fetchall()
    if not rows:
        return
    country, owner = owner_of(passport)
    now = format_datetime(datetime.now(UTC))
    for campaign_id, old_state, old_country, old_owner, body in rows:
        state = old_state
        if old_state != RobotState.EXEMPTED.value:
            state = state_of(decode_campaign(body), passport).value
        if (state, country, owner) == (old_state, old_country, old_owner):
            continue
        db.execute(
            "UPDATE campaign_robots SET state = ?, country = ?, owner_id = ?, updated_at = ?"
            " WHERE campaign_id = ? AND code = ?",
            (state, country, owner, now, campaign_id, passport.code),
        )
        count(db, campaign_id, old_country, old_owner, old_state, -1)
        count(db, campaign_id, country, owner, state, 1)


def reach_ended(db: Db, passport: Passport) -> None:
    """A robot that just left service comes under the end-of-life obligations that reach it
    (they append no event, so only its row and count)."""
    rows = db.execute(
        "SELECT c.body FROM campaigns c WHERE c.kind = ? AND NOT EXISTS (SELECT 1 FROM"
        " campaign_robots r WHERE r.campaign_id = c.id AND r.code = ?)",
        (CampaignKind.END_OF_LIFE.value, passport.code),
    ).fetchall()
    now = format_datetime(datetime.now(UTC))
    for (body,) in rows:
        campaign = decode_campaign(body)
        if applies(campaign, passport):
            insert(db, campaign, passport, now)
