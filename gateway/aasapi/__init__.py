"""The AAS HTTP API (IDTA-01002 Part 2 V3.0, read profiles) over the gateway's robots."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.routing import Mount

from gateway.edge.auth import Authenticated

from .service import PROFILES, AasApi, result_error

if TYPE_CHECKING:
    from gateway.service.context import RequestContext
    from gateway.service.services import Services

__all__ = ["MOUNT", "PROFILES", "aas_api"]

MOUNT = "/aas/api/v3.0"


def aas_api(services: Services, context: Callable[[Request], Awaitable[RequestContext]]) -> Mount:
    """The API under `MOUNT`, behind the same authentication as /graphql (401 as a Result)."""
    return Mount(MOUNT, app=Authenticated(AasApi(context), services.verifier, result_error))
