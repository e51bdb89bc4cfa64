"""Webhooks: an owner learns at once that a campaign reached a robot it owns.

An owner (a token with the owner role, its party identifier and the write
scope) registers an http(s) URL; the registry draws a secret (or takes the
owner's, in the `whsec_` form) and shows it once. `WebhookSender` then
follows the change feed for each webhook, queues one delivery per campaign
event of the owner's robots (RECALL_ISSUED, UPDATE_MANDATED, RECALL_REMEDIED),
and POSTs it signed the Standard Webhooks way with the maintained
`standardwebhooks` package: headers `webhook-id` (the same on every attempt,
so a receiver drops repeats), `webhook-timestamp` (a receiver refuses stale
ones: replay protection) and `webhook-signature` (`v1,` base64 HMAC-SHA256 of
`id.timestamp.body`). A 2xx is delivered; anything else is tried again after
`RETRY_BASE * 2**attempts` seconds (capped), `MAX_ATTEMPTS` times in all. Each
attempt is logged on the delivery (status, error, next attempt).

In production mode a URL must not point at a loopback, private, link-local or
otherwise non-global address, checked when registered and again before every
attempt (a name may be re-pointed after registration). Redirects are not
followed.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import secrets
import socket
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

import httpx
import orjson
import standardwebhooks

from gateway.store.webhooks import Delivery, Webhook, WebhookStore
from policies import WRITE_SCOPE, PolicySet, Principal, Role
from schema.codec import format_datetime
from schema.events import Event
from schema.writes import WriteForbidden, WriteNotFound, WriteRejected, WritesUnavailable

RETRY_BASE = 2.0
RETRY_CAP = 3600.0
MAX_ATTEMPTS = 8
TIMEOUT = 10.0
MAX_URL = 2000

Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address a host name resolves to (IP literals resolve to themselves)."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port)})


def check_url(url: str, production: bool, resolver: Resolver = resolve) -> None:
    """Raise `WriteRejected` (field `url`) unless deliveries may go to `url`."""
    if len(url) > MAX_URL:
        raise WriteRejected("webhook.url", "url", f"at most {MAX_URL} characters")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise WriteRejected("webhook.scheme", "url", "must start with http:// or https://")
    if not parts.hostname:
        raise WriteRejected("webhook.url", "url", "names no host")
    if parts.username or parts.password:
        raise WriteRejected(
            "webhook.url", "url", "must not carry credentials: sign with the secret"
        )
    if not production:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = resolver(parts.hostname, port)
    except (OSError, ValueError):
        raise WriteRejected(
            "webhook.host", "url", f"{parts.hostname} does not resolve: check the name"
        ) from None
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            raise WriteRejected(
                "webhook.private",
                "url",
                f"{parts.hostname} points at {address}, a loopback, private or reserved"
                " address, refused in production mode: give a publicly reachable one",
            )


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_secret(secret: str) -> None:
    try:
        key = base64.b64decode(secret.removeprefix("whsec_") + "==", validate=False)
    except ValueError:
        key = b""
    if not secret.startswith("whsec_") or len(key) < 24:
        raise WriteRejected(
            "webhook.secret", "secret", "whsec_ then base64 of at least 24 random bytes"
        )


def render(registry: str, event: Event) -> str:
    """A delivery's body: the campaign event as the owner may see it (these payloads are
    PUBLIC: a recall, a mandate, a remedy)."""
    body = {
        "type": "robot." + event.type.value.lower(),
        "timestamp": format_datetime(event.at),
        "data": {
            "registry": registry,
            "code": event.code,
            "sequence": event.sequence,
            "eventType": event.type.value,
            "at": format_datetime(event.at),
            "payload": event.payload,
        },
    }
    return orjson.dumps(body).decode()


class WebhookBackend(Protocol):
    """Where owners' webhooks are kept, asynchronously: one registry store on worker
    threads (`StoreWebhooks`), or every federated registry node, each of which sends the
    deliveries of its own robots (gateway/federation/webhooks.py)."""

    async def add(
        self, id: str, owner_id: str, url: str, secret: str, now: datetime
    ) -> Webhook: ...

    async def of_owner(self, owner_id: str) -> list[Webhook]: ...

    async def delete(self, id: str, owner_id: str) -> bool: ...

    async def deliveries(self, webhook_id: str, first: int) -> list[Delivery]: ...


class StoreWebhooks:
    """One registry store's webhooks as a `WebhookBackend`."""

    def __init__(self, store: WebhookStore) -> None:
        self.store = store

    async def add(self, id: str, owner_id: str, url: str, secret: str, now: datetime) -> Webhook:
        return await asyncio.to_thread(self.store.add_webhook, id, owner_id, url, secret, now)

    async def of_owner(self, owner_id: str) -> list[Webhook]:
        return await asyncio.to_thread(self.store.webhooks, owner_id)

    async def delete(self, id: str, owner_id: str) -> bool:
        return await asyncio.to_thread(self.store.delete_webhook, id, owner_id)

    async def deliveries(self, webhook_id: str, first: int) -> list[Delivery]:
        return await asyncio.to_thread(self.store.deliveries, webhook_id, first)


