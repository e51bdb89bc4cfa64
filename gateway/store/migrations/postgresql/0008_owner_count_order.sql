-- byOwner of a campaign is paged by (owner country, owner) keys, and the gateway
-- merges federated nodes' pages in Python's (bytewise) order: the keys must sort
-- bytewise here too, whatever the database's collation, as codes do (0001).
ALTER TABLE campaign_counts
    ALTER COLUMN country TYPE TEXT COLLATE "C",
    ALTER COLUMN owner_id TYPE TEXT COLLATE "C";
