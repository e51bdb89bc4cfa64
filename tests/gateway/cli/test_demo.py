"""`robopass demo` as a user runs it: four real processes, queried, then stopped by a signal."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gateway.cli.demo import Ports, federation_toml, secret_env
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
    ports = [free_port() for _ in range(4)]
    assert len(set(ports)) == 4
    gateway, auth, cn, eu = ports
    data = tmp_path / "demo"
    argv = [sys.executable, "-m", "gateway.cli", "demo", "--data-dir", str(data)]
    argv += ["--gateway-port", str(gateway), "--auth-port", str(auth)]
    argv += ["--cn-port", str(cn), "--eu-port", str(eu), "--cn-robots", "12", "--eu-robots", "6"]
    demo = Server(argv)
    try:
        demo.wait_for("Press Ctrl-C to stop", timeout=120)
        parts = children(demo.proc.pid)
        assert len(parts) == 4
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
            assert page["totalCount"] == (12 if registry == "cn-heis" else 6)
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

        demo.proc.send_signal(stop_with)
        assert demo.proc.wait(timeout=60) == 0
    finally:
        demo.stop()
    assert not [p for p in parts if alive(p)]
    for port in ports:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)


def test_generated_configuration_is_one_the_gateway_accepts(tmp_path: Path) -> None:
    config = tmp_path / "federation.toml"
    config.write_text(federation_toml("127.0.0.1", Ports(8000, 9000, 8101, 8102)))
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
    assert "secret" not in config.read_text().replace("client_secret_env", "")


def ports_of(*argv: str) -> Ports:
    from gateway.cli.main import build_parser

    args = build_parser().parse_args(["demo", *argv])
    assert isinstance(args, argparse.Namespace)
    return Ports.from_args(args)


def test_ports_default_documented_base_and_explicit(monkeypatch) -> None:
    monkeypatch.delenv("ROBOPASS_DEMO_BASE_PORT", raising=False)
    assert ports_of() == Ports(gateway=8000, auth=9000, cn=8101, eu=8102)
    assert ports_of("--base-port", "7000") == Ports(7000, 7001, 7002, 7003)
    assert ports_of("--base-port", "7000", "--eu-port", "7100").eu == 7100
    with pytest.raises(SystemExit, match="four ports"):
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
