"""`GET /campaigns/{id}/robots.csv` and `.ndjson`: a campaign's robots for an authority's tools.

The same rows, cut the same way, as the GraphQL `Campaign.robots` connection
(gateway/service/campaigns.py decides: authorities only, a foreign authority
its own country's robots only), read a page at a time so memory stays flat.
`?state=OVERDUE` (repeatable) filters by the state as shown. Columns: code,
state, owner country, exemption reason, last change.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gateway.edge.auth import Authenticated
from schema.campaign_source import CampaignRobot
from schema.campaigns import Campaign, RobotState, shown_state
from schema.codec import format_datetime
from schema.source import Page
from schema.writes import WriteError

if TYPE_CHECKING:
    from gateway.service.context import RequestContext
    from gateway.service.services import Services

PAGE = 500
COLUMNS = ("code", "state", "country", "reason", "updated_at")
MEDIA = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}
STATUS = {"NOT_FOUND": 404, "FORBIDDEN": 403, "WRITES_UNAVAILABLE": 404}


def campaign_routes(
    services: Services, context: Callable[[Request], Awaitable[RequestContext]]
) -> list[Route]:
    async def download(request: Request) -> Response:
        return await respond(request, await context(request))

    endpoint = Authenticated(_Endpoint(download), services.verifier)
    return [Route("/campaigns/{id}/robots.{fmt}", endpoint, methods=["GET"])]


class _Endpoint:
    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(Request(scope, receive))
        await response(scope, receive, send)


async def respond(request: Request, context: RequestContext) -> Response:
    fmt = request.path_params["fmt"]
    campaign_id = request.path_params["id"]
    if fmt not in MEDIA:
        return _error(404, "NOT_FOUND", f"no format {fmt!r}: robots.csv or robots.ndjson")
    unknown = sorted(set(request.query_params) - {"state"})
    if unknown:
        return _error(400, "BAD_USER_INPUT", f"unknown parameter {unknown[0]!r}; known: state")
    try:
        states = tuple(RobotState(s) for s in request.query_params.getlist("state"))
    except ValueError:
        known = ", ".join(s.value for s in RobotState)
        return _error(400, "BAD_USER_INPUT", f"unknown state; known: {known}")
    record = await context.campaign(campaign_id)
    if record is None:
        return _error(404, "NOT_FOUND", f"no campaign {campaign_id!r}: check the id")
    campaign = record.campaign
    try:  # the first page is read before answering, so a refusal is a status, not a cut stream
        first = await context.campaign_robots(campaign, PAGE, None, states)
    except WriteError as exc:
        return _error(STATUS.get(exc.code, 400), exc.code, exc.message)
    headers = {
        "Cache-Control": "private, no-store",
        "Vary": "Authorization, Cookie",
        "Content-Disposition": f'attachment; filename="{campaign.id}-robots.{fmt}"',
    }
    lines = _lines(context, campaign, states, fmt, first)
    return StreamingResponse(lines, media_type=MEDIA[fmt], headers=headers)


async def _lines(
    context: RequestContext,
    campaign: Campaign,
    states: tuple[RobotState, ...],
    fmt: str,
    page: Page[CampaignRobot],
) -> AsyncIterator[bytes]:
    now = context.now()
    if fmt == "csv":
        yield (",".join(COLUMNS) + "\r\n").encode()
    while True:
        rows = [
            (
                r.code,
                shown_state(campaign, r.state, now).value,
                r.country,
                _cell(r.reason or "") if fmt == "csv" else r.reason or "",
                format_datetime(r.updated_at),
            )
            for r in page.items
        ]
        if rows:
            yield (
                _csv(rows)
                if fmt == "csv"
                else b"".join(
                    orjson.dumps(dict(zip(COLUMNS, row, strict=True))) + b"\n" for row in rows
                )
            )
        if not page.has_next_page or page.end_cursor is None:
            return
        page = await context.campaign_robots(campaign, PAGE, page.end_cursor, states)


def _cell(text: str) -> str:
    """A free-text cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(rows: Sequence[Sequence[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode()


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status)
