-- A registry-wide position for every event: the change feed reads `position > last`.
-- Writers take turns on SQLite's write lock, so MAX(position) + 1 at insert is
-- gap-free and in commit order; existing events keep their insertion order.
ALTER TABLE events ADD COLUMN position INTEGER;
UPDATE events SET position = rowid;
CREATE UNIQUE INDEX events_position ON events (position);