class Webhooks:
    """Registering and listing an owner's webhooks."""

    def __init__(
        self,
        store: WebhookStore | WebhookBackend | None,
        policy: PolicySet | None,
        production: bool = False,
        resolver: Resolver = resolve,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store: WebhookBackend | None = (
            StoreWebhooks(store) if isinstance(store, WebhookStore) else store
        )
        self.policy = policy
        self.production = production
        self.resolver = resolver
        self.clock = clock

    def _owner(self, principal: Principal) -> tuple[WebhookBackend, str]:
        if self.store is None:
            raise WritesUnavailable(None, None, "this gateway keeps no webhooks")
        owner = principal.organisation_id
        if self.policy is not None and (
            WRITE_SCOPE not in principal.scopes or principal.role is not Role.OWNER
        ):
            raise WriteForbidden(
                "webhooks.owner", None, f"an owner's token with scope {WRITE_SCOPE} registers"
            )
        if owner is None:
            raise WriteForbidden("webhooks.owner", None, "the token names no organisation_id")
        return self.store, owner

    async def register(
        self, principal: Principal, url: str, secret: str | None
    ) -> tuple[Webhook, str]:
        """A new webhook and its secret, which is not shown again."""
        store, owner = self._owner(principal)
        await asyncio.to_thread(check_url, url, self.production, self.resolver)
        if secret is not None:
            check_secret(secret)
        chosen = secret or new_secret()
        webhook_id = "wh_" + secrets.token_hex(8)
        hook = await store.add(webhook_id, owner, url, chosen, self.clock())
        return hook, chosen

    async def mine(self, principal: Principal) -> list[Webhook]:
        store, owner = self._owner(principal)
        return await store.of_owner(owner)

    async def delete(self, principal: Principal, webhook_id: str) -> None:
        store, owner = self._owner(principal)
        if not await store.delete(webhook_id, owner):
            raise WriteNotFound(None, "id", f"no webhook {webhook_id!r} of yours")

    async def deliveries(self, principal: Principal, webhook_id: str, first: int) -> list[Delivery]:
        store, owner = self._owner(principal)
        if webhook_id not in {h.id for h in await store.of_owner(owner)}:
            raise WriteNotFound(None, "id", f"no webhook {webhook_id!r} of yours")
        return await store.deliveries(webhook_id, first)


class WebhookSender:
    """Queues and sends deliveries; `run_once` is one pass, `run` loops until cancelled."""

    def __init__(
        self,
        store: WebhookStore,
        client: httpx.AsyncClient,
        *,
        production: bool = False,
        resolver: Resolver = resolve,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.client = client
        self.production = production
        self.resolver = resolver
        self.clock = clock

    async def run(self, interval: float = 1.0) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(interval)

    async def run_once(self) -> int:
        """Queue new events for every webhook, then attempt every due delivery; returns
        how many were delivered."""
        now = self.clock()
        hooks = await asyncio.to_thread(self.store.webhooks)
        for hook in hooks:
            await asyncio.to_thread(
                self.store.enqueue, hook.id, lambda e: render(self.store.registry, e), now
            )
        due = await asyncio.to_thread(self.store.due_deliveries, now)
        urls = {h.id: h.url for h in hooks}
        delivered = 0
        for delivery in due:
            if delivery.webhook_id in urls:
                delivered += await self.attempt(delivery, urls[delivery.webhook_id])
        return delivered

    async def attempt(self, delivery: Delivery, url: str) -> bool:
        secret = await asyncio.to_thread(self.store.webhook_secret, delivery.webhook_id)
        if secret is None:
            return False
        now = self.clock()
        status: int | None = None
        error: str | None = None
        try:
            await asyncio.to_thread(check_url, url, self.production, self.resolver)
            body = delivery.body.encode()
            signature = standardwebhooks.Webhook(secret).sign(delivery.message_id, now, body)
            response = await self.client.post(
                url,
                content=body,
                headers={
                    "content-type": "application/json",
                    "webhook-id": delivery.message_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": signature,
                },
                timeout=TIMEOUT,
                follow_redirects=False,
            )
            status = response.status_code
            if 200 <= status < 300:
                await asyncio.to_thread(
                    self.store.record_attempt,
                    delivery.webhook_id,
                    delivery.position,
                    status=status,
                    error=None,
                    delivered_at=now,
                    next_at=None,
                )
                return True
            error = f"answered {status}"
        except WriteRejected as exc:
            error = exc.message
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: could not deliver"
        attempts = delivery.attempts + 1
        retry = None
        if attempts < MAX_ATTEMPTS:
            retry = now + timedelta(seconds=min(RETRY_CAP, RETRY_BASE * 2 ** (attempts - 1)))
        else:
            error = f"{error}; gave up after {attempts} attempts"
        await asyncio.to_thread(
            self.store.record_attempt,
            delivery.webhook_id,
            delivery.position,
            status=status,
            error=error,
            delivered_at=None,
            next_at=retry,
        )
        return False
