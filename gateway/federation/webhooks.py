"""Owners' webhooks across every federated registry node, as one `WebhookBackend`.

The gateway checks the caller and the URL and draws the secret
(gateway/service/webhooks.py); then it registers the same webhook (id, owner,
URL, secret) with every node (gateway/node/webhooks.py), and each node
delivers the campaign events of its own robots, signed with that one secret.
So an owner whose robots are registered in China and in Germany hears of a
recall reaching either, from one registration. Registering is idempotent per
node; listing reads the nodes' lists, the delivery log is every node's log
together. A node that does not answer fails the call, naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.service.webhooks import Delivery, Webhook
from schema.codec import DecodeError, format_datetime, from_plain
from schema.source import RegistryUnavailable

from .client import RegistryClient, on_every


def _decoded(client: RegistryClient, cls: type[Any], items: Any) -> list[Any]:
    try:
        return [from_plain(cls, item) for item in items or []]
    except DecodeError as exc:
        detail = f"sent a webhook record that does not parse: {exc}"
        raise RegistryUnavailable(client.id, detail) from None


class FederatedWebhooks:
    def __init__(self, clients: Mapping[str, RegistryClient]) -> None:
        self.clients = list(clients.values())

    async def _each(self, call: Any) -> list[Any]:
        return await on_every(self.clients, call)

    @staticmethod
    def _expect(client: RegistryClient, status: int, allowed: tuple[int, ...]) -> None:
        if status not in allowed:
            raise RegistryUnavailable(client.id, f"answered HTTP {status} to a webhook call")

    async def add(self, id: str, owner_id: str, url: str, secret: str, now: datetime) -> Webhook:
        body = {"owner": owner_id, "url": url, "secret": secret, "createdAt": format_datetime(now)}

        async def put(client: RegistryClient) -> None:
            response = await client.call(
                "PUT", "PUT /webhooks/{id}", f"/webhooks/{id}", idempotent=True, json=body
            )
            self._expect(client, response.status_code, (200, 201))

        await self._each(put)
        return Webhook(id, owner_id, url, now)

    async def of_owner(self, owner_id: str) -> list[Webhook]:
        async def get(client: RegistryClient) -> list[Webhook]:
            response = await client.call(
                "GET", "GET /webhooks", "/webhooks", idempotent=True, params={"owner": owner_id}
            )
            self._expect(client, response.status_code, (200,))
            return _decoded(client, Webhook, response.json().get("webhooks"))

        found: dict[str, Webhook] = {}
        for hooks in await self._each(get):
            for hook in hooks:
                found.setdefault(hook.id, hook)
        return [found[i] for i in sorted(found)]

    async def delete(self, id: str, owner_id: str) -> bool:
        async def delete(client: RegistryClient) -> bool:
            response = await client.call(
                "DELETE",
                "DELETE /webhooks/{id}",
                f"/webhooks/{id}",
                idempotent=True,
                params={"owner": owner_id},
            )
            self._expect(client, response.status_code, (204, 404))
            return response.status_code == 204

        return any(await self._each(delete))

    async def deliveries(self, webhook_id: str, first: int) -> list[Delivery]:
        """Every node's log together, newest attempts first as each node keeps them."""

        async def get(client: RegistryClient) -> list[Delivery]:
            response = await client.call(
                "GET",
                "GET /webhooks/{id}/deliveries",
                f"/webhooks/{webhook_id}/deliveries",
                idempotent=True,
                params={"first": str(max(1, min(first, 500)))},
            )
            self._expect(client, response.status_code, (200,))
            return _decoded(client, Delivery, response.json().get("deliveries"))

        return [d for part in await self._each(get) for d in part][:first]
