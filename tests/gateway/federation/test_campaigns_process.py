"""Issue 17's acceptance: a recall across federated registry nodes, every part a real process.

An authorization server (service tokens), a Chinese node (cn-miit) and a
European node (aas), and `robopass serve --config` over both, trusting a test
issuer for the parties' tokens. A Chinese manufacturer recalls its robots by
the manufacturer segment of their codes. Its robots are on both nodes: the
Chinese registry's, and one registered in Germany (imported into the EU node
before the recall, another after it, which the EU node reaches as it registers).
Counts are compared with a brute-force scan of every passport through the
federation; an owner's webhook receiver on loopback gets a signed delivery; a
remedy moves a robot to REMEDIED; and a gateway whose clock is past the deadline
(in this process, over the same node processes) counts the rest OVERDUE.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
import standardwebhooks
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.federation.campaigns import FederatedCampaigns
from gateway.federation.config import load_federation
from gateway.federation.source import FederatedSource
from gateway.service.services import Services
from gateway.synthetic.fleet import synthetic_fleet
from gateway.web.app import create_app
from policies import TokenVerifier, TrustedIssuer
from schema.campaigns import Campaign, applies
from schema.code import check_character
from schema.events import Event, fold
from schema.parties import manufacturer_id
from schema.passport import Passport
from schema.source import RobotFilter
from tests.support.imports import passport_line
from tests.support.loopback import serving
from tests.support.ports import free_port
from tests.support.processes import Server
from tests.support.writing import ISSUER, KEY, POLICY, token

pytestmark = pytest.mark.process

SECRET = {"ROBOPASS_GATEWAY_SECRET": "dev-secret-robopass-gateway"}
ROBOTS = 60
CAMPAIGN = "CN-RC-FED-2026-1"
ROOT = Path(__file__).resolve().parents[3]

ISSUE = """mutation ($input: IssueCampaignInput!) { issueCampaign(input: $input) {
  created notice campaign { id selector progress { scanned reached done } } } }"""
COUNTS = """query ($id: String!) { campaign(id: $id) { id counts {
  totals { affected pending remedied overdue exempted }
  byCountry { country counts { affected pending remedied overdue } }
  byOwner(first: 50) { edges { node { ownerId } } } } } }"""
ROBOTS_OF = """query ($id: String!, $after: String) { campaign(id: $id) {
  robots(first: 7, after: $after) { edges { node { code state country } }
  pageInfo { hasNextPage endCursor } } } }"""
REMEDY = """mutation ($id: String!, $code: RobotCode!, $at: DateTime!) {
  remedyCampaign(campaignId: $id, code: $code, at: $at, idempotencyKey: "fed-r-1") { type } }"""
STANDING = "query ($c: RobotCode!) { robot(code: $c) { campaigns { campaignId state } } }"
REGISTER = """mutation ($url: String!) {
  registerWebhook(url: $url) { secret webhook { id url } } }"""

CONFIG = """
[[issuers]]
issuer = "{test_issuer}"
audience = "robopass"
jurisdictions = ["CN", "DE", "FR"]
jwks_file = "{jwks}"
{registries}"""
REGISTRY = """
[[registries]]
id = "{id}"
format = "{format}"
base_url = "{url}"
countries = {countries}
timeout = 10

