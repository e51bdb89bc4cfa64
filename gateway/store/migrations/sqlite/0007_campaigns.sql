-- Campaigns (schema/campaigns.py): recalls, mandated updates, end-of-life
-- obligations. `body` is the campaign's canonical JSON, `digest` its SHA-256, so
-- the same id issued again is told apart from another campaign under that id.
-- The fan-out scans robots in code order and keeps its place (`scan_after`,
-- `scanned`, `done`) in the same transaction as each batch, so it resumes after
-- a crash exactly where the last committed batch ended.
CREATE TABLE campaigns (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    issuer_id TEXT NOT NULL,
    issuer_jurisdiction TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    body TEXT NOT NULL,
    digest TEXT NOT NULL,
    scan_after TEXT,
    scanned INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0
);
-- One row per robot a campaign reached: its stored state (PENDING, REMEDIED,
-- EXEMPTED; OVERDUE is PENDING read after the deadline) and the current owner's
-- country and party id ('' when none), rewritten by every append to the robot.
CREATE TABLE campaign_robots (
    campaign_id TEXT NOT NULL,
    code TEXT NOT NULL,
    state TEXT NOT NULL,
    country TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    reason TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (campaign_id, code)
);
CREATE INDEX campaign_robots_code ON campaign_robots (code);
CREATE INDEX campaign_robots_state ON campaign_robots (campaign_id, state, code);
-- The maintained aggregate: how many robots of a campaign are in each state per
-- owner country and owner, changed in the transaction that changes a row above.
CREATE TABLE campaign_counts (
    campaign_id TEXT NOT NULL,
    country TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    state TEXT NOT NULL,
    robots INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, country, owner_id, state)
);
-- An owner reads its own rows of a campaign's counts.
CREATE INDEX campaign_counts_owner ON campaign_counts (campaign_id, owner_id);
-- The same aggregate without the owner: what totals and the breakdown by country
-- read, a few rows per campaign however many owners there are.
CREATE TABLE campaign_country_counts (
    campaign_id TEXT NOT NULL,
    country TEXT NOT NULL,
    state TEXT NOT NULL,
    robots INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, country, state)
);
-- Webhooks (gateway/service/webhooks.py): an owner's endpoint for the campaign
-- events of the robots it owns. `after` is the change-feed position read up to;
-- `secret` signs deliveries (Standard Webhooks) and is never shown again.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    after INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX webhooks_owner ON webhooks (owner_id, id);
-- One row per event to deliver to a webhook: the delivery log. `message_id` is the
-- webhook-id header, the same on every attempt, so a receiver drops a repeat;
-- `next_at` (microseconds since 1970 UTC) is when to try again, NULL when done.
CREATE TABLE webhook_deliveries (
    webhook_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    code TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at INTEGER,
    delivered_at TEXT,
    last_status INTEGER,
    last_error TEXT,
    PRIMARY KEY (webhook_id, position)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at);
