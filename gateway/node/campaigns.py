"""A node's campaign API: the gateway fans a campaign out to every registry node through it.

The gateway decides who may issue what (policies/campaigns.py) and narrows the
selector before it sends the campaign here, under its service token, as it
sends every other write; the node checks the campaign's own rules, stores it
(the same id and terms again is a replay, other terms a 409) and runs the
fan-out over its own robots, `IN_REQUEST` of them within the request and the
rest in the background; a node that stops midway finishes when it starts again.
Reads answer this node's part (its records, rows and counts); the gateway sums
and merges the parts of every node (gateway/federation/campaigns.py). Pages go
on after a plain campaign id or robot code (`after`), the same on every node, so
the gateway merges them without a cursor per node. Bodies are the schema's
dataclasses as plain JSON (`schema.codec.to_plain`).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.service.campaigns import StoreCampaigns
from gateway.store import UnknownRobot
from gateway.store.campaigns import UnknownCampaign
from gateway.store.cursors import encode_cursor, parse_owner_key
from gateway.store.errors import IdempotencyConflict
from schema.campaign_source import CampaignFilter, CampaignRecord, Issued
from schema.campaigns import (
    ID,
    STORED_STATES,
    Campaign,
    CampaignKind,
    RobotState,
    check_campaign,
)
from schema.codec import DecodeError, from_plain, to_plain
from schema.source import Page
from schema.writes import WriteRejected

from . import inputs
from .auth import READ, WRITE, authorize
from .oas import operation, problems, query
from .problems import Problem, bad_request, not_found
from .routes import NodeApi, json_response


def campaign_id(request: Request) -> str:
    text = request.path_params["id"]
    if not ID.fullmatch(text):
        raise bad_request("id: 3 to 64 of A-Z, 0-9, '.', '_', '-', starting with a letter or digit")
    return text


def _page(page: Page[Any], key: str) -> dict[str, Any]:
    return {key: [to_plain(item) for item in page.items], "hasNextPage": page.has_next_page}


STATES = "|".join(s.value for s in STORED_STATES)
STATES_LIST = re.compile(f"^({STATES})(,({STATES}))*$")
COUNTRIES_LIST = re.compile("^[A-Z]{2}(,[A-Z]{2})*$")


class NodeCampaigns:
    """The campaign handlers of one node, over its store."""

    def __init__(self, api: NodeApi) -> None:
        self.api = api
        self.backend = StoreCampaigns(api.store)

    async def _record(self, request: Request) -> CampaignRecord:
        wanted = campaign_id(request)
        record = await self.api.run(self.api.store.campaign, wanted)
        if record is None:
            raise not_found(f"no campaign {wanted} in registry {self.api.registry}")
        return record

    async def issue(self, request: Request) -> Response:
        await authorize(request, self.api.verifier, WRITE)
        inputs.known_parameters(request, ())
        wanted = campaign_id(request)
        body = await inputs.json_object(request, ("campaign",), ("campaign",))
        try:
            campaign = from_plain(Campaign, body["campaign"])
        except DecodeError as exc:
            raise bad_request(f"campaign: {exc}") from None
        if campaign.id != wanted:
            raise bad_request(f"campaign.id {campaign.id!r} is not the id of the path")
        try:
            # The gateway checked it against its clock; here its own rules as of its issue.
            check_campaign(campaign, campaign.issued_at)
        except WriteRejected as exc:
            raise Problem(422, "EVENT_REJECTED", str(exc), rule=exc.rule, field=exc.field) from None
        try:
            issued: Issued = await self.backend.issue(campaign)
        except IdempotencyConflict as exc:
            raise Problem(409, "IDEMPOTENCY_CONFLICT", str(exc)) from None
        except self.api._database_errors as exc:
            raise Problem(
                503, "STORE_UNAVAILABLE", f"the registry store failed: {type(exc).__name__}"
            ) from None
        answer = {"record": to_plain(issued.record), "created": issued.created}
        answer["progress"] = to_plain(issued.progress)
        return json_response(answer, status=201 if issued.created else 200)

    async def campaign(self, request: Request) -> Response:
        await authorize(request, self.api.verifier, READ)
        inputs.known_parameters(request, ())
        return json_response({"record": to_plain(await self._record(request))})

    async def campaigns(self, request: Request) -> Response:
        await authorize(request, self.api.verifier, READ)
        params = inputs.known_parameters(request, ("kind", "issuer", "first", "after"))
        kind = params.get("kind") or None
        if kind is not None and kind not in {k.value for k in CampaignKind}:
            raise bad_request(f"kind must be one of {', '.join(k.value for k in CampaignKind)}")
        where = CampaignFilter(kind, params.get("issuer") or None)
        after = params.get("after") or None
        if after is not None and not ID.fullmatch(after):
            raise bad_request("after: the id of the last campaign seen")
        cursor = encode_cursor("cmp", after) if after else None
        page = await self.api.run(self.api.store.campaigns, where, inputs.first(params), cursor)
        return json_response(_page(page, "records"))

    async def counts(self, request: Request) -> Response:
        """Counts by owner country (`by=country`, a few rows) or by owner too (`by=owner`,
        of one owner with `owner_id`)."""
        await authorize(request, self.api.verifier, READ)
        params = inputs.known_parameters(request, ("by", "owner_id"))
        record = await self._record(request)
        by = params.get("by") or "country"
        if by not in ("country", "owner"):
            raise bad_request("by must be country or owner")
        if by == "country":
            rows = await self.api.run(self.api.store.campaign_country_counts, record.campaign.id)
        else:
            owner = params.get("owner_id") or None
            rows = await self.api.run(self.api.store.campaign_counts, record.campaign.id, owner)
        return json_response({"counts": [to_plain(r) for r in rows]})

    async def owners(self, request: Request) -> Response:
        """A page of the counts by owner: every row of the first owners after the key
        `after` (`CC|owner`, the last owner seen), in bytewise key order, the order
        the gateway merges the nodes' pages in; of one owner or some countries."""
        await authorize(request, self.api.verifier, READ)
        params = inputs.known_parameters(request, ("first", "after", "owner_id", "countries"))
        record = await self._record(request)
        countries = params.get("countries") or ""
        if countries and not COUNTRIES_LIST.fullmatch(countries):
            raise bad_request("countries: comma-separated ISO 3166-1 alpha-2 codes")
        after = params.get("after")
        key = parse_owner_key(after) if after else None
        if after and key is None:
            raise bad_request("after: the last owner seen, as CC|owner")
        found = await self.api.run(
            self.api.store.campaign_owner_counts,
            record.campaign.id,
            inputs.first(params),
            key,
            params.get("owner_id"),
            tuple(c for c in countries.split(",") if c),
        )
        return json_response(
            {"counts": [to_plain(r) for r in found.rows], "hasNextPage": found.has_next}
        )

    async def robots(self, request: Request) -> Response:
        await authorize(request, self.api.verifier, READ)
        params = inputs.known_parameters(request, ("first", "after", "states", "countries"))
        record = await self._record(request)
        states = params.get("states") or ""
        if states and not STATES_LIST.fullmatch(states):
            raise bad_request(f"states: comma-separated, of {STATES.replace('|', ', ')}")
        countries = params.get("countries") or ""
        if countries and not COUNTRIES_LIST.fullmatch(countries):
            raise bad_request("countries: comma-separated ISO 3166-1 alpha-2 codes")
        after = params.get("after") or None
        cursor = encode_cursor("code", inputs.robot_code(after, "after")) if after else None
        page = await self.api.run(
            self.api.store.campaign_robots,
            record.campaign.id,
            inputs.first(params),
            cursor,
            tuple(RobotState(s) for s in states.split(",") if s),
            tuple(c for c in countries.split(",") if c),
        )
        return json_response(_page(page, "robots"))

    async def of_robot(self, request: Request) -> Response:
        await authorize(request, self.api.verifier, READ)
        inputs.known_parameters(request, ())
        code = inputs.robot_code(request.path_params["code"])
        rows = await self.api.run(self.api.store.robot_campaigns, code)
        return json_response(
            {"campaigns": [{"campaign": to_plain(c), "robot": to_plain(r)} for c, r in rows]}
        )

    async def exempt(self, request: Request) -> Response:
        await authorize(request, self.api.verifier, WRITE)
        inputs.known_parameters(request, ())
        wanted = campaign_id(request)
        body = await inputs.json_object(request, ("code", "reason"), ("code", "reason"))
        code = inputs.robot_code(str(body["code"]), "code")
        reason = body["reason"]
        if not isinstance(reason, str) or not reason.strip():
            raise bad_request("reason must be a non-empty string")
        try:
            row = await self.api.run(self.api.store.exempt, wanted, code, reason.strip())
        except (UnknownCampaign, UnknownRobot) as exc:
            raise not_found(str(exc)) from None
        return json_response({"robot": to_plain(row)})

    def routes(self) -> list[Route]:
        return [
            Route("/campaigns", self.campaigns, methods=["GET"]),
            Route("/campaigns/{id}", self.campaign, methods=["GET"]),
            Route("/campaigns/{id}", self.issue, methods=["PUT"]),
            Route("/campaigns/{id}/counts", self.counts, methods=["GET"]),
            Route("/campaigns/{id}/owners", self.owners, methods=["GET"]),
            Route("/campaigns/{id}/robots", self.robots, methods=["GET"]),
            Route("/campaigns/{id}/exemptions", self.exempt, methods=["POST"]),
            Route("/robots/{code}/campaigns", self.of_robot, methods=["GET"]),
        ]


