-- Robots are listed by their current owner's party identifier (schema/parties.py),
-- never by the owner's name. Passports stored before identifiers existed hold none,
-- so their robots get NULL here and no caller's filter matches them until
-- `robopass registry identify` records an identifier (a chained event, which
-- rewrites this column with the rest of the robot's row).
ALTER TABLE robots ADD COLUMN owner_id TEXT;
CREATE INDEX robots_owner_id ON robots (owner_id, code);
