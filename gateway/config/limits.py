"""What one GraphQL request may cost: the `limits` section of the settings, typed.

The values are configuration (`[limits]` in the file, `ROBOPASS_LIMITS_*`), so they live
here, below every layer that reads them; `gateway.endpoint.limits` and
`gateway.endpoint.cost` enforce them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# What an object field costs when it is not 1: fields that do more work than reading a
# passport already loaded (a page of robots, a chain re-hashed, a document translated).
DEFAULT_WEIGHTS: Mapping[str, int] = {
    "Query.robots": 5,
    "Query.robot": 2,
    "Query.translate": 50,
    "Robot.history": 5,
    "Robot.integrity": 20,
    "Robot.export": 20,
    "Query.fleetFeed": 5,
    "Query.fleetChanges": 5,
    "Query.fleetCodes": 5,
    "FleetChange.robot": 2,
}


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may cost; the defaults let every documented query through.

    Sizes are counts (tokens, fields) or bytes; `timeout` is in seconds;
    `list_size` is the assumed length of a list without a page argument.
    """

    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 5000
    max_root_fields: int = 20
    max_cost: int = 20000
    max_body_bytes: int = 1 << 20
    timeout: float = 15.0
    list_size: int = 10
    weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    def __post_init__(self) -> None:
        for name in ("max_depth", "max_aliases", "max_tokens", "max_root_fields", "max_cost"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_body_bytes < 1024 or self.timeout <= 0 or self.list_size < 0:
            raise ValueError("max_body_bytes >= 1024, timeout > 0 and list_size >= 0")