def _ok(description: str) -> dict[str, Any]:
    schema = {"type": "object"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_paths(read: str = READ, write: str = WRITE) -> dict[str, Any]:
    """The campaign routes in the node's OpenAPI document (gateway/node/openapi.py)."""
    standard = problems(400, 401, 403, 503)
    id_param = {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": ID.pattern},
        "description": "the campaign's id, the issuer's reference",
    }
    first = {"$ref": "#/components/parameters/first"}

    def op(summary: str, scope: str, responses: dict[str, Any], params: list[Any],
           body: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
        return operation(summary, scope, {**responses, **standard}, params, body)

    after_id = query("after", {"type": "string", "pattern": ID.pattern}, "the last id seen")
    after_code = query(
        "after", {"$ref": "#/components/schemas/RobotCode"}, "the last robot code seen"
    )
    return {
        "/campaigns": {
            "get": op(
                "This node's campaigns in id order",
                read,
                {"200": _ok("records, cursors, hasNextPage")},
                [
                    query("kind", {"enum": [k.value for k in CampaignKind]}, "campaign kind"),
                    query("issuer", {"type": "string", "maxLength": 200}, "issuer's party id"),
                    first,
                    after_id,
                ],
            )
        },
        "/campaigns/{id}": {
            "get": op(
                "One campaign and this node's fan-out progress",
                read,
                {"200": _ok("the record"), **problems(404)},
                [id_param],
            ),
            "put": op(
                "Store a campaign (checked and narrowed by the gateway) and fan it out here",
                write,
                {"200": _ok("a replay"), "201": _ok("stored"), **problems(409, 422)},
                [id_param],
                body={
                    "type": "object",
                    "properties": {"campaign": {"type": "object"}},
                    "required": ["campaign"],
                    "additionalProperties": False,
                },
            ),
        },
        "/campaigns/{id}/counts": {
            "get": op(
                "This node's counts, the maintained aggregate",
                read,
                {"200": _ok("counts"), **problems(404)},
                [
                    id_param,
                    query("by", {"enum": ["country", "owner"]}, "breakdown"),
                    query("owner_id", {"type": "string", "maxLength": 200}, "one owner's rows"),
                ],
            )
        },
        "/campaigns/{id}/owners": {
            "get": op(
                "This node's counts by owner, a page of owners in (country, owner) order",
                read,
                {"200": _ok("counts, hasNextPage"), **problems(404)},
                [
                    id_param,
                    first,
                    query("after", {"type": "string", "maxLength": 260}, "last owner: CC|owner"),
                    query("owner_id", {"type": "string", "maxLength": 200}, "one owner's rows"),
                    query(
                        "countries",
                        {"type": "string", "pattern": COUNTRIES_LIST.pattern},
                        "owner countries",
                    ),
                ],
            )
        },
        "/campaigns/{id}/robots": {
            "get": op(
                "This node's robots under the campaign, in code order",
                read,
                {"200": _ok("robots, cursors, hasNextPage"), **problems(404)},
                [
                    id_param,
                    first,
                    after_code,
                    query("states", {"type": "string", "pattern": STATES_LIST.pattern}, "states"),
                    query(
                        "countries",
                        {"type": "string", "pattern": COUNTRIES_LIST.pattern},
                        "owner countries",
                    ),
                ],
            )
        },
        "/campaigns/{id}/exemptions": {
            "post": op(
                "Exempt one robot, with its reason",
                write,
                {"200": _ok("the robot's row"), **problems(404)},
                [id_param],
                body={
                    "type": "object",
                    "properties": {
                        "code": {"$ref": "#/components/schemas/RobotCode"},
                        "reason": {"type": "string", "minLength": 1, "maxLength": 2000},
                    },
                    "required": ["code", "reason"],
                    "additionalProperties": False,
                },
            )
        },
        "/robots/{code}/campaigns": {
            "get": op(
                "The campaigns that reached one robot and its state under each",
                read,
                {"200": _ok("campaigns")},
                [{"$ref": "#/components/parameters/code"}],
            )
        },
    }
