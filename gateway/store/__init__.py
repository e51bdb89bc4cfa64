"""The registry store: robots, hash-chained event logs and snapshots on SQLite or PostgreSQL."""
