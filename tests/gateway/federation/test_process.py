"""The federation end to end, every part a real process on loopback.

An authorization server, a Chinese node (cn-miit, 50 robots), a European node
(aas, 50 robots of DE and FR) and `robopass serve --config` over both. The EU
node is killed with SIGKILL during a run of mixed queries and restarted; the
node's own Prometheus counters say how many batch requests the gateway sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.federation.config import load_federation
from gateway.federation.source import FederatedSource
from gateway.store import EventRejected, IdempotencyConflict, UnknownRobot
from schema.code import RobotCode
from schema.codec import to_plain
from schema.events import EventType
from schema.graphql.objects import DENIED_CODE
from schema.passport import ConditionSnapshot, MaintenanceKind, MaintenanceRecord
from schema.source import RegistryUnavailable, RobotFilter
from schema.writes import WriteRejected
from tests.support.ports import free_port
from tests.support.processes import Server

pytestmark = pytest.mark.process

SECRET = {"ROBOPASS_GATEWAY_SECRET": "dev-secret-robopass-gateway"}
TIMEOUT = 2.0
MARGIN = 2.0
RESET_AFTER = 1.0
FRESHNESS = 0.5
ROBOTS = 50


def robopass(args: list[str], env: dict | None = None) -> Server:
    """`robopass ARGS` until uvicorn says it runs."""
    argv = [sys.executable, "-m", "gateway.cli", *args]
    server = Server(argv, env={**os.environ, **(env or {})})
    server.wait_for("Uvicorn running on", timeout=120)
    return server


@dataclass
class Federation:
    data: Path
    issuer: str
    gateway: str
    nodes: dict[str, str]
    ports: dict[str, int]
    config: Path
    servers: dict[str, Server] = field(default_factory=dict)

    def node_args(self, fmt: str, registry: str) -> list[str]:
        return [
            "registry", "serve", "--format", fmt, "--robots", str(ROBOTS),
            "--trust-issuer", self.issuer, "--data-dir", str(self.data / registry),
            "--port", str(self.ports[registry]),
        ]  # fmt: skip

    def start_node(self, registry: str) -> None:
        fmt = "cn-miit" if registry == "cn-heis" else "aas"
        self.servers[registry] = robopass(self.node_args(fmt, registry))

    def query(self, query: str) -> tuple[dict, float]:
        started = time.monotonic()
        response = httpx.post(self.gateway + "/graphql", json={"query": query}, timeout=30)
        return response.json(), time.monotonic() - started

    def batch_gets(self, registry: str) -> float:
        text = httpx.get(self.nodes[registry] + "/metrics").text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = sample.labels
                if (
                    sample.name == "robopass_node_requests_total"
                    and labels.get("route") == "/robots:batchGet"
                    and labels.get("method") == "POST"
                ):
                    total += sample.value
        return total

    def single_gets(self, registry: str) -> float:
        text = httpx.get(self.nodes[registry] + "/metrics").text
        return sum(
            s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == "robopass_node_requests_total"
            and s.labels.get("route") == "/robots/{code}"
        )


CONFIG = """
[[registries]]
id = "cn-heis"
format = "cn-miit"
base_url = "{cn}"
countries = ["CN"]
timeout = {timeout}
freshness = {freshness}

[registries.credentials]
token_url = "{issuer}/token"
client_id = "robopass-gateway"
client_secret_env = "ROBOPASS_GATEWAY_SECRET"

[registries.breaker]
failures = 2
reset_after = {reset}

[[registries]]
id = "eu-dpp"
format = "aas"
base_url = "{eu}"
countries = ["DE", "FR"]
timeout = {timeout}
freshness = {freshness}

[registries.credentials]
token_url = "{issuer}/token"
client_id = "robopass-gateway"
client_secret_env = "ROBOPASS_GATEWAY_SECRET"

[registries.retry]
attempts = 2
backoff = 0.01

