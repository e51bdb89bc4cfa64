-- A registry-wide position for every event: the change feed reads `position > last`.
-- Appends take a transaction-scoped advisory lock before MAX(position) + 1, so a
-- position commits only after every smaller one: a reader never skips an event
-- that commits late. Existing events are numbered in the order they were written.
ALTER TABLE events ADD COLUMN position BIGINT;
UPDATE events SET position = numbered.n FROM (
    SELECT code, sequence, row_number() OVER (ORDER BY recorded_at, code, sequence) AS n
    FROM events
) AS numbered
WHERE events.code = numbered.code AND events.sequence = numbered.sequence;
CREATE UNIQUE INDEX events_position ON events (position);
