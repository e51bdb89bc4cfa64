"""Bulk export: `GET /export/fleet.ndjson`, the caller's view of a fleet, one document a line.

Each robot is cut by the caller's mask exactly as a single download is
(`RequestContext.export_many`, a page per call), and the stream is read a page at a time from the
source and written as it goes, so memory stays flat whatever the fleet's size.
Each page is audited (one record per robot, one transaction) before its lines
are sent; if the log cannot be written the stream stops there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gateway.edge.auth import Authenticated
from gateway.service.export import EXPORT_FORMATS, ExportFailed, known_formats
from schema.graphql.objects import DENIED_CODE
from schema.source import RobotFilter, RobotRecord

if TYPE_CHECKING:
    from gateway.service.context import RequestContext
    from gateway.service.services import Services

__all__ = ["BULK_PAGE", "FleetExport", "bulk_routes"]

BULK_PAGE = 100
MEDIA_TYPE = "application/x-ndjson"


def bulk_routes(
    services: Services, context: Callable[[Request], Awaitable[RequestContext]]
) -> list[Route]:
    return [
        Route(
            "/export/fleet.ndjson",
            Authenticated(FleetExport(context), services.verifier),
            methods=["GET"],
        )
    ]


class FleetExport:
    """ASGI endpoint streaming every robot the caller may list, in one format."""

    def __init__(self, context: Callable[[Request], Awaitable[RequestContext]]) -> None:
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.respond(Request(scope, receive))
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        params = request.query_params
        unknown = sorted(set(params) - {"format", "owner_id"})
        if unknown:
            return _error(400, "BAD_USER_INPUT", f"unknown parameter {unknown[0]!r}")
        fmt = params.get("format", "canonical")
        context = await self.context(request)
        if fmt not in EXPORT_FORMATS and fmt not in context.mappings:
            known = ", ".join(known_formats(context.mappings))
            return _error(400, "BAD_USER_INPUT", f"unknown export format {fmt!r}; known: {known}")
        owner_id = params.get("owner_id")
        if owner_id is not None and not context.may_filter_by_owner(owner_id):
            return _error(403, DENIED_CODE, "Unauthorized field: ownership.owner_id")
        headers = {
            "Cache-Control": "private, no-store",
            "Vary": "Authorization, Cookie",
            "Content-Disposition": f'attachment; filename="fleet.{fmt}.ndjson"',
        }
        lines = _lines(context, RobotFilter(owner_id=owner_id), fmt)
        return StreamingResponse(lines, media_type=MEDIA_TYPE, headers=headers)


async def _lines(context: RequestContext, where: RobotFilter, fmt: str) -> AsyncIterator[bytes]:
    """A page of lines at a time; each page's disclosures are recorded before it is sent."""
    after = None
    while True:
        page = await context.source.robots(where, BULK_PAGE, after)
        records = list(page.items)
        exported = context.export_many(records, fmt)
        chunk = b"".join(_line(r, e) for r, e in zip(records, exported, strict=True))
        await context.record_disclosures()
        if chunk:
            yield chunk
        after = page.end_cursor
        if not page.has_next_page or after is None:
            return


def _line(record: RobotRecord, exported: Any) -> bytes:
    """One robot's line; a mapping document that failed on it gives an error line instead,
    naming the robot and the rule, and the stream goes on."""
    if isinstance(exported, ExportFailed):
        code = record.passport.identity.code
        message = str(exported)
        error = {"message": message, "extensions": {"code": "EXPORT_FAILED", "robot": code}}
        return orjson.dumps({"errors": [error]}) + b"\n"
    return orjson.dumps(exported) + b"\n"


def _error(status: int, code: str, message: str) -> JSONResponse:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status)
