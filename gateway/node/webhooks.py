"""A node's webhook API, and its sender: each node delivers the campaign events of its own
robots to the owners' webhooks the gateway registered with it.

The gateway checks who registers (an owner's token) and the URL, draws the
secret, and sends the same webhook (id, owner, URL, secret) to every node
(gateway/federation/webhooks.py). Each node follows its own change feed for
the robots the owner owns there, queues and signs deliveries (the Standard
Webhooks convention, gateway/service/webhooks.py) and keeps their log, which the
gateway merges. Registering again with the same id, owner and URL is a replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.service.webhooks import WebhookSender, check_secret, check_url
from gateway.store import Store
from schema.codec import to_plain
from schema.writes import WriteRejected

from . import inputs
from .auth import READ, WRITE, authorize
from .oas import operation, problems
from .problems import Problem, bad_request, not_found
from .routes import NodeApi, json_response

WEBHOOK_ID = r"^wh_[0-9a-f]{16}$"


def _id(request: Request) -> str:
    text = request.path_params["id"]
    if not re.fullmatch(WEBHOOK_ID, text):
        raise bad_request("id: wh_ and 16 hex digits")
    return text


def _owner(params: Any) -> str:
    owner = params.get("owner") or ""
    if not owner or len(owner) > inputs.MAX_FILTER:
        raise bad_request("owner: the owner's party identifier is required")
    return str(owner)


class NodeWebhooks:
    """The webhook handlers of one node, over its store."""

    def __init__(self, api: NodeApi) -> None:
        self.api = api

    async def put(self, request: Request) -> Response:
        await authorize(request, self.api.verifier, WRITE)
        inputs.known_parameters(request, ())
        webhook_id = _id(request)
        body = await inputs.json_object(
            request,
            ("owner", "url", "secret", "createdAt"),
            ("owner", "url", "secret", "createdAt"),
        )
        owner, url, secret = body["owner"], body["url"], body["secret"]
        if not all(isinstance(v, str) and v for v in (owner, url, secret)):
            raise bad_request("owner, url and secret must be non-empty strings")
        created = inputs.time(body["createdAt"], "createdAt")
        if created is None:
            raise bad_request("createdAt must be an ISO 8601 time with a UTC offset")
        try:
            check_url(url, production=False)
            check_secret(secret)
        except WriteRejected as exc:
            raise Problem(422, "EVENT_REJECTED", str(exc), rule=exc.rule, field=exc.field) from None
        store = self.api.store
        earlier = [h for h in await self.api.run(store.webhooks, owner) if h.id == webhook_id]
        if earlier:
            if earlier[0].url != url:
                raise Problem(409, "IDEMPOTENCY_CONFLICT", f"webhook {webhook_id} has another URL")
            return json_response({"webhook": to_plain(earlier[0])})
        hook = await self.api.run(store.add_webhook, webhook_id, owner, url, secret, created)
        return json_response({"webhook": to_plain(hook)}, status=201)

    async def of_owner(self, request: Request) -> Response:
        await authorize(request, self.api.verifier, READ)
        owner = _owner(inputs.known_parameters(request, ("owner",)))
        hooks = await self.api.run(self.api.store.webhooks, owner)
        return json_response({"webhooks": [to_plain(h) for h in hooks]})

    async def delete(self, request: Request) -> Response:
        await authorize(request, self.api.verifier, WRITE)
        owner = _owner(inputs.known_parameters(request, ("owner",)))
        if not await self.api.run(self.api.store.delete_webhook, _id(request), owner):
            raise not_found("no such webhook of that owner")
        return Response(status_code=204)

    async def deliveries(self, request: Request) -> Response:
        await authorize(request, self.api.verifier, READ)
        params = inputs.known_parameters(request, ("first",))
        rows = await self.api.run(self.api.store.deliveries, _id(request), inputs.first(params))
        return json_response({"deliveries": [to_plain(d) for d in rows]})

    def routes(self) -> list[Route]:
        return [
            Route("/webhooks", self.of_owner, methods=["GET"]),
            Route("/webhooks/{id}", self.put, methods=["PUT"]),
            Route("/webhooks/{id}", self.delete, methods=["DELETE"]),
            Route("/webhooks/{id}/deliveries", self.deliveries, methods=["GET"]),
        ]


def sending(store: Store, interval: float = 1.0) -> Any:
    """The node's lifespan: its webhook sender runs while it serves."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient() as client:
            task = asyncio.create_task(WebhookSender(store, client).run(interval))
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return lifespan


def openapi_paths(read: str = READ, write: str = WRITE) -> dict[str, Any]:
    """The webhook routes in the node's OpenAPI document."""

    def ok(description: str) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": {}}}}

    standard = problems(400, 401, 403, 503)
    id_param = {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": WEBHOOK_ID},
        "description": "the webhook's id, drawn by the gateway",
    }
    owner = {
        "name": "owner",
        "in": "query",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": inputs.MAX_FILTER},
        "description": "the owner's party identifier",
    }

    def op(summary: str, scope: str, responses: dict[str, Any], params: list[Any],
           body: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
        return operation(summary, scope, {**responses, **standard}, params, body)

    return {
        "/webhooks": {"get": op("An owner's webhooks", read, {"200": ok("webhooks")}, [owner])},
        "/webhooks/{id}": {
            "put": op(
                "Register an owner's webhook here (the gateway checked the caller)",
                write,
                {"200": ok("a replay"), "201": ok("registered"), **problems(409, 422)},
                [id_param],
                body={
                    "type": "object",
                    "properties": {
                        "owner": {"type": "string", "minLength": 1, "maxLength": 200},
                        "url": {"type": "string", "minLength": 1, "maxLength": 2000},
                        "secret": {"type": "string", "minLength": 1, "maxLength": 200},
                        "createdAt": {"type": "string", "format": "date-time"},
                    },
                    "required": ["owner", "url", "secret", "createdAt"],
                    "additionalProperties": False,
                },
            ),
            "delete": op(
                "Forget an owner's webhook",
                write,
                {"204": {"description": "forgotten"}, **problems(404)},
                [id_param, owner],
            ),
        },
        "/webhooks/{id}/deliveries": {
            "get": op(
                "The delivery log of a webhook at this node",
                read,
                {"200": ok("deliveries")},
                [id_param, {"$ref": "#/components/parameters/first"}],
            )
        },
    }
