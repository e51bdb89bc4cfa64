-- Salted commitments (hash scheme 2): an event's time, type and payload are
-- committed to with a secret 128-bit salt, and its chain hash covers the
-- commitment instead of the content. Rows written before are scheme 1 (their
-- hash covers the content itself) until `robopass registry recommit` re-commits
-- them; the salt is disclosed only to a caller who may see the payload.
ALTER TABLE events ADD COLUMN scheme INTEGER NOT NULL DEFAULT 1;
ALTER TABLE events ADD COLUMN salt TEXT;
ALTER TABLE events ADD COLUMN commitment TEXT;
-- `registry recommit` and `serve` find the robots still holding scheme-1 events.
CREATE INDEX events_legacy ON events (scheme, code);
