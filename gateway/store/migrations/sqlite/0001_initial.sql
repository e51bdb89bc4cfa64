-- The schema of the first release. IF NOT EXISTS because files of that release
-- predate store_migrations: for them this migration records what is there.
CREATE TABLE IF NOT EXISTS robots (
    code TEXT PRIMARY KEY,
    registry TEXT NOT NULL,
    manufacturer TEXT NOT NULL,
    category TEXT NOT NULL,
    status TEXT NOT NULL,
    owner TEXT,
    head_sequence INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    snapshot TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS robots_manufacturer ON robots (manufacturer, code);
CREATE INDEX IF NOT EXISTS robots_category ON robots (category, code);
CREATE INDEX IF NOT EXISTS robots_status ON robots (status, code);
CREATE INDEX IF NOT EXISTS robots_owner ON robots (owner, code);
CREATE TABLE IF NOT EXISTS events (
    code TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    at TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    PRIMARY KEY (code, sequence)
);