[registries.breaker]
failures = 2
reset_after = {reset}
"""


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    data = tmp_path_factory.mktemp("federation")
    auth_port = free_port()
    auth = robopass(["auth-server", "--port", str(auth_port), "--data-dir", str(data / "auth")])
    issuer = f"http://127.0.0.1:{auth_port}"
    ports = {"cn-heis": free_port(), "eu-dpp": free_port()}
    nodes = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    config = data / "gateway.toml"
    config.write_text(
        CONFIG.format(
            cn=nodes["cn-heis"],
            eu=nodes["eu-dpp"],
            issuer=issuer,
            timeout=TIMEOUT,
            reset=RESET_AFTER,
            freshness=FRESHNESS,
        )
    )
    fed = Federation(data, issuer, "", nodes, ports, config)
    gateway = None
    try:
        fed.start_node("cn-heis")
        fed.start_node("eu-dpp")
        port = free_port()
        limits = ["--max-aliases", "200", "--max-root-fields", "200", "--max-cost", "100000"]
        gateway = robopass(
            ["serve", "--config", str(config), "--port", str(port), "--data-dir",
             str(data / "gateway"), *limits],
            env=SECRET,
        )  # fmt: skip
        fed.gateway = f"http://127.0.0.1:{port}"
        warm_up(fed)
        yield fed
    finally:
        for server in [gateway, *fed.servers.values(), auth]:
            if server is not None:
                server.stop()


def warm_up(fed: Federation) -> None:
    """First calls fetch tokens and keys on every side; let them happen before any timing."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body, _ = fed.query("{ robots(first: 100) { totalCount edges { node { code } } } }")
        if "errors" not in body:
            return
        time.sleep(RESET_AFTER)
    raise RuntimeError(f"the federation never answered cleanly: {body.get('errors')}")


def all_codes(fed: Federation) -> list[str]:
    body, _ = fed.query("{ robots(first: 100) { totalCount edges { node { code } } } }")
    assert "errors" not in body, body
    assert body["data"]["robots"]["totalCount"] == 2 * ROBOTS
    return [e["node"]["code"] for e in body["data"]["robots"]["edges"]]


def aliases(codes: list[str]) -> str:
    return (
        "{ "
        + " ".join(f'r{i}: robot(code: "{c}") {{ code version }}' for i, c in enumerate(codes))
        + " }"
    )


def test_one_batch_request_per_registry_for_a_hundred_robots(federation: Federation) -> None:
    codes = all_codes(federation)
    assert {c[:2] for c in codes} == {"CN", "DE", "FR"}
    before = {r: federation.batch_gets(r) for r in federation.nodes}
    singles = {r: federation.single_gets(r) for r in federation.nodes}
    body, _ = federation.query(aliases(codes + codes[:5]))  # five asked twice
    assert "errors" not in body, body["errors"][:3]
    assert [body["data"][f"r{i}"]["code"] for i in range(len(codes))] == codes
    after = {r: federation.batch_gets(r) for r in federation.nodes}
    assert {r: after[r] - before[r] for r in after} == {"cn-heis": 1.0, "eu-dpp": 1.0}
    assert {r: federation.single_gets(r) for r in federation.nodes} == singles


