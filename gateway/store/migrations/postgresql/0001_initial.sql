-- Codes sort bytewise (COLLATE "C"), as in SQLite and Python, so keyset pages
-- (code > last) agree with ORDER BY whatever the database's locale.
-- Times, payloads and snapshots are TEXT: the stored text is the hashed text,
-- and a hand edit that breaks it must stay storable so verify can report it.
CREATE TABLE robots (
    code TEXT COLLATE "C" PRIMARY KEY,
    registry TEXT NOT NULL,
    manufacturer TEXT NOT NULL,
    category TEXT NOT NULL,
    status TEXT NOT NULL,
    owner TEXT,
    head_sequence BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    snapshot TEXT NOT NULL
);
CREATE INDEX robots_manufacturer ON robots (manufacturer, code);
CREATE INDEX robots_category ON robots (category, code);
CREATE INDEX robots_status ON robots (status, code);
CREATE INDEX robots_owner ON robots (owner, code);
CREATE TABLE events (
    code TEXT COLLATE "C" NOT NULL REFERENCES robots (code) DEFERRABLE INITIALLY DEFERRED,
    sequence BIGINT NOT NULL CHECK (sequence > 0),
    at TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    PRIMARY KEY (code, sequence)
);
