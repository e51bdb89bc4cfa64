"""Webhooks in GraphQL: an owner registers, lists and deletes endpoints, and reads the log.

The request context decides (gateway/service/webhooks.py): owners only, their
own webhooks only. The secret is answered once, by `registerWebhook`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from ..writes import WriteError
from .mutation import _error
from .pages import check_first

DELIVERY_PAGE = 100


@strawberry.type(description="One event sent (or being sent) to a webhook, with its last attempt.")
class WebhookDelivery:
    message_id: str = strawberry.field(description="The webhook-id header: same on every attempt.")
    code: str = strawberry.field(description="The robot the event is about.")
    attempts: int = strawberry.field(description="Attempts made so far.")
    delivered_at: datetime | None = strawberry.field(description="When a 2xx answered.")
    last_status: int | None = strawberry.field(description="The last attempt's HTTP status.")
    last_error: str | None = strawberry.field(description="Why the last attempt failed.")
    next_attempt_at: datetime | None = strawberry.field(
        description="When it is tried again; null once delivered or given up."
    )


@strawberry.type(
    name="Webhook", description="An owner's endpoint for the campaign events of its robots."
)
class WebhookType:
    id: str = strawberry.field(description="The webhook's id.")
    url: str = strawberry.field(description="Where deliveries are POSTed.")
    created_at: datetime = strawberry.field(description="When it was registered.")

    @strawberry.field(description="The delivery log, newest first.")
    async def deliveries(self, info: strawberry.Info, first: int = 20) -> list[WebhookDelivery]:
        check_first(first, DELIVERY_PAGE)
        rows = await _refusable(info.context.webhook_deliveries(self.id, first))
        return [
            WebhookDelivery(
                message_id=d.message_id,
                code=d.code,
                attempts=d.attempts,
                delivered_at=d.delivered_at,
                last_status=d.last_status,
                last_error=d.last_error,
                next_attempt_at=d.next_at,
            )
            for d in rows
        ]


@strawberry.type(description="A registered webhook and its signing secret, shown this once.")
class RegisteredWebhook:
    webhook: WebhookType = strawberry.field(description="The webhook.")
    secret: str = strawberry.field(
        description="whsec_ secret to verify deliveries with (Standard Webhooks); keep it."
    )


async def _refusable(pending: Any) -> Any:
    try:
        return await pending
    except WriteError as exc:
        raise _error(exc) from None


def _of(hook: Any) -> WebhookType:
    return WebhookType(id=hook.id, url=hook.url, created_at=hook.created_at)


@strawberry.type
class WebhookQueries:
    @strawberry.field(description="The caller's webhooks (owners).")
    async def webhooks(self, info: strawberry.Info) -> list[WebhookType]:
        return [_of(h) for h in await _refusable(info.context.my_webhooks())]


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        description="Register an http(s) endpoint for the campaign events of your robots."
    )
    async def register_webhook(
        self, info: strawberry.Info, url: str, secret: str | None = None
    ) -> RegisteredWebhook:
        hook, chosen = await _refusable(info.context.register_webhook(url, secret))
        return RegisteredWebhook(webhook=_of(hook), secret=chosen)

    @strawberry.mutation(description="Delete one of your webhooks and its delivery log.")
    async def delete_webhook(self, info: strawberry.Info, id: str) -> bool:
        await _refusable(info.context.delete_webhook(id))
        return True
