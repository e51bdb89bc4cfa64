"""`robopass demo` as a user runs it: six real processes, queried, then stopped by a signal."""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from gateway.cli.demo import Ports, federation_toml, make_keys, secret_env
from gateway.federation.config import load_federation
from policies.authserver import issue_token
from tests.support.ports import free_port
from tests.support.processes import Server

QUERY = """query ($registry: String!) { robots(first: 2, filter: {registry: $registry}) {
  totalCount edges { node { code identity { homeRegistry } manufacturer { name } } } } }"""


FLEET = """{ robots(first: 50, filter: {ownerId: "uscc:913205066HF31Y0124"}) {
  edges { node { code identity { homeRegistry } } } } }"""


def children(pid: int) -> list[int]:
    """The direct children of a process (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.process
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads children from /proc")
@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_demo_serves_both_registries_and_stops_every_part(
    tmp_path: Path, stop_with: signal.Signals
) -> None:
    ports = [free_port() for _ in range(6)]
    assert len(set(ports)) == 6
    gateway, auth, cn, eu, cn_witness, eu_witness = ports
    data = tmp_path / "demo"
    argv = [sys.executable, "-m", "gateway.cli", "demo", "--data-dir", str(data)]
    argv += ["--gateway-port", str(gateway), "--auth-port", str(auth)]
    argv += ["--cn-port", str(cn), "--eu-port", str(eu), "--cn-robots", "45", "--eu-robots", "6"]
    argv += ["--cn-witness-port", str(cn_witness), "--eu-witness-port", str(eu_witness)]
    demo = Server(argv)
    try:
        demo.wait_for("Press Ctrl-C to stop", timeout=120)
        parts = children(demo.proc.pid)
        assert len(parts) == 6
        assert all(alive(p) for p in parts)
        assert any(f"http://127.0.0.1:{gateway}/graphql" in line for line in demo.lines)

        token = issue_token("de-msa", data / "gateway", f"http://127.0.0.1:{gateway}/auth")
        headers = {"authorization": f"Bearer {token}"}
        found = {}
        for registry, country in (("cn-heis", "CN"), ("eu-dpp", ("DE", "FR"))):
            answer = httpx.post(
                f"http://127.0.0.1:{gateway}/graphql",
                json={"query": QUERY, "variables": {"registry": registry}},
                headers=headers,
                timeout=30,
            ).json()
            assert "errors" not in answer, answer
            page = answer["data"]["robots"]
            assert page["totalCount"] == (45 if registry == "cn-heis" else 6)
            for edge in page["edges"]:
                assert edge["node"]["identity"]["homeRegistry"] == registry
                assert edge["node"]["code"].startswith(country)
            found[registry] = page["edges"][0]["node"]["code"]
        # The node behind the gateway holds what the gateway served, by code.
        one = httpx.post(
            f"http://127.0.0.1:{gateway}/graphql",
            json={"query": f'{{ robot(code: "{found["eu-dpp"]}") {{ code }} }}'},
            headers=headers,
            timeout=30,
        ).json()
        assert one["data"]["robot"]["code"] == found["eu-dpp"]
        assert_witnessed(gateway, headers, found["cn-heis"], {"cn": cn_witness, "eu": eu_witness})

        # The fleet owner's robots, one query over both registries (the demo leases it EU robots).
        owner = issue_token("fleet-owner", data / "gateway", f"http://127.0.0.1:{gateway}/auth")
        fleet = httpx.post(
            f"http://127.0.0.1:{gateway}/graphql",
            json={"query": FLEET},
            headers={"authorization": f"Bearer {owner}"},
            timeout=30,
        ).json()
        assert "errors" not in fleet, fleet
        homes = [e["node"]["identity"]["homeRegistry"] for e in fleet["data"]["robots"]["edges"]]
        assert homes.count("eu-dpp") == 3
        assert_demo_recall(gateway, headers, demo.lines, data / "node-cn-heis.db")

        demo.proc.send_signal(stop_with)
        assert demo.proc.wait(timeout=60) == 0
    finally:
        demo.stop()
    assert not [p for p in parts if alive(p)]
    for port in ports:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)


def assert_demo_recall(gateway: int, headers: dict, lines: list[str], cn_db: Path) -> None:
    """The demo's recall went out through the nodes (the gateway keeps none) and reached
    Chinese robots held abroad; the German authority counts Germany's only.

    With this test's 45 Chinese robots the maker chosen has one held in France and
    none in Germany (the default 1,000 reach both: the README test checks the German
    authority's view of them); so Germany's count is compared with the node's rows.
    """
    with closing(sqlite3.connect(cn_db)) as db:
        held = dict(
            db.execute(
                "SELECT country, SUM(robots) FROM campaign_country_counts"
                " WHERE campaign_id = 'CN-DEMO-RECALL-2026-001' GROUP BY country"
            ).fetchall()
        )
    assert {"DE", "FR"} & set(held), f"the recall reached no robot held in DE or FR: {held}"
    (said,) = [line for line in lines if "demo recall" in line]
    assert "issued through both nodes" in said, said
    reached = int(said.split(": ")[1].split()[0])
    query = """{ campaign(id: "CN-DEMO-RECALL-2026-001") { progress { reached done }
      counts { totals { affected } byCountry { country counts { affected } } } } }"""
    answer = httpx.post(
        f"http://127.0.0.1:{gateway}/graphql", json={"query": query}, headers=headers, timeout=30
    ).json()
    assert "errors" not in answer, answer
    campaign = answer["data"]["campaign"]
    assert campaign["progress"] == {"reached": reached, "done": True} and reached > 0
    german = campaign["counts"]["byCountry"]
    assert [c["country"] for c in german] in ([], ["DE"]), "Germany's row only"
    assert campaign["counts"]["totals"]["affected"] == sum(c["counts"]["affected"] for c in german)
    assert campaign["counts"]["totals"]["affected"] == held.get("DE", 0)
    assert sum(held.values()) == reached, "every robot reached is on the Chinese node"


def assert_witnessed(gateway: int, headers: dict, cn_code: str, witnesses: dict) -> None:
    """Each node's log is checked by the gateway, cosigned by the other jurisdiction's witness."""
    url = f"http://127.0.0.1:{gateway}/graphql"
    answer = httpx.post(
        url, json={"query": f'{{ robot(code: "{cn_code}") {{ code }} }}'}, headers=headers
    ).json()
    assert answer["data"]["robot"]["code"] == cn_code, answer  # refused without a cosignature
    query = "{ registries { id untrusted checkpoint } }"
    statuses = httpx.post(url, json={"query": query}, headers=headers).json()["data"]
    for status in statuses["registries"]:
        assert status["untrusted"] is None and status["checkpoint"] > 0, status
    followed = {
        jurisdiction: httpx.get(f"http://127.0.0.1:{port}/logs", timeout=10).json()["logs"]
        for jurisdiction, port in witnesses.items()
    }
    assert list(followed["eu"]) == ["robopass.registry/cn-heis/events"]
    assert list(followed["cn"]) == ["robopass.registry/eu-dpp/events"]
    assert all(size > 0 for logs in followed.values() for size in logs.values()), followed


def test_generated_configuration_is_one_the_gateway_accepts(tmp_path: Path) -> None:
    config = tmp_path / "federation.toml"
    keys = make_keys(tmp_path / "demo")
    config.write_text(federation_toml("127.0.0.1", Ports(8000, 9000, 8101, 8102, 8103, 8104), keys))
    env = {secret_env("cn-heis"): "x", secret_env("eu-dpp"): "x"}
    cn, eu = load_federation(config, env)
    assert (cn.id, cn.format, cn.base_url, cn.countries) == (
        "cn-heis",
        "cn-miit",
        "http://127.0.0.1:8101",
        ("CN",),
    )
    assert (eu.id, eu.format, eu.countries) == ("eu-dpp", "aas", ("DE", "FR"))
    assert cn.credentials.token_url == "http://127.0.0.1:9000/token"
    assert cn.log_key is not None and cn.log_key.name == "robopass.registry/cn-heis/events"
    assert [w.name for w in cn.witnesses] == ["robopass.witness/demo-eu"]
    assert [w.name for w in eu.witnesses] == ["robopass.witness/demo-cn"]
    assert make_keys(tmp_path / "demo") == keys, "a second start keeps the keys"
    assert "secret" not in config.read_text().replace("client_secret_env", "")


def ports_of(*argv: str) -> Ports:
    from gateway.cli.main import build_parser

    args = build_parser().parse_args(["demo", *argv])
    assert isinstance(args, argparse.Namespace)
    return Ports.from_args(args)


def test_ports_default_documented_base_and_explicit(monkeypatch) -> None:
    monkeypatch.delenv("ROBOPASS_DEMO_BASE_PORT", raising=False)
    assert ports_of() == Ports(
        gateway=8000, auth=9000, cn=8101, eu=8102, cn_witness=8103, eu_witness=8104
    )
    assert ports_of("--base-port", "7000") == Ports(7000, 7001, 7002, 7003, 7004, 7005)
    assert ports_of("--base-port", "7000", "--eu-port", "7100").eu == 7100
    assert ports_of("--eu-witness-port", "7200").eu_witness == 7200
    with pytest.raises(SystemExit, match="six ports"):
        ports_of("--gateway-port", "8101")


@pytest.mark.process
def test_demo_refuses_a_busy_port_before_starting_anything(tmp_path: Path) -> None:
    """A port already taken: one line naming it and the option, exit 1, no part started.

    (It used to start every part and report the one that could not bind.)
    """
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        argv = [sys.executable, "-m", "gateway.cli", "demo", "--data-dir", str(tmp_path / "d")]
        argv += ["--auth-port", str(busy), "--gateway-port", str(free_port())]
        argv += ["--cn-port", str(free_port()), "--eu-port", str(free_port())]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and run.stdout == ""
    assert f"127.0.0.1:{busy}: the port is in use" in run.stderr
    assert "--auth-port" in run.stderr and "Traceback" not in run.stderr
    assert not os.path.exists(tmp_path / "d" / "logs")