[registries.credentials]
token_url = "{issuer}/token"
client_id = "robopass-gateway"
client_secret_env = "ROBOPASS_GATEWAY_SECRET"
"""


def robopass(args: list[str], env: dict | None = None) -> Server:
    server = Server([sys.executable, "-m", "gateway.cli", *args], env={**os.environ, **(env or {})})
    server.wait_for("Uvicorn running on", timeout=120)
    return server


@dataclass
class World:
    data: Path
    gateway: str
    config: Path
    eu_db: Path

    def ask(self, query: str, variables: dict, bearer: str | None = None) -> dict:
        headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
        response = httpx.post(
            self.gateway + "/graphql",
            json={"query": query, "variables": variables},
            headers=headers,
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def source(self) -> FederatedSource:
        return FederatedSource(load_federation(self.config, env=SECRET), env=SECRET)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("campaigns")
    auth_port = free_port()
    servers = [robopass(["auth-server", "--port", str(auth_port), "--data-dir", str(data / "a")])]
    issuer = f"http://127.0.0.1:{auth_port}"
    try:
        nodes = {}
        for registry, fmt, countries in (
            ("cn-heis", "cn-miit", ["CN"]),
            ("eu-dpp", "aas", ["DE", "FR"]),
        ):
            port = free_port()
            servers.append(
                robopass(
                    [
                        "registry",
                        "serve",
                        "--format",
                        fmt,
                        "--robots",
                        str(ROBOTS),
                        "--trust-issuer",
                        issuer,
                        "--data-dir",
                        str(data / registry),
                        "--port",
                        str(port),
                    ]
                )
            )
            nodes[registry] = REGISTRY.format(
                id=registry,
                format=fmt,
                url=f"http://127.0.0.1:{port}",
                countries=json.dumps(countries),
                issuer=issuer,
            )
        jwks = data / "parties.jwks.json"
        jwks.write_text(json.dumps({"keys": [KEY.as_dict(private=False)]}))
        config = data / "gateway.toml"
        config.write_text(
            CONFIG.format(test_issuer=ISSUER, jwks=jwks, registries="".join(nodes.values()))
        )
        port = free_port()
        servers.append(
            robopass(
                [
                    "serve",
                    "--config",
                    str(config),
                    "--port",
                    str(port),
                    "--data-dir",
                    str(data / "gateway"),
                ],
                env=SECRET,
            )
        )
        eu_db = data / "eu-dpp" / "node-eu-dpp.db"
        yield World(data, f"http://127.0.0.1:{port}", config, eu_db)
    finally:
        for server in reversed(servers):
            server.stop()


def passports(world: World) -> list[Passport]:
    """Every robot of both nodes, read through the federation: the brute-force scan."""

    async def scan() -> list[Passport]:
        source = world.source()
        found: list[Passport] = []
        after = None
        try:
            while True:
                page = await source.robots(RobotFilter(), 500, after)
                assert not page.unavailable
                found.extend(r.passport for r in page.items)
                if not page.has_next_page:
                    return found
                after = page.end_cursor
        finally:
            await source.aclose()

    return asyncio.run(scan())


def german_robot_of(maker_segment: str, seed: int, world: World) -> str:
    """Register, in the EU node, a robot that maker built and sold in Germany: a robot of
    the synthetic Chinese fleet given a German registry code (`robopass registry import`)."""
    for history in synthetic_fleet(200, seed=seed, country="CN", registry="cn-heis"):
        if history[0].code[2:6] == maker_segment and _in_service(history):
            break
    else:
        raise AssertionError(f"no robot of {maker_segment} in the synthetic fleet")
    old = history[0].code
    body = "DE" + old[2:28]
    new = body + check_character(body)
    line = orjson.dumps(passport_line(history, "canonical")).decode().replace(old, new)
    line = line.replace('"home_registry":"cn-heis"', '"home_registry":"eu-dpp"')
    path = world.data / f"import-{seed}.ndjson"
    path.write_text(line + "\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "registry",
            "import",
            str(path),
            "--db",
            str(world.eu_db),
            "--registry",
            "eu-dpp",
            "--quiet",
            "--strict",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return new


def _in_service(history: list[Event]) -> bool:
    passport = fold(history)
    return passport is not None and passport.identity.status.value == "ACTIVE"


def recall_input(segment: str, deadline: date) -> dict:
    return {
        "id": CAMPAIGN,
        "kind": "RECALL",
        "title": "Knee actuator may lock",
        "legalBasis": "Regulations on the Administration of Defective Product Recalls art. 12",
        "deadline": deadline.isoformat(),
        "selector": {"manufacturerCode": segment},
        "recall": {"hazard": "the knee may lock", "severity": "SERIOUS", "remedy": "replace it"},
    }


def data_of(body: dict, field: str):
    assert "errors" not in body, body["errors"]
    return body["data"][field]


class Receiver:
    """An owner's webhook endpoint: a real HTTP server on loopback that keeps what it got."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []

        async def hook(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            return Response(status_code=204)

        self.app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def test_a_recall_reaches_robots_on_every_node_and_each_party_sees_its_part(world: World) -> None:
    fleet = passports(world)
    assert {p.code[:2] for p in fleet} == {"CN", "DE", "FR"}
    held: Counter[tuple[str, str]] = Counter()
    for p in fleet:
        owner = p.current_owner
        if p.code[:2] == "CN" and owner is not None and owner.jurisdiction == "DE":
            held[(p.code[2:6], manufacturer_id(p.manufacturer) or "")] += 1
    (segment, maker), _ = held.most_common(1)[0]
    before = german_robot_of(segment, 101, world)

    # An owner of one of the maker's Chinese robots listens before the recall.
    mine = next(
        p
        for p in fleet
        if p.code[2:6] == segment
        and p.identity.status.value == "ACTIVE"
        and p.current_owner is not None
        and p.current_owner.owner_id
        and p.current_owner.jurisdiction in ("CN", "DE", "FR")  # the test issuer's
    )
    assert mine.current_owner is not None
    owner = token(
        "owner",
        "O",
        jurisdiction=mine.current_owner.jurisdiction,
        org_id=mine.current_owner.owner_id,
    )
    receiver = Receiver()
    with serving(receiver.app) as hook_base:
        registered = data_of(
            world.ask(REGISTER, {"url": hook_base + "/hook"}, owner), "registerWebhook"
        )
        secret = registered["secret"]

        manufacturer = token("manufacturer", "Q", jurisdiction="CN", org_id=maker)
        deadline = date.today() + timedelta(days=10)
        issued = data_of(
            world.ask(ISSUE, {"input": recall_input(segment, deadline)}, manufacturer),
            "issueCampaign",
        )
        assert issued["created"] and issued["campaign"]["selector"]["manufacturer_id"] == maker
        again = data_of(
            world.ask(ISSUE, {"input": recall_input(segment, deadline)}, manufacturer),
            "issueCampaign",
        )
        assert not again["created"], "the same campaign again adds nothing on any node"
        assert again["campaign"]["progress"]["reached"] == issued["campaign"]["progress"]["reached"]

        later = german_robot_of(segment, 202, world)  # registered after the recall
        deadline_at = time.monotonic() + 60
        while not receiver.received:
            assert time.monotonic() < deadline_at, "the owner's webhook got no delivery"
            time.sleep(0.5)
        headers, body = receiver.received[0]
        payload = standardwebhooks.Webhook(secret).verify(body, headers)
        assert payload["type"] == "robot.recall_issued"
        assert payload["data"]["payload"]["reference"] == CAMPAIGN
        assert payload["data"]["code"][2:6] == segment

    # The brute-force scan: every passport through the federation, the campaign's rule.
    campaign = _campaign(world)
    fleet = passports(world)
    reached = [p for p in fleet if applies(campaign, p) or _recalled(p)]
    assert {p.code for p in fleet if _recalled(p)} == {p.code for p in reached}
    assert {before, later} <= {p.code for p in reached}
    assert {p.code[:2] for p in reached} == {"CN", "DE"}, "robots on both nodes got the event"
    by_country = Counter(p.current_owner.jurisdiction for p in reached if p.current_owner)

    regulator_cn = token("regulator", "SAMR", jurisdiction="CN")
    home = data_of(world.ask(COUNTS, {"id": CAMPAIGN}, regulator_cn), "campaign")["counts"]
    assert home["totals"]["affected"] == len(reached) == home["totals"]["pending"]
    assert {c["country"]: c["counts"]["affected"] for c in home["byCountry"]} == by_country

    german = data_of(
        world.ask(COUNTS, {"id": CAMPAIGN}, token("regulator", "BAuA", jurisdiction="DE")),
        "campaign",
    )["counts"]
    assert [c["country"] for c in german["byCountry"]] == ["DE"]
    assert german["totals"]["affected"] == by_country["DE"] > 0
    assert german["byOwner"] is None
    german_token = token("regulator", "BAuA", jurisdiction="DE")
    # The fleet list by compliance state, answered by the nodes: Germany's robots only.
    pending_de = world.ask(
        "query ($c: String!) { robots(first: 100, filter: {campaign: $c, campaignState: PENDING})"
        " { totalCount edges { node { code } } } }",
        {"c": CAMPAIGN},
        german_token,
    )
    listed = data_of(pending_de, "robots")
    assert listed["totalCount"] == len(listed["edges"]) == by_country["DE"]
    listing = world.ask("{ campaigns(first: 5) { edges { node { id } } } }", {}, german_token)
    assert [e["node"]["id"] for e in data_of(listing, "campaigns")["edges"]] == [CAMPAIGN]
    table = httpx.get(
        f"{world.gateway}/campaigns/{CAMPAIGN}/robots.csv",
        headers={"authorization": f"Bearer {german_token}"},
        timeout=60,
    )
    assert table.status_code == 200, table.text
    header, *rows = table.text.strip().splitlines()
    assert header.startswith("code,state,country")
    assert len(rows) == by_country["DE"] and all(r.split(",")[2] == "DE" for r in rows)
    listed = _listed(world, german_token)
    assert {r["country"] for r in listed} == {"DE"}
    assert sorted(r["code"] for r in listed) == sorted(
        p.code for p in reached if p.current_owner and p.current_owner.jurisdiction == "DE"
    )

    # A remedy by the manufacturer moves the robot to REMEDIED, on either node.
    at = datetime.now(UTC).isoformat()
    for code in (before, mine.code):
        remedied = world.ask(REMEDY, {"id": CAMPAIGN, "code": code, "at": at}, manufacturer)
        assert data_of(remedied, "remedyCampaign")["type"] == "RECALL_REMEDIED"
        standing = data_of(world.ask(STANDING, {"c": code}, regulator_cn), "robot")
        assert {"campaignId": CAMPAIGN, "state": "REMEDIED"} in standing["campaigns"]
    totals = data_of(world.ask(COUNTS, {"id": CAMPAIGN}, regulator_cn), "campaign")["counts"]
    assert totals["totals"]["remedied"] == 2
    assert totals["totals"]["pending"] == len(reached) - 2

    # After the deadline: a gateway over the same nodes with its clock 11 days on.
    late = _later_gateway_counts(world, regulator_cn, timedelta(days=11))
    assert late["totals"]["overdue"] == len(reached) - 2
    assert late["totals"]["pending"] == 0 and late["totals"]["remedied"] == 2


def _recalled(p: Passport) -> bool:
    return any(r.reference == CAMPAIGN for r in p.compliance.recalls)


def _campaign(world: World) -> Campaign:
    async def read() -> Campaign:
        source = world.source()
        try:
            record = await FederatedCampaigns(source.clients, source.homes).campaign(CAMPAIGN)
        finally:
            await source.aclose()
        assert record is not None and record.progress.done
        return record.campaign

    return asyncio.run(read())


def _listed(world: World, bearer: str) -> list[dict]:
    """Every row of the campaign's robots the caller may list, page by page."""
    rows: list[dict] = []
    after = None
    while True:
        page = data_of(world.ask(ROBOTS_OF, {"id": CAMPAIGN, "after": after}, bearer), "campaign")
        rows.extend(e["node"] for e in page["robots"]["edges"])
        if not page["robots"]["pageInfo"]["hasNextPage"]:
            codes = [r["code"] for r in rows]
            assert codes == sorted(codes) and len(set(codes)) == len(codes)
            return rows
        after = page["robots"]["pageInfo"]["endCursor"]


def _later_gateway_counts(world: World, bearer: str, ahead: timedelta) -> dict:
    async def ask() -> dict:
        source = world.source()
        issuer = TrustedIssuer(
            ISSUER,
            "robopass",
            frozenset({"CN", "DE", "FR"}),
            jwks={"keys": [KEY.as_dict(private=False)]},
        )
        services = Services(
            source,
            POLICY,
            verifier=TokenVerifier([issuer]),
            writer=source,
            campaign_registry=FederatedCampaigns(source.clients, source.homes),
        )
        services.campaigns.clock = lambda: datetime.now(UTC) + ahead
        transport = httpx.ASGITransport(app=create_app(services))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.post(
                    "/graphql",
                    json={"query": COUNTS, "variables": {"id": CAMPAIGN}},
                    headers={"authorization": f"Bearer {bearer}"},
                )
        finally:
            await source.aclose()
        return data_of(response.json(), "campaign")["counts"]

    return asyncio.run(ask())
