"""Issue 22, reproduced with the demo: `asOf` shows the past through today's mask.

A real `robopass serve` with the demo fleet and real tokens. The fleet owner sold one of
its robots; asking about it `asOf` a moment it still owned it must not make it the owner
again: the buyer's name stays hidden, and the history stops at that moment.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from gateway.federation.config import RegistryConfig
from gateway.federation.source import FederatedSource
from gateway.report.session import COOKIE
from policies.authserver import issue_token
from schema.codec import format_datetime, parse_datetime
from schema.source import RegistryUnavailable
from tests.support.node import Node, WithToken

OWNER = "Zhulong Sales & Leasing Co., Ltd."
DENIED = "UNAUTHORIZED_FIELD_OR_TYPE"
QUERY = """query ($code: RobotCode!, $at: DateTime) { robot(code: $code, asOf: $at) {
  asOf version ownership { owner }
  history(first: 100) { edges { node { sequence type payload } } pageInfo { hasNextPage } }
  integrity { length } } }"""


def sold_robot(data_dir: Path) -> tuple[str, datetime, str, list[tuple[int, datetime, str]]]:
    """A robot the fleet owner sold: code, time of the sale, the buyer, and its log."""
    db = sqlite3.connect(data_dir / "demo-cn.db")
    try:
        for code, snapshot in db.execute("SELECT code, snapshot FROM robots ORDER BY code"):
            owners = orjson.loads(snapshot)["ownership"]
            sold = [i for i, o in enumerate(owners[:-1]) if o["owner"] == OWNER]
            if sold:
                buyer = owners[sold[0] + 1]
                rows = db.execute(
                    "SELECT sequence, at, type FROM events WHERE code = ? ORDER BY sequence",
                    (code,),
                ).fetchall()
                log = [(s, parse_datetime(at), t) for s, at, t in rows]
                return code, parse_datetime(buyer["start"]), buyer["owner"], log
    finally:
        db.close()
    raise AssertionError("the demo fleet owner sold no robot")


def ask(base: str, token: str, code: str, at: datetime | None) -> tuple[dict, str]:
    variables = {"code": code, "at": format_datetime(at) if at else None}
    response = httpx.post(
        f"{base}/graphql",
        json={"query": QUERY, "variables": variables},
        headers={"authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json(), response.text


def payloads(body: dict) -> dict[int, object]:
    return {
        e["node"]["sequence"]: e["node"]["payload"]
        for e in body["data"]["robot"]["history"]["edges"]
    }


def denied_paths(body: dict) -> set[tuple]:
    errors = body.get("errors", [])
    assert {e["extensions"]["code"] for e in errors} <= {DENIED}, errors
    return {tuple(e["path"]) for e in errors}


@pytest.fixture(scope="module")
def sale(served_module):
    base, data_dir = served_module
    token = issue_token("fleet-owner", data_dir, f"{base}/auth")
    return base, token, *sold_robot(data_dir)


@pytest.mark.process
def test_the_sale_stays_hidden_from_the_seller_asking_in_its_own_period(sale):
    base, token, code, sold_at, buyer, log = sale
    transfer = next(s for s, at, t in log if t == "OWNERSHIP_TRANSFERRED" and at == sold_at)
    now, now_text = ask(base, token, code, None)
    assert transfer in payloads(now) and payloads(now)[transfer] is None
    assert ("robot", "history", "edges", transfer - 1, "node", "payload") in denied_paths(now)
    assert buyer not in now_text

    moment = sold_at - timedelta(minutes=1)
    past, past_text = ask(base, token, code, moment)
    robot = past["data"]["robot"]
    assert robot["asOf"] is not None
    assert buyer not in past_text, "the buyer's name is PERSONAL and the seller is no owner now"
    assert ("robot", "ownership", 0, "owner") in denied_paths(past) or robot["ownership"] is None
    shown = payloads(past)
    assert transfer not in shown, "the history under asOf stops at that moment"
    assert sorted(shown) == [s for s, at, _ in log if at <= moment]
    assert robot["history"]["pageInfo"]["hasNextPage"] is False
    assert robot["integrity"]["length"] == robot["version"] == max(shown)


@pytest.mark.process
def test_the_seller_sees_its_period_through_its_present_view(sale):
    """The documented rule: a past owner sees, at any asOf, what it sees now (the demo's
    past-owner rule grants MAINTENANCE: the service history it paid for), nothing more."""
    base, token, code, sold_at, _, log = sale
    now, _ = ask(base, token, code, None)
    past, _ = ask(base, token, code, sold_at - timedelta(minutes=1))
    visible_now = {s for s, p in payloads(now).items() if p is not None}
    visible_then = {s for s, p in payloads(past).items() if p is not None}
    kinds = {s: t for s, _, t in log}
    assert visible_then, "the maintenance of its own period stays in sight"
    assert {kinds[s] for s in visible_then} == {"MAINTENANCE_RECORDED"}
    assert visible_then == {s for s in visible_now if s in payloads(past)}
    assert {p[3:] for p in denied_paths(past) if p[:2] == ("robot", "history")} <= {
        p[3:] for p in denied_paths(now) if p[:2] == ("robot", "history")
    }


@pytest.mark.process
def test_the_report_page_of_the_sold_robot_hides_the_buyer_from_the_seller(sale):
    base, token, code, _, buyer, _ = sale
    page = httpx.get(f"{base}/robots/{code}", cookies={COOKIE: token}, timeout=30)
    assert page.status_code == 200
    assert 'data-viewer="fleet-owner"' in page.text, "the page was read as the seller"
    assert buyer not in page.text


class Forgetful(WithToken):
    """A node that ignores `until`, as one that predates it would if it took the call."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_remove_param("until")
        return await super().handle_async_request(request)


def test_a_federation_refuses_a_past_log_that_goes_past_its_moment(store, fleet, tmp_path):
    history = max(fleet, key=len)
    code, moment = history[0].code, history[len(history) // 2].at
    node = Node(store, "cn-miit", tmp_path / "node")

    async def read(transport: httpx.AsyncBaseTransport) -> list[int]:
        config = RegistryConfig("cn-heis", "cn-miit", "http://node", ("CN",), ("CN",), freshness=0)
        source = FederatedSource([config], transports={"cn-heis": transport})
        try:
            page = await source.history(code, 100, None, until=moment)
        finally:
            await source.aclose()
        return [e.sequence for e in page.items]

    assert asyncio.run(read(WithToken(node))) == [e.sequence for e in history if e.at <= moment]
    with pytest.raises(RegistryUnavailable, match="after the time asked for"):
        asyncio.run(read(Forgetful(node)))