def test_pages_merge_both_registries_in_code_order(federation: Federation) -> None:
    codes = all_codes(federation)
    assert codes == sorted(codes)
    seen: list[str] = []
    after = "null"
    while True:
        body, _ = federation.query(
            f"{{ robots(first: 30, after: {after}) {{ edges {{ node {{ code }} }}"
            " pageInfo { hasNextPage endCursor } } }"
        )
        page = body["data"]["robots"]
        seen += [e["node"]["code"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = f'"{page["pageInfo"]["endCursor"]}"'
    assert seen == codes
    only_eu, _ = federation.query(
        '{ robots(first: 100, filter: {registry: "eu-dpp"})'
        " { totalCount edges { node { code } } } }"
    )
    eu = [e["node"]["code"] for e in only_eu["data"]["robots"]["edges"]]
    assert (
        eu == [c for c in codes if c[:2] != "CN"] and only_eu["data"]["robots"]["totalCount"] == 50
    )
    for bad in ('"eyJrIjoicm9ib3RzIiwicCI6e319"', '"bm90IGEgY3Vyc29y"'):
        body, _ = federation.query(f"{{ robots(first: 5, after: {bad}) {{ edges {{ cursor }} }} }}")
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_code_no_registry_serves_is_not_found_and_says_why(federation: Federation) -> None:
    us = RobotCode.generate("US", "HD01", "H10001", date(2025, 3, 1), "1", 7).value
    body, _ = federation.query(f'{{ robot(code: "{us}") {{ code }} }}')
    assert body["data"] == {"robot": None}
    error = body["errors"][0]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert "no registry of this gateway serves country US" in error["message"]
    download = httpx.get(federation.gateway + f"/robots/{us}/export/aas")
    assert download.status_code == 404
    assert "serves country US" in download.json()["errors"][0]["message"]


def test_history_integrity_and_as_of_come_from_the_home_node(federation: Federation) -> None:
    codes = all_codes(federation)
    for code in (codes[0], codes[-1]):
        body, _ = federation.query(
            f'{{ robot(code: "{code}") {{ version'
            " history(first: 3) { edges { node { sequence } } }"
            " none: history(first: 0) { edges { cursor } pageInfo { hasNextPage } }"
            " integrity { verified length } } }"
        )
        robot = body["data"]["robot"]
        assert robot["none"] == {"edges": [], "pageInfo": {"hasNextPage": True}}
        assert [e["node"]["sequence"] for e in robot["history"]["edges"]] == [1, 2, 3]
        assert robot["integrity"] == {"verified": True, "length": robot["version"]}
        past, _ = federation.query(
            f'{{ before: robot(code: "{code}", asOf: "2000-01-01T00:00:00Z") {{ version }}'
            f' later: robot(code: "{code}", asOf: "2099-01-01T00:00:00Z") {{ version asOf }} }}'
        )
        assert past["data"]["before"] is None
        assert past["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert past["data"]["later"]["version"] == robot["version"]
        assert past["data"]["later"]["asOf"].startswith("2099-01-01")


def test_appends_go_to_the_home_node_and_its_errors_keep_their_meaning(
    federation: Federation,
) -> None:
    codes = all_codes(federation)
    code = next(c for c in codes if c.startswith("DE"))
    at = datetime(2026, 10, 30, 8, tzinfo=UTC)
    visit = MaintenanceRecord(
        at, MaintenanceKind.INSPECTION, "left_knee", None, "Berlin Robot Care", 1234.0, None
    )
    payload = to_plain(visit)

    async def run() -> None:
        source = FederatedSource(load_federation(federation.config, env=SECRET), env=SECRET)
        try:
            first = await source.append(
                code, EventType.MAINTENANCE_RECORDED, payload, at, idempotency_key="fed-k1"
            )
            again = await source.append(
                code, EventType.MAINTENANCE_RECORDED, payload, at, idempotency_key="fed-k1"
            )
            assert again == first and first.code == code
            record = await source.robot(code)
            assert record is not None and record.head.hash == first.hash
            other = to_plain(dataclasses.replace(visit, component="right_knee"))
            with pytest.raises(IdempotencyConflict):
                await source.append(
                    code, EventType.MAINTENANCE_RECORDED, other, at, idempotency_key="fed-k1"
                )
            with pytest.raises(EventRejected):
                await source.append(
                    code, EventType.MAINTENANCE_RECORDED, {"at": "x"}, at, idempotency_key="fed-k2"
                )
            unknown = RobotCode.generate("FR", "HD01", "H10001", date(2025, 3, 1), "1", 9).value
            with pytest.raises(UnknownRobot):
                await source.append(
                    unknown, EventType.MAINTENANCE_RECORDED, payload, at, idempotency_key="fed-k3"
                )
            assert (await source.robot(code)).head.hash == first.hash  # nothing else stored
        finally:
            await source.aclose()

    asyncio.run(run())


def test_telemetry_batches_go_to_each_home_node_once(federation: Federation) -> None:
    codes = all_codes(federation)
    robots = [next(c for c in codes if c.startswith(p)) for p in ("CN", "DE")]

    def later(record, minutes: int, battery: float | None = None) -> ConditionSnapshot:
        now = record.passport.condition
        return dataclasses.replace(
            now,
            at=now.at + timedelta(minutes=minutes),
            operating_hours=now.operating_hours + minutes / 60,
            battery_health_pct=now.battery_health_pct if battery is None else battery,
        )

    async def run() -> None:
        source = FederatedSource(load_federation(federation.config, env=SECRET), env=SECRET)
        try:
            records = {c: await source.robot(c) for c in robots}
            batches = {c: [later(records[c], m) for m in (1, 2, 3)] for c in robots}
            done = await source.ingest_conditions(batches, idempotency_key="fed-t1")
            assert sorted(done) == sorted(robots)
            for code, appended in done.items():
                assert appended.event.type is EventType.CONDITIONS_INGESTED
                assert not appended.replayed
                assert (await source.robot(code)).head.hash == appended.event.hash
            again = await source.ingest_conditions(batches, idempotency_key="fed-t1")
            assert all(a.replayed for a in again.values())
            assert {c: a.event for c, a in again.items()} == {c: a.event for c, a in done.items()}
            heads = {c: (await source.robot(c)).head for c in robots}
            bad = {
                robots[0]: [later(records[robots[0]], 10)],
                robots[1]: [later(records[robots[1]], 10), later(records[robots[1]], 11, 150.0)],
            }
            places = {robots[0]: [0], robots[1]: [1, 2]}
            with pytest.raises(WriteRejected) as refused:
                await source.ingest_conditions(bad, idempotency_key="fed-t2", positions=places)
            assert refused.value.field.startswith("samples[2]")
            assert {c: (await source.robot(c)).head for c in robots[1:]} == {
                robots[1]: heads[robots[1]]
            }  # the refused registry stored nothing
        finally:
            await source.aclose()

    asyncio.run(run())


def test_the_change_feed_merges_both_nodes_under_one_cursor(federation: Federation) -> None:
    body, _ = federation.query("{ robots(first: 100) { edges { node { code version } } } }")
    versions = {e["node"]["code"]: e["node"]["version"] for e in body["data"]["robots"]["edges"]}
    expected = {
        "cn-heis": sum(v for c, v in versions.items() if c.startswith("CN")),
        "eu-dpp": sum(v for c, v in versions.items() if not c.startswith("CN")),
    }

    async def run() -> tuple[list, str | None]:
        source = FederatedSource(load_federation(federation.config, env=SECRET), env=SECRET)
        try:
            seen, after = [], None
            while True:
                page = await source.changes(RobotFilter(), 400, after)
                assert not page.unavailable
                seen += page.items
                if not page.has_next_page:
                    return seen, after
                after = page.end_cursor
        finally:
            await source.aclose()

    seen, last = asyncio.run(run())
    keys = [(c.event.code, c.event.sequence) for c in seen]
    assert len(keys) == len(set(keys))  # nothing twice across pages
    per_registry = {
        "cn-heis": sum(1 for code, _ in keys if code.startswith("CN")),
        "eu-dpp": sum(1 for code, _ in keys if not code.startswith("CN")),
    }
    assert per_registry == expected  # and nothing missing
    assert last is not None


def test_links_go_to_the_registry_of_the_country_the_robot_moved_to(
    federation: Federation,
) -> None:
    cn = next(c for c in all_codes(federation) if c.startswith("CN"))
    since = datetime(2026, 11, 1, tzinfo=UTC)
    token = httpx.post(
        federation.issuer + "/token",
        data={"grant_type": "client_credentials"},
        auth=("robopass-gateway", SECRET["ROBOPASS_GATEWAY_SECRET"]),
    ).json()["access_token"]

    def eu_links() -> list[dict]:
        auth = {"authorization": f"Bearer {token}"}
        return httpx.get(federation.nodes["eu-dpp"] + "/links", headers=auth).json()["links"]

    async def run(work) -> None:
        source = FederatedSource(load_federation(federation.config, env=SECRET), env=SECRET)
        try:
            await work(source)
        finally:
            await source.aclose()

    asyncio.run(run(lambda s: s.link("FR", cn, "cn-heis", since)))
    assert [(x["code"], x["home"]) for x in eu_links()] == [(cn, "cn-heis")]
    with pytest.raises(ValueError, match="refused the link: home must be another registry"):
        asyncio.run(run(lambda s: s.link("DE", cn, "eu-dpp", since)))
    with pytest.raises(ValueError, match="no registry of this gateway serves country US"):
        asyncio.run(run(lambda s: s.link("US", cn, "cn-heis", since)))
    asyncio.run(run(lambda s: s.unlink("DE", cn)))
    assert eu_links() == []
    asyncio.run(run(lambda s: s.unlink("DE", cn)))  # unlinking again is no error


def test_a_node_of_another_format_than_configured_is_refused_clearly(
    federation: Federation,
) -> None:
    cn = next(c for c in all_codes(federation) if c.startswith("CN"))
    configs = load_federation(federation.config, env=SECRET)
    wrong = [dataclasses.replace(configs[0], format="aas"), configs[1]]

    async def run() -> None:
        source = FederatedSource(wrong, env=SECRET)
        try:
            with pytest.raises(RegistryUnavailable, match="sends 'cn-miit' documents, not 'aas'"):
                await source.robot(cn)
        finally:
            await source.aclose()

    asyncio.run(run())


MIXED = """{{
  cn: robot(code: "{cn}") {{ code version }}
  eu: robot(code: "{eu}") {{ code version }}
  all: robots(first: 100) {{ totalCount edges {{ node {{ code }} }} }}
}}"""


def test_killing_the_eu_node_leaves_china_served_and_it_comes_back(
    federation: Federation,
) -> None:
    codes = all_codes(federation)
    cn = next(c for c in codes if c.startswith("CN"))
    eu = next(c for c in codes if c.startswith("FR"))
    query = MIXED.format(cn=cn, eu=eu)
    results: list[tuple[float, float, dict]] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            started = time.monotonic()
            body, seconds = federation.query(query)
            results.append((started, seconds, body))

    worker = threading.Thread(target=client)
    worker.start()
    try:
        time.sleep(0.5)
        killed_at = time.monotonic()
        federation.servers["eu-dpp"].proc.kill()  # SIGKILL: no goodbye, sockets just close
        federation.servers["eu-dpp"].proc.wait()
        time.sleep(2.0)
    finally:
        stop.set()
        worker.join(30)
    assert results, "no query finished"
    # within the freshness bound the cached robot may still be served; after it, never
    down = [body for started, _, body in results if started > killed_at + FRESHNESS + 0.05]
    assert down, "no query ran while the node was down"
    for _started, seconds, body in results:
        assert seconds < TIMEOUT + MARGIN, f"a request took {seconds:.2f} s"
        assert body["data"]["cn"]["code"] == cn  # China is served throughout
        eu_answer = body["data"]["eu"]
        assert eu_answer is None or eu_answer["code"] == eu
    for body in down:
        assert body["data"]["eu"] is None
        errors = {tuple(e["path"]): e for e in body["errors"]}
        assert errors[("eu",)]["extensions"] == {
            "code": "REGISTRY_UNAVAILABLE",
            "registry": "eu-dpp",
        }
        listed = [e["node"]["code"] for e in body["data"]["all"]["edges"]]
        assert listed == [c for c in codes if c.startswith("CN")]
        assert errors[("all",)]["extensions"]["registry"] == "eu-dpp"
        assert body["data"]["all"]["totalCount"] is None
        assert errors[("all", "totalCount")]["extensions"]["code"] == "REGISTRY_UNAVAILABLE"
        assert "127.0.0.1" not in str(body["errors"])  # no addresses in what callers see

    for path in (f"/robots/{eu}", f"/robots/{eu}/export/canonical"):  # page and download
        answer = httpx.get(federation.gateway + path)
        assert answer.status_code == 503
        assert answer.json()["errors"][0]["extensions"]["registry"] == "eu-dpp"
    assert httpx.get(federation.gateway + f"/robots/{cn}").status_code == 200

    state, _ = federation.query("{ registries { id breaker lastError } }")
    by_id = {r["id"]: r for r in state["data"]["registries"]}
    # open, or half-open if a second has passed since the last probe failed
    assert by_id["eu-dpp"]["breaker"] != "closed" and by_id["eu-dpp"]["lastError"]
    assert by_id["cn-heis"] == {"id": "cn-heis", "breaker": "closed", "lastError": None}
    ready = httpx.get(federation.gateway + "/readyz")
    assert ready.status_code == 200
    assert {r["id"]: r["breaker"] for r in ready.json()["registries"]}["eu-dpp"] != "closed"
    metrics = httpx.get(federation.gateway + "/metrics").text
    assert 'robopass_upstream_breaker_state{registry="cn-heis"} 0.0' in metrics
    assert 'robopass_upstream_breaker_state{registry="eu-dpp"} 0.0' not in metrics
    upstream = [
        line
        for line in metrics.splitlines()
        if line.startswith("robopass_upstream_request_duration_seconds_count")
    ]
    assert any('registry="eu-dpp"' in line and "outcome=" in line for line in upstream)

    partial, _ = federation.query(
        "{ robots(first: 100) { edges { node { code } } pageInfo { hasNextPage endCursor } } }"
    )
    page = partial["data"]["robots"]
    assert len(page["edges"]) == ROBOTS and page["pageInfo"]["hasNextPage"] is False

    federation.start_node("eu-dpp")  # same port, same database
    time.sleep(RESET_AFTER)
    deadline = time.monotonic() + 10
    while True:
        body, seconds = federation.query(query)
        assert seconds < TIMEOUT + MARGIN
        if body["data"]["eu"] is not None or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert body["data"]["eu"]["code"] == eu and "errors" not in body, body.get("errors")
    assert len(body["data"]["all"]["edges"]) == 100
    state, _ = federation.query("{ registries { id breaker } }")
    assert {r["id"]: r["breaker"] for r in state["data"]["registries"]}["eu-dpp"] == "closed"
    after = page["pageInfo"]["endCursor"]
    resumed, _ = federation.query(
        f'{{ robots(first: 100, after: "{after}") {{ edges {{ node {{ code }} }} }} }}'
    )
    missed = [e["node"]["code"] for e in resumed["data"]["robots"]["edges"]]
    assert missed == [c for c in codes if not c.startswith("CN")]  # what the outage left out


def test_a_frozen_node_costs_no_request_more_than_its_timeout(federation: Federation) -> None:
    codes = all_codes(federation)
    cn = next(c for c in codes if c.startswith("CN"))
    eu = next(c for c in codes if c.startswith("DE"))
    query = MIXED.format(cn=cn, eu=eu)
    node = federation.servers["eu-dpp"].proc
    node.send_signal(signal.SIGSTOP)  # accepts connections, never answers
    try:
        time.sleep(FRESHNESS)  # past the bound, nothing cached is served without the node
        timings = []
        for _ in range(4):
            body, seconds = federation.query(query)
            timings.append(seconds)
            assert body["data"]["cn"]["code"] == cn
            eu_error = next(e for e in body["errors"] if e["path"] == ["eu"])
            assert eu_error["extensions"] == {"code": "REGISTRY_UNAVAILABLE", "registry": "eu-dpp"}
        assert all(t < TIMEOUT + MARGIN for t in timings), timings
        state, _ = federation.query("{ registries { id breaker lastError } }")
        eu_state = next(r for r in state["data"]["registries"] if r["id"] == "eu-dpp")
        assert eu_state["breaker"] != "closed" and eu_state["lastError"] == "timed out"
    finally:
        node.send_signal(signal.SIGCONT)
    time.sleep(RESET_AFTER)
    deadline = time.monotonic() + 10
    while True:
        body, _ = federation.query(query)
        if body["data"]["eu"] is not None or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert body["data"]["eu"]["code"] == eu


def service_token(federation: Federation) -> str:
    return httpx.post(
        federation.issuer + "/token",
        data={"grant_type": "client_credentials"},
        auth=("robopass-gateway", SECRET["ROBOPASS_GATEWAY_SECRET"]),
    ).json()["access_token"]


def test_a_known_version_is_served_without_the_node_and_a_change_within_the_bound(
    federation: Federation,
) -> None:
    code = next(c for c in all_codes(federation) if c.startswith("CN"))
    query = f'{{ robot(code: "{code}") {{ code version }} }}'

    def version() -> int:
        body, _ = federation.query(query)
        assert "errors" not in body, body["errors"]
        return body["data"]["robot"]["version"]

    before = version()
    deadline = time.monotonic() + 10  # the feed follower starts on first use and catches up
    while True:
        gets = federation.single_gets("cn-heis")
        version()
        if federation.single_gets("cn-heis") == gets or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    gets = federation.single_gets("cn-heis")
    assert [version() for _ in range(5)] == [before] * 5
    assert federation.single_gets("cn-heis") == gets  # no request to the node per lookup

    visit = MaintenanceRecord(
        datetime(2026, 11, 2, 9, tzinfo=UTC),
        MaintenanceKind.INSPECTION, "wrist", None, "Shanghai Robot Care", 1500.0, None,
    )  # fmt: skip
    written = httpx.post(  # at the node itself, not through the gateway
        federation.nodes["cn-heis"] + f"/robots/{code}/events",
        json={"type": "MAINTENANCE_RECORDED", "at": "2026-11-02T09:00:00Z",
              "payload": to_plain(visit)},
        headers={"authorization": f"Bearer {service_token(federation)}",
                 "idempotency-key": f"direct-{code}"},
    )  # fmt: skip
    assert written.status_code == 201, written.text
    committed = time.monotonic()
    sequence = written.json()["event"]["sequence"]
    assert sequence == before + 1
    while version() != sequence:
        assert time.monotonic() - committed < FRESHNESS + MARGIN, "the change was never served"
        time.sleep(0.05)
    assert time.monotonic() - committed <= FRESHNESS + MARGIN


def test_a_repeated_lookup_is_answered_alike_and_audited_as_the_first(
    federation: Federation,
) -> None:
    from bench.run import QUERY
    from policies import AuditLog
    from policies.authserver import issue_token

    code = [c for c in all_codes(federation) if c.startswith("CN")][3]
    token = issue_token("de-msa", federation.data / "gateway", federation.gateway + "/auth")
    audit = AuditLog(str(federation.data / "gateway" / "audit-federation.db"))
    body = {"query": QUERY, "variables": {"code": code}}

    def ask(bearer: str | None) -> bytes:
        headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
        answer = httpx.post(federation.gateway + "/graphql", json=body, headers=headers)
        assert answer.status_code == 200
        return answer.content

    def trail() -> list:
        return [r.record for r in audit.trail(code, 1000)]

    def hits() -> float:
        text = httpx.get(federation.gateway + "/metrics").text
        return sum(
            s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == "robopass_response_cache_total" and s.labels["result"] == "hit"
        )

    deadline, first = time.monotonic() + 10, hits()
    while hits() == first and time.monotonic() < deadline:  # the feed vouches for the robot
        ask(token)
    before, kept = len(trail()), hits()
    answers = [ask(token) for _ in range(6)]
    records = trail()[before:]
    assert len(set(answers)) == 1
    assert len(records) == 6  # one record per request, kept answer or not
    assert hits() - kept >= 3  # most, unless a feed poll came late on a loaded machine
    assert {(r.subject, r.role, r.served, r.denied) for r in records} == {
        (records[0].subject, records[0].role, records[0].served, records[0].denied)
    }
    assert records[0].served and records[0].subject != "anonymous"
    public = ask(None)  # another view of the same robot, asked after the kept answer
    assert public != answers[0]
    errors = json.loads(public)["errors"]
    assert errors and {e["extensions"]["code"] for e in errors} == {DENIED_CODE}
    (seen_by_public,) = trail()[before + 6 :]
    assert seen_by_public.subject == "anonymous"
    assert set(seen_by_public.denied) > set(records[0].denied)
    strict = {"robopass-on-denied": "reject"}  # the whole operation fails, nothing is served
    refused = [
        httpx.post(federation.gateway + "/graphql", json=body, headers=strict) for _ in range(3)
    ]
    assert all(r.status_code == 200 and r.json()["data"] is None for r in refused)
    assert len({r.content for r in refused}) == 1
    on_refusal = trail()[before + 7 :]
    assert len(on_refusal) == 3
    assert all(not r.served and r.denied == seen_by_public.denied for r in on_refusal)


def test_a_write_through_the_gateway_is_read_back_at_once(federation: Federation) -> None:
    code = [c for c in all_codes(federation) if c.startswith("FR")][1]
    at = datetime(2026, 11, 3, 10, tzinfo=UTC)
    visit = MaintenanceRecord(
        at, MaintenanceKind.INSPECTION, "hip", None, "Lyon Care", 1500.0, None
    )

    async def run() -> None:
        source = FederatedSource(load_federation(federation.config, env=SECRET), env=SECRET)
        try:
            deadline = time.monotonic() + 10
            while source.vouched(code) is None and time.monotonic() < deadline:
                await source.robot(code)  # the first read starts the feed follower
                await asyncio.sleep(0.05)
            assert source.vouched(code) is not None  # a read now would not ask the node
            event = await source.append(
                code, EventType.MAINTENANCE_RECORDED, to_plain(visit), at, idempotency_key="fresh-1"
            )
            assert source.vouched(code) is None  # not even for the feed's next poll
            record = await source.robot(code)
            assert record is not None and record.head.hash == event.hash
        finally:
            await source.aclose()

    asyncio.run(run())
