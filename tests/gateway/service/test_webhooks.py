"""Webhooks: a signed delivery reaches a real HTTP receiver on loopback, a failure is tried
again later with the same message id, the log says what happened, and bad URLs are refused
with nothing stored."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import standardwebhooks
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.service.webhooks import WebhookSender, check_url
from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from schema.campaigns import Campaign, CampaignKind, Issuer, RecallTerms, Selector
from schema.passport import Severity
from schema.writes import WriteRejected
from tests.support.campaigns import Api
from tests.support.ports import free_port
from tests.support.writing import token

HISTORIES = list(synthetic_fleet(30, seed=7))
REGISTER = """mutation ($url: String!, $secret: String) {
  registerWebhook(url: $url, secret: $secret) { secret webhook { id url } } }"""
LOG = """{ webhooks { id deliveries { messageId code attempts lastStatus lastError deliveredAt
  nextAttemptAt } } }"""


class Receiver:
    """A real HTTP server on loopback that answers the statuses it is told to, in order."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []

        async def hook(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            return Response(status_code=self.statuses.pop(0) if self.statuses else 204)

        self.port = free_port()
        app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "receiver did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def store(tmp_path, seeded) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "registry.db")
    seeded.fill(s, HISTORIES)
    yield s
    s.close()


def owned_robot(store: SqliteStore):
    for code in store.codes():
        p = store.passport(code)
        owner = p.current_owner
        if p.identity.status.value == "ACTIVE" and owner is not None and owner.owner_id:
            return p
    raise AssertionError("no owned robot")


def recall_of(code: str) -> Campaign:
    return Campaign(
        "CN-RC-WH-1",
        CampaignKind.RECALL,
        Issuer("reg:CN:SAMR", "regulator", "CN"),
        "GB/T 1",
        "Knee",
        datetime.now(UTC),
        Selector(registry_country="CN", manufacturer_code=code[2:6]),
        recall=RecallTerms("knee may lock", Severity.SERIOUS, "replace it"),
    )


def webhook_rows(store: SqliteStore) -> int:
    with store._reading() as db:
        return db.execute("SELECT COUNT(*) FROM webhooks").fetchone()[0]


def test_an_owner_gets_a_signed_delivery_retried_until_it_is_accepted(store):
    p = owned_robot(store)
    owner = token(
        "owner", "O", jurisdiction=p.current_owner.jurisdiction, org_id=p.current_owner.owner_id
    )
    api = Api(store)
    with Receiver([503]) as receiver:
        body = api.ask(REGISTER, {"url": receiver.url}, owner)
        registered = body["data"]["registerWebhook"]
        secret = registered["secret"]
        assert secret.startswith("whsec_")
        store.issue_campaign(recall_of(p.code))
        store.run_campaign("CN-RC-WH-1")

        async def passes() -> tuple[int, int]:
            async with httpx.AsyncClient() as client:
                sender = WebhookSender(store, client)
                first = await sender.run_once()
                again = await sender.run_once()  # not due yet: nothing is sent
                sender.clock = lambda: datetime.now(UTC) + timedelta(seconds=5)
                return first + again, await sender.run_once()

        early, late = asyncio.run(passes())
        assert (early, late) == (0, 1)
        assert len(receiver.received) == 2
        (h1, b1), (h2, b2) = receiver.received
        assert h1["webhook-id"] == h2["webhook-id"] and b1 == b2, "a retry is the same message"
        event = standardwebhooks.Webhook(secret).verify(b2, h2)
        assert event["type"] == "robot.recall_issued"
        assert (
            event["data"]["code"] == p.code
            and event["data"]["payload"]["reference"] == "CN-RC-WH-1"
        )
        with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
            standardwebhooks.Webhook("whsec_" + "A" * 43).verify(b2, h2)
        stale = {**h2, "webhook-timestamp": str(int(time.time()) - 3600)}
        with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
            standardwebhooks.Webhook(secret).verify(b2, stale)

    (hook,) = api.ask(LOG, {}, owner)["data"]["webhooks"]
    (delivery,) = hook["deliveries"]
    assert delivery["attempts"] == 2 and delivery["lastStatus"] == 204
    assert delivery["deliveredAt"] and delivery["nextAttemptAt"] is None


def test_a_failing_endpoint_is_tried_with_growing_delays_and_logged(store):
    p = owned_robot(store)
    with Receiver([500] * 10) as receiver:
        store.add_webhook(
            "wh_t", p.current_owner.owner_id, receiver.url, "whsec_" + "B" * 43, datetime.now(UTC)
        )
        store.issue_campaign(recall_of(p.code))
        store.run_campaign("CN-RC-WH-1")
        delays = []

        async def attempts() -> None:
            async with httpx.AsyncClient() as client:
                now = datetime.now(UTC)
                sender = WebhookSender(store, client, clock=lambda: now)
                await sender.run_once()
                for _ in range(3):
                    (d,) = store.deliveries("wh_t")
                    delays.append((d.next_at - now).total_seconds())
                    now = d.next_at
                    await sender.run_once()

        asyncio.run(attempts())
    (d,) = store.deliveries("wh_t")
    assert d.attempts == 4 and d.last_status == 500 and d.last_error == "answered 500"
    assert delays[0] < delays[1] < delays[2]


@pytest.mark.parametrize(
    ("url", "production", "rule"),
    [
        ("ftp://example.org/hook", False, "webhook.scheme"),
        ("file:///etc/passwd", False, "webhook.scheme"),
        ("https://user:pw@example.org/hook", False, "webhook.url"),
        ("http://127.0.0.1:9/hook", True, "webhook.private"),
        ("http://[::1]/hook", True, "webhook.private"),
        ("https://10.1.2.3/hook", True, "webhook.private"),
        ("https://169.254.169.254/latest", True, "webhook.private"),
        ("https://intranet.example/hook", True, "webhook.private"),
    ],
)
def test_urls_that_may_not_receive_deliveries(url, production, rule):
    def resolver(host: str, port: int) -> list[str]:
        return {"intranet.example": ["192.168.1.5"]}.get(host, [host.strip("[]")])

    with pytest.raises(WriteRejected) as caught:
        check_url(url, production, resolver)
    assert caught.value.rule == rule and caught.value.field == "url"


def test_a_public_address_is_fine_in_production_and_loopback_outside_it():
    check_url("https://hooks.example/x", True, lambda host, port: ["93.184.216.34"])
    check_url("http://127.0.0.1:9/hook", False)


def test_a_refused_registration_stores_nothing(store):
    p = owned_robot(store)
    owner = token("owner", "O", org_id=p.current_owner.owner_id)
    api = Api(store)
    for url, secret, rule in (
        ("gopher://x/y", None, "webhook.scheme"),
        ("http://127.0.0.1/hook", "not-a-secret", "webhook.secret"),
    ):
        body = api.ask(REGISTER, {"url": url, "secret": secret}, owner)
        assert body["errors"][0]["extensions"]["rule"] == rule
    insurer = api.ask(REGISTER, {"url": "https://x.example/h"}, token("insurer", "I"))
    assert insurer["errors"][0]["extensions"] == {"code": "FORBIDDEN", "rule": "webhooks.owner"}
    assert webhook_rows(store) == 0


def test_in_production_a_private_address_is_refused_at_registration_and_nothing_stored(store):
    p = owned_robot(store)
    owner = token("owner", "O", org_id=p.current_owner.owner_id)
    production = Api(store, production=True)
    for url in ("http://127.0.0.1:9/hook", "http://localhost:9/hook", "https://10.0.0.7/h"):
        body = production.ask(REGISTER, {"url": url, "secret": None}, owner)
        (error,) = body["errors"]
        assert error["extensions"]["rule"] == "webhook.private", url
        assert error["extensions"]["field"] == "url"
        assert "refused in production mode: give a publicly reachable one" in error["message"]
        assert body["data"] is None
    assert webhook_rows(store) == 0
    # The same loopback receiver is fine outside production mode (the tests' own receivers).
    body = Api(store).ask(REGISTER, {"url": "http://127.0.0.1:9/hook", "secret": None}, owner)
    assert body["data"]["registerWebhook"]["webhook"]["url"] == "http://127.0.0.1:9/hook"
    assert webhook_rows(store) == 1
