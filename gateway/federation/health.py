"""Readiness of a federating gateway: what each registry looks like from here.

Passive on purpose: /readyz reports the breakers and last errors the traffic
has produced and calls no node, so a balancer's probes cannot pile onto a node
that is struggling. The gateway is ready while any registry can be reached and is trusted;
with every breaker open (or every registry untrusted) it answers nothing
useful and says so (503). A registry whose transparency log forked shows the
evidence under `untrusted`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from schema.codec import format_datetime
from schema.source import RegistryStatus

from .source import FederatedSource


def status_json(status: RegistryStatus) -> dict[str, Any]:
    return {
        "id": status.id,
        "format": status.format,
        "countries": list(status.countries),
        "jurisdictions": list(status.jurisdictions),
        "breaker": status.breaker,
        "lastError": status.last_error,
        "lastErrorAt": format_datetime(status.last_error_at) if status.last_error_at else None,
        "untrusted": status.untrusted,
        "checkpoint": status.checkpoint,
    }


def readiness(source: FederatedSource) -> Callable[[], Awaitable[dict[str, Any]]]:
    """The /readyz check of `create_app(ready=...)` for a federation."""

    async def ready() -> dict[str, Any]:
        statuses = source.registries()
        down = all(s.breaker == "open" or s.untrusted for s in statuses)
        return {
            "status": "unavailable" if down else "ready",
            "registries": [status_json(s) for s in statuses],
        }

    return ready
