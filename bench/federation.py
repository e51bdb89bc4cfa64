"""Benchmark: one robot lookup through robopass, generic federation gateways and directly.

All in one run on this machine, over the same two registry nodes (a CN node in
cn-miit, an EU node in AAS, real `robopass registry serve` processes):

- `robopass`: `robopass serve --config` with the demo policies, a caller's token
  verified and the audit log written, over HTTP;
- `direct`: the CN node's REST `GET /robots/{code}` (the floor: one hop, no GraphQL);
- `apollo`: `@apollo/gateway` on Apollo Server over the supergraph composed from
  both nodes' subgraphs (`/graphql`, `_service { sdl }`);
- `hive`: Hive Gateway's runtime over the same supergraph.

The Node gateways are installed from bench/gateways (package.json + lock) with
`npm ci` on first use. Each target is measured in alternating rounds, so noise
from other tenants falls on all alike; figures are the best round's requests/s
with its p50 and p99, and CPU per request of the gateway's process and of the
node's, summed over all rounds. Usage: `python -m bench.federation`
(`--seconds` per round, `--rounds`, `--connections`, `--robots`: how many
distinct robots the gateways are asked for in turn, so that no cache of one
answer decides the result).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.harness import Served, free_port, load
from bench.run import QUERY

ROOT = Path(__file__).parents[1]
GATEWAYS = ROOT / "bench" / "gateways"
SERVICE_CLIENT = "robopass-gateway"
SECRET_ENV = "ROBOPASS_BENCH_SECRET"


@contextmanager
def running(
    name: str, argv: list[str], ready: str, env: dict | None = None, *, any_answer: bool = False
) -> Iterator[Served]:
    """A server process, up once `ready` answers 200 (with `any_answer`, any HTTP answer
    below 500); its output goes to a temporary log."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    status = httpx.get(ready, timeout=1).status_code
                    if status == 200 or (any_answer and status < 500):
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    tail = log.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"{name} did not start:\n{tail}")
                time.sleep(0.2)
            yield Served(int(ready.split(":")[2].split("/")[0]), proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def robopass(*args: str) -> list[str]:
    return [sys.executable, "-m", "gateway.cli", *args]


def node_gateways() -> str:
    """Node.js, with the pinned gateways installed (`npm ci` when missing)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise SystemExit("bench.federation needs Node.js and npm for the generic gateways")
    if not (GATEWAYS / "node_modules" / "@graphql-hive" / "gateway").is_dir():
        print("installing the Node gateways (npm ci in bench/gateways)...", flush=True)
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(GATEWAYS)],
            check=True,
            capture_output=True,
        )
    return node


def federation_toml(auth: int, cn: int, eu: int) -> str:
    blocks = []
    for registry, fmt, port, countries in (
        ("cn-heis", "cn-miit", cn, '["CN"]'),
        ("eu-dpp", "aas", eu, '["DE", "FR"]'),
    ):
        blocks.append(
            f'[[registries]]\nid = "{registry}"\nformat = "{fmt}"\n'
            f'base_url = "http://127.0.0.1:{port}"\ncountries = {countries}\n'
            f"timeout = 5.0\n\n[registries.credentials]\n"
            f'token_url = "http://127.0.0.1:{auth}/token"\nclient_id = "{SERVICE_CLIENT}"\n'
            f'client_secret_env = "{SECRET_ENV}"\n'
        )
    return "\n".join(blocks)


def service_token(auth: int, secret: str) -> str:
    response = httpx.post(
        f"http://127.0.0.1:{auth}/token",
        data={"grant_type": "client_credentials"},
        auth=(SERVICE_CLIENT, secret),
    )
    response.raise_for_status()
    return response.json()["access_token"]


def supergraph(node: str, nodes: list[tuple[str, int]], token: str, path: Path) -> None:
    """Compose the nodes' subgraphs (SDLs fetched as a composer does) into `path`."""
    subgraphs = []
    for name, port in nodes:
        url = f"http://127.0.0.1:{port}/graphql"
        answer = httpx.post(
            url,
            json={"query": "{ _service { sdl } }"},
            headers={"authorization": f"Bearer {token}"},
        ).json()
        subgraphs.append({"name": name, "url": url, "sdl": answer["data"]["_service"]["sdl"]})
    done = subprocess.run(
        [node, str(GATEWAYS / "supergraph.mjs")],
        input=json.dumps(subgraphs),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"composition failed: {done.stderr}")
    path.write_text(done.stdout)


@dataclass(slots=True)
class Target:
    name: str
    served: Served
    path: str
    body: bytes
    headers: list[str]
    node: Served
    rounds: list[dict]
    bodies: Path | None = None
    """Many robots' requests, one a line, sent in turn instead of `body`."""
    cpu: float = 0.0
    node_cpu: float = 0.0
    supergraph: str = ""

    def ask(self) -> httpx.Response:
        url = f"http://127.0.0.1:{self.served.port}{self.path}"
        headers = dict(h.split(": ", 1) for h in self.headers)
        if self.body:
            headers["content-type"] = "application/json"
            return httpx.post(url, content=self.body, headers=headers, timeout=30)
        return httpx.get(url, headers=headers, timeout=30)

    def measure(self, seconds: float, connections: int) -> None:
        cpu, node_cpu = self.served.cpu_seconds(), self.node.cpu_seconds()
        result = load(
            self.served.port,
            self.body,
            connections=connections,
            seconds=seconds,
            headers=self.headers,
            path=self.path,
            bodies=self.bodies,
        )
        self.cpu += self.served.cpu_seconds() - cpu
        self.node_cpu += self.node.cpu_seconds() - node_cpu
        self.rounds.append(result)

    def best(self) -> dict:
        return max(self.rounds, key=lambda r: r["rps"])

    def requests(self) -> int:
        return sum(r["requests"] for r in self.rounds)


def first_code(port: int, token: str) -> str:
    return robot_codes(port, token, 1)[0]


def robot_codes(port: int, token: str, count: int) -> list[str]:
    """The first `count` codes a node lists (fewer if it has fewer)."""
    robots = httpx.get(
        f"http://127.0.0.1:{port}/robots?first={count}",
        headers={"authorization": f"Bearer {token}"},
    ).json()["robots"]
    return [r["code"] for r in robots]


def node_gateway(node: str, kind: str, graph: Path, port: int, env: dict) -> Any:
    """Apollo Gateway or Hive Gateway over the supergraph file `graph`."""
    script = str(GATEWAYS / f"{kind}.mjs")
    ready = "/" if kind == "apollo" else "/healthcheck"
    return running(
        kind,
        [node, script, str(graph), str(port)],
        f"http://127.0.0.1:{port}{ready}",
        env=env,
        any_answer=kind == "apollo",
    )


def routing(target: Target, code: str, eu_code: str) -> str:
    """Whether a gateway finds a CN and an EU robot by code: a generic planner sends a
    root field that several subgraphs share to one of them, whatever the code says."""
    url = f"http://127.0.0.1:{target.served.port}{target.path}"
    headers = dict(h.split(": ", 1) for h in target.headers)
    found = []
    for label, which in (("CN", code), ("EU", eu_code)):
        answer = httpx.post(
            url, json={"query": QUERY, "variables": {"code": which}}, headers=headers, timeout=30
        ).json()
        ok = bool((answer.get("data") or {}).get("robot"))
        found.append(f"{label} robot: {'found' if ok else 'NOT FOUND'}")
    return f"{target.name}: " + ", ".join(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="per round and target")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--party", default="de-msa", help="the robopass caller's demo client")
    parser.add_argument(
        "--robots",
        type=int,
        default=100,
        help="distinct CN robots the gateways are asked for in turn (1: the same robot always)",
    )
    args = parser.parse_args()
    node = node_gateways()
    started = time.monotonic()

    from policies.authserver import issue_token, load_clients

    secret = load_clients()[SERVICE_CLIENT].client_secret
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        auth, cn_port, eu_port, gw_port, apollo_port, hive_port = (free_port() for _ in range(6))
        quiet = ["--log-level", "warning"]
        stack.enter_context(
            running(
                "auth server",
                robopass("auth-server", "--port", str(auth), "--data-dir", tmp, *quiet),
                f"http://127.0.0.1:{auth}/.well-known/oauth-authorization-server",
            )
        )
        issuer = ["--trust-issuer", f"http://127.0.0.1:{auth}", "--data-dir", tmp, *quiet]
        cn = stack.enter_context(
            running(
                "CN node",
                robopass(
                    "registry",
                    "serve",
                    "--format",
                    "cn-miit",
                    "--port",
                    str(cn_port),
                    "--robots",
                    "200",
                    *issuer,
                ),
                f"http://127.0.0.1:{cn_port}/readyz",
            )
        )
        stack.enter_context(
            running(
                "EU node",
                robopass(
                    "registry",
                    "serve",
                    "--format",
                    "aas",
                    "--port",
                    str(eu_port),
                    "--robots",
                    "100",
                    *issuer,
                ),
                f"http://127.0.0.1:{eu_port}/readyz",
            )
        )
        config = work / "federation.toml"
        config.write_text(federation_toml(auth, cn_port, eu_port))
        gateway = stack.enter_context(
            running(
                "robopass gateway",
                robopass(
                    "serve",
                    "--config",
                    str(config),
                    "--port",
                    str(gw_port),
                    "--data-dir",
                    str(work / "gateway"),
                    *quiet,
                ),
                f"http://127.0.0.1:{gw_port}/readyz",
                env={SECRET_ENV: secret},
            )
        )
        token = service_token(auth, secret)
        both = work / "supergraph.graphql"
        supergraph(node, [("cn_heis", cn_port), ("eu_dpp", eu_port)], token, both)
        service = [f"Authorization: Bearer {token}"]
        code = first_code(cn_port, token)
        eu_code = first_code(eu_port, token)
        party = issue_token(args.party, work / "gateway", f"http://127.0.0.1:{gw_port}/auth")
        body = json.dumps({"query": QUERY, "variables": {"code": code}}).encode()
        many: Path | None = None
        if args.robots > 1:
            many = work / "bodies.ndjson"
            many.write_text(
                "".join(
                    json.dumps({"query": QUERY, "variables": {"code": c}}) + "\n"
                    for c in robot_codes(cn_port, token, args.robots)
                )
            )
        robopass_target = Target(
            "robopass", gateway, "/graphql", body, [f"Authorization: Bearer {party}"], cn, [], many
        )
        print(
            f"routing by code, both registries composed: {routing(robopass_target, code, eu_code)}"
        )
        cn_only = work / "supergraph-cn.graphql"
        supergraph(node, [("cn_heis", cn_port)], token, cn_only)
        node_env = {"SUBGRAPH_TOKEN": token, "NODE_ENV": "production"}
        targets = [Target("direct", cn, f"/robots/{code}", b"", service, cn, []), robopass_target]
        for kind, port, path in (("apollo", apollo_port, "/"), ("hive", hive_port, "/graphql")):
            target = Target(kind, Served(0, 0), path, body, [], cn, [], many)
            for graph in (both, cn_only):
                instance = ExitStack()
                target.served = instance.enter_context(
                    node_gateway(node, kind, graph, port, node_env)
                )
                found = routing(target, code, eu_code)
                if graph is both:
                    print(f"routing by code, both registries composed: {found}")
                if "CN robot: found" in found:
                    stack.enter_context(instance)
                    target.supergraph = "CN and EU" if graph is both else "CN only"
                    break
                instance.close()
            targets.append(target)
        report_answers(targets, code)
        for target in targets:  # warm up: caches, JIT, connection pools
            target.measure(1.0, args.connections)
            target.rounds.clear()
            target.cpu = target.node_cpu = 0.0
        for _ in range(args.rounds):
            for target in targets:
                target.measure(args.seconds, args.connections)
        load_average = os.getloadavg()
    print_report(targets, args, load_average, time.monotonic() - started, len(body))


def report_answers(targets: list[Target], code: str) -> None:
    """Each target must answer the robot; the GraphQL answers must agree field for field."""
    answers = {}
    for target in targets:
        response = target.ask()
        if response.status_code != 200:
            raise RuntimeError(f"{target.name}: HTTP {response.status_code}: {response.text[:500]}")
        body = response.json()
        if target.name != "direct":
            if body.get("errors") or not (body.get("data") or {}).get("robot"):
                raise RuntimeError(f"{target.name} did not answer robot {code}: {body}")
            answers[target.name] = body["data"]["robot"]
    for name, answer in answers.items():
        differ = sorted(differences(answers["robopass"], answer))
        if differ:
            print(f"robot {code}: robopass and {name} answer differently at {', '.join(differ)}")
    if all(a == answers["robopass"] for a in answers.values()):
        print(f"robot {code}: the GraphQL answers are identical across gateways")


def differences(a: Any, b: Any, path: str = "") -> Iterator[str]:
    """The paths where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a.keys() | b.keys():
            yield from differences(a.get(key), b.get(key), f"{path}.{key}".lstrip("."))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from differences(x, y, f"{path}[{i}]")
    elif a != b:
        yield f"{path} ({a!r} vs {b!r})"


def print_report(
    targets: list[Target],
    args: argparse.Namespace,
    load_average: tuple[float, float, float],
    elapsed: float,
    body_size: int,
) -> None:
    direct = targets[0].best()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python"
        f" {platform.python_version()}, Node {subprocess.getoutput('node --version')},"
        f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average"
        f" {' '.join(f'{x:.2f}' for x in load_average)}"
    )
    print(
        f"{args.rounds} rounds x {args.seconds:g} s per target, {args.connections} connections,"
        f" query {body_size} bytes; run took {elapsed:.0f} s"
    )
    if args.robots > 1:
        print(f"the gateways asked for {args.robots} distinct CN robots in turn; direct for one")
    header = f"{'target':<34}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'/direct':>9}"
    print(header + f"{'gw CPU ms/req':>15}{'node CPU ms/req':>17}")
    labels = {
        "direct": "direct: CN node REST GET",
        "robopass": "robopass serve --config (policies)",
        "apollo": "@apollo/gateway",
        "hive": "Hive Gateway",
    }
    for target in targets:
        if target.supergraph:
            labels[target.name] += f" ({target.supergraph})"
    for target in targets:
        best, n = target.best(), target.requests()
        errors = sum(r["errors"] for r in target.rounds)
        gw_cpu = "" if target.name == "direct" else f"{1000 * target.cpu / n:.2f}"
        print(
            f"{labels[target.name]:<34}{best['rps']:>8}{best['p50_ms']:>8}{best['p99_ms']:>8}"
            f"{best['rps'] / direct['rps']:>9.3f}{gw_cpu:>15}{1000 * target.node_cpu / n:>17.2f}"
            + (f"  ({errors} errors)" if errors else "")
        )
    by = {t.name: t.best()["rps"] for t in targets}
    print(f"ratio robopass / hive: {by['robopass'] / by['hive']:.3f}")
    print(f"ratio robopass / apollo: {by['robopass'] / by['apollo']:.3f}")


if __name__ == "__main__":
    main()
