"""The gateway's configuration: one TOML file, environment overrides, one JSON Schema."""
