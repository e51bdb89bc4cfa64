-- The change feed filtered by one owner (fleetChanges(ownerId:), GET /changes?owner_id=,
-- passportChanged(ownerId:)) keeps the events of robots whose CURRENT owner matches.
-- Joining every event after the cursor to its robot read the whole feed for a small
-- owner; so every event carries its robot's current owner and owner_id, and the page
-- is a range of an (owner_id, position) or (owner, position) index. The store writes
-- them with each event and re-keys a robot's events in the transaction that changes
-- its owner (gateway/store/chaining.py); here the events already stored are filled.
ALTER TABLE events ADD COLUMN owner TEXT;
ALTER TABLE events ADD COLUMN owner_id TEXT;
UPDATE events SET
    owner = (SELECT r.owner FROM robots r WHERE r.code = events.code),
    owner_id = (SELECT r.owner_id FROM robots r WHERE r.code = events.code);
CREATE INDEX events_owner_id_position ON events (owner_id, position);
CREATE INDEX events_owner_position ON events (owner, position);
