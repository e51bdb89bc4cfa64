"""`robopass demo`: a whole federation on loopback, one process per part.

The development authorization server, a Chinese registry node (cn-miit), an EU
node (AAS, German and French robots), a transparency-log witness per
jurisdiction and the gateway over both nodes, each started as `robopass ...` in
its own process and port, as they would run in production. Each node's
checkpoints are cosigned by the witness run for the other jurisdiction, and the
gateway requires that cosignature (docs/transparency.md): the demo generates
the log and witness keys before starting anything, so the configuration can
name them. The command waits for each to answer /readyz, prints what runs
where, and stops every part on Ctrl-C or SIGTERM. A part outlives a killed demo
by at most the moment it takes the kernel to signal it (Linux: the parent-death
signal), so no part is left serving alone.

Over 500 lines because it is one command's whole run: ports, keys, the
generated configuration, six child processes, their readiness and shutdown.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

import httpx

from gateway.cli.arguments import count
from gateway.cli.defaults import configured, given
from gateway.cli.listen import check_free
from gateway.config.paths import default_data_dir
from gateway.config.settings import default_of
from gateway.credentials.logkey import (
    WITNESS_KEY_FILE,
    KeyNameMismatch,
    event_log_origin,
    load_or_create,
    log_key_file,
)
from gateway.store.errors import StoreError

DEFAULT_PORTS = {
    "gateway": 8000,
    "auth": 9000,
    "cn": 8101,
    "eu": 8102,
    "cn_witness": 8103,
    "eu_witness": 8104,
}
GATEWAY_CLIENT = "robopass-gateway"
CN_REGISTRY, EU_REGISTRY = "cn-heis", "eu-dpp"
READY_TIMEOUT = 180.0
NODES = (3, 4)
"""Where the CN and EU nodes are in `plan`'s list: after the auth server and witnesses."""
LEASED = 3
LEASE_AT = "2026-11-01T00:00:00Z"


@dataclass(frozen=True, slots=True)
class Ports:
    gateway: int
    auth: int
    cn: int
    eu: int
    cn_witness: int
    """The witness run for China: it cosigns the EU node's checkpoints."""
    eu_witness: int
    """The witness run for the EU: it cosigns the CN node's checkpoints."""

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Ports:
        """Each port as given; otherwise `--base-port` + 0..5, otherwise the documented default."""
        base = args.base_port
        chosen = {}
        for offset, name in enumerate(DEFAULT_PORTS):
            given = getattr(args, f"{name}_port")
            chosen[name] = given or (base + offset if base else DEFAULT_PORTS[name])
        if len(set(chosen.values())) != len(chosen):
            raise SystemExit(f"robopass demo: the six parts need six ports, got {chosen}")
        return cls(**chosen)


WITNESS_FOR = {CN_REGISTRY: "eu", EU_REGISTRY: "cn"}
"""The jurisdiction whose witness cosigns each registry's log."""


@dataclass(frozen=True, slots=True)
class Keys:
    """The verifier keys of each registry's log and of the witness that cosigns it."""

    logs: dict[str, str]
    witnesses: dict[str, str]
    """By the registry whose log the witness cosigns."""


def witness_name(jurisdiction: str) -> str:
    return f"robopass.witness/demo-{jurisdiction}"


def witness_dir(data_dir: Path, jurisdiction: str) -> Path:
    return data_dir / f"witness-{jurisdiction}"


def make_keys(data_dir: Path) -> Keys:
    """Each node's log key and each witness's key, created in the folders the parts read
    them from (or read there, on a later start)."""
    logs, witnesses = {}, {}
    for registry, jurisdiction in WITNESS_FOR.items():
        log = load_or_create(data_dir / log_key_file(registry), event_log_origin(registry))
        folder = witness_dir(data_dir, jurisdiction)
        witness = load_or_create(
            folder / WITNESS_KEY_FILE, witness_name(jurisdiction), witness=True
        )
        logs[registry], witnesses[registry] = log.verifier.vkey(), witness.verifier.vkey()
    return Keys(logs, witnesses)


@dataclass(slots=True)
class Part:
    """One child process, its log file and the URL that says it is ready."""

    name: str
    argv: list[str]
    ready_url: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    log: IO[bytes] | None = None

    def start(self) -> None:
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def ready(self) -> bool:
        try:
            return httpx.get(self.ready_url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.log is not None:
            self.log.close()

    def tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text("utf-8", errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux for SIGTERM when the demo dies, however it dies."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Stopped(Exception):
    """SIGINT or SIGTERM arrived: stop every part."""


def _on_signal(signum: int, frame: object) -> None:
    raise Stopped(signal.Signals(signum).name)


def robopass_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "gateway.cli", *args]


def federation_toml(host: str, ports: Ports, keys: Keys | None = None) -> str:
    """The gateway's configuration: both nodes, a service token from the auth server, and
    with `keys` each node's log key and the witness whose cosignature it requires."""
    token_url = f"http://{host}:{ports.auth}/token"
    entries = []
    for registry, fmt, port, countries in (
        (CN_REGISTRY, "cn-miit", ports.cn, ["CN"]),
        (EU_REGISTRY, "aas", ports.eu, ["DE", "FR"]),
    ):
        listed = ", ".join(f'"{c}"' for c in countries)
        logged = ""
        if keys is not None:
            logged = (
                f'log_key = "{keys.logs[registry]}"\nwitnesses = ["{keys.witnesses[registry]}"]\n'
            )
        entries.append(
            f"""[[registries]]
id = "{registry}"
format = "{fmt}"
base_url = "http://{host}:{port}"
countries = [{listed}]
jurisdictions = [{listed}]
timeout = 5.0
{logged}
[registries.credentials]
token_url = "{token_url}"
client_id = "{GATEWAY_CLIENT}"
client_secret_env = "{secret_env(registry)}"
"""
        )
    return "# Written by `robopass demo`; rewritten on every start.\n\n" + "\n".join(entries)


def secret_env(registry: str) -> str:
    return f"ROBOPASS_{registry.upper().replace('-', '_')}_SECRET"


def gateway_secret() -> str:
    from policies.authserver import load_clients

    return load_clients()[GATEWAY_CLIENT].client_secret


def plan(args: argparse.Namespace, ports: Ports, data_dir: Path) -> list[Part]:
    """The six parts in start order (auth server and witnesses, nodes, gateway)."""
    host, logs = args.host, data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (data_dir / "gateway").mkdir(exist_ok=True)
    issuer = f"http://{host}:{ports.auth}"
    level = ["--log-level", args.log_level]
    config = data_dir / "federation.toml"
    try:
        keys = make_keys(data_dir)
    except KeyNameMismatch as exc:
        raise SystemExit(f"robopass demo: --data-dir: {exc}") from None
    config.write_text(federation_toml(host, ports, keys), encoding="utf-8")
    secret = gateway_secret()
    witness_port = {"cn": ports.cn_witness, "eu": ports.eu_witness}

    def witness(jurisdiction: str, follows: str) -> Part:
        port = witness_port[jurisdiction]
        argv = robopass_argv(
            "witness",
            "serve",
            "--log",
            keys.logs[follows],
            "--name",
            witness_name(jurisdiction),
            "--host",
            host,
            "--port",
            str(port),
            "--data-dir",
            str(witness_dir(data_dir, jurisdiction)),
            *level,
        )
        return Part(
            f"{jurisdiction.upper()} witness (cosigns {follows})",
            argv,
            f"http://{host}:{port}/key",
            logs / f"witness-{jurisdiction}.log",
        )

    def node(registry: str, fmt: str, port: int, robots: int, countries: Sequence[str]) -> Part:
        cosigner = witness_port[WITNESS_FOR[registry]]
        argv = robopass_argv(
            "registry",
            "serve",
            "--format",
            fmt,
            "--registry",
            registry,
            "--host",
            host,
            "--port",
            str(port),
            "--robots",
            str(robots),
            "--trust-issuer",
            issuer,
            "--data-dir",
            str(data_dir),
            *(a for c in countries for a in ("--country", c)),
            "--witness",
            f"http://{host}:{cosigner}/add-checkpoint",
            *level,
        )
        return Part(
            f"{registry} node ({fmt}, {robots} robots of {', '.join(countries)})",
            argv,
            f"http://{host}:{port}/readyz",
            logs / f"{registry}.log",
        )

    return [
        Part(
            "authorization server",
            robopass_argv(
                "auth-server",
                "--host",
                host,
                "--port",
                str(ports.auth),
                "--data-dir",
                str(data_dir / "auth"),
                *level,
            ),
            f"{issuer}/.well-known/oauth-authorization-server",
            logs / "auth-server.log",
        ),
        witness("eu", CN_REGISTRY),
        witness("cn", EU_REGISTRY),
        node(CN_REGISTRY, "cn-miit", ports.cn, args.cn_robots, ["CN"]),
        node(EU_REGISTRY, "aas", ports.eu, args.eu_robots, ["DE", "FR"]),
        Part(
            "gateway",
            robopass_argv(
                "serve",
                "--config",
                str(config),
                "--host",
                host,
                "--port",
                str(ports.gateway),
                "--data-dir",
                str(data_dir / "gateway"),
                *level,
            ),
            f"http://{host}:{ports.gateway}/readyz",
            logs / "gateway.log",
            env={secret_env(CN_REGISTRY): secret, secret_env(EU_REGISTRY): secret},
        ),
    ]


def service_token(host: str, ports: Ports) -> str:
    """The gateway's service token from the demo's authorization server."""
    return str(
        httpx.post(
            f"http://{host}:{ports.auth}/token",
            data={"grant_type": "client_credentials"},
            auth=(GATEWAY_CLIENT, gateway_secret()),
            timeout=10,
        ).json()["access_token"]
    )


def demo_recall(host: str, ports: Ports, data_dir: Path) -> str:
    """Issue the demo recall through both nodes; a line saying what it reached."""
    from gateway.cli.demo_recall import issue_demo_recall

    nodes = {CN_REGISTRY: f"http://{host}:{ports.cn}", EU_REGISTRY: f"http://{host}:{ports.eu}"}
    home_db = data_dir / f"node-{CN_REGISTRY}.db"
    issued = issue_demo_recall(nodes, CN_REGISTRY, home_db, service_token(host, ports))
    if issued is None:
        return "  no demo recall: no Chinese robot is held in DE or FR"
    campaign, reached = issued
    return f"  demo recall {campaign.id} issued through both nodes: {reached} robots reached"


def lease_eu_robots(host: str, ports: Ports, count: int = LEASED) -> tuple[str, list[str]]:
    """Lease the EU node's first robots to the fleet owner's organisation, once.

    The lease names the fleet owner by its party identifier (`organisation_id`
    of the demo client), the only thing its token is matched on.

    The synthetic fleet owner leases only Chinese robots; a few German ones make
    its fleet span both registries. Written through the node's REST API with the
    gateway's service token and an idempotency key per robot, so a second start
    of the demo replays the same events instead of adding more.
    """
    from policies.authserver import load_clients

    client = load_clients()["fleet-owner"]
    owner = client.organisation
    token = service_token(host, ports)
    headers = {"authorization": f"Bearer {token}"}
    node = f"http://{host}:{ports.eu}"
    robots = httpx.get(f"{node}/robots?first={count}", headers=headers, timeout=10).json()
    leased = []
    for robot in robots["robots"]:
        code = robot["code"]
        payload = {
            "at": LEASE_AT,
            "owner": owner,
            "owner_kind": "ORGANISATION",
            "jurisdiction": "DE",
            "owner_id": client.organisation_id,
        }
        answer = httpx.post(
            f"{node}/robots/{code}/events",
            json={"type": "OWNERSHIP_TRANSFERRED", "at": LEASE_AT, "payload": payload},
            headers={**headers, "idempotency-key": f"demo-lease-{code}"},
            timeout=10,
        )
        if answer.status_code in (200, 201):
            leased.append(code)
    return owner, leased


def wait_ready(parts: Sequence[Part], timeout: float, say: Callable[[str], None] = print) -> None:
    """Poll each part's readiness URL until all answer; a part that exits is fatal."""
    deadline = time.monotonic() + timeout
    waiting = list(parts)
    started = time.monotonic()
    while waiting:
        for part in list(waiting):
            code = part.exited()
            if code is not None:
                raise RuntimeError(
                    f"{part.name} exited with status {code}; its log ({part.log_path}):\n"
                    + part.tail()
                )
            if part.ready():
                waiting.remove(part)
                say(f"  ready: {part.name} ({time.monotonic() - started:.1f} s)")
        if waiting and time.monotonic() > deadline:
            names = ", ".join(p.name for p in waiting)
            raise RuntimeError(f"not ready after {timeout:.0f} s: {names}")
        if waiting:
            time.sleep(0.2)


def stop(parts: Sequence[Part], timeout: float = 10.0) -> None:
    """SIGTERM to every part, newest first, then wait for each (SIGKILL after `timeout`)."""
    for part in reversed(parts):
        part.terminate()
    for part in reversed(parts):
        part.wait(timeout)


def banner(host: str, ports: Ports, parts: Sequence[Part], data_dir: Path) -> str:
    gateway = f"http://{host}:{ports.gateway}"
    issuer = f"http://{host}:{ports.auth}"
    rows = [
        ("gateway: GraphQL and console", f"{gateway}/graphql"),
        ("gateway: history report", f"{gateway}/"),
        ("authorization server", issuer),
        (parts[NODES[0]].name, f"http://{host}:{ports.cn}/robots"),
        (parts[NODES[1]].name, f"http://{host}:{ports.eu}/robots"),
        (parts[1].name, f"http://{host}:{ports.eu_witness}/logs"),
        (parts[2].name, f"http://{host}:{ports.cn_witness}/logs"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = ["", "robopass demo is running:"]
    lines += [f"  {name:<{width}}  {url}" for name, url in rows]
    lines += [
        f"  data, logs and configuration: {data_dir}",
        "",
        "Callers' tokens come from the gateway's development server at /auth; the nodes take",
        "service tokens from the authorization server above. A token for a demo party",
        "(de-msa, fleet-owner, standards-body, used-robot-buyer, us-insurer):",
        f"  TOKEN=$(robopass token de-msa --port {ports.gateway}"
        f" --data-dir {data_dir / 'gateway'})",
        "A Chinese robot's incidents, as the German market surveillance authority:",
        f'  curl -s {gateway}/graphql -H "authorization: Bearer $TOKEN"'
        " -H 'content-type: application/json' \\",
        '    -d \'{"query": "{ robots(first: 3, filter: {registry: \\"cn-heis\\"}) { edges'
        " { node { code incidents { at severity rootCause status } } } } }\"}'",
        "",
        "Press Ctrl-C to stop every part.",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    ports = Ports.from_args(args)
    for name, port in asdict(ports).items():
        option = "--gateway-port" if name == "gateway" else f"--{name.replace('_', '-')}-port"
        also = " (ROBOPASS_PORT)" if name == "gateway" else ""
        check_free(args.host, port, f"{option}{also} or --base-port N")
    data_dir = Path(args.data_dir).expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    parts = plan(args, ports, data_dir)
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    started: list[Part] = []
    try:
        print(f"robopass demo: starting {len(parts)} processes, data in {data_dir}", flush=True)
        nodes = parts[NODES[0] : NODES[1] + 1]
        for group in (parts[: NODES[0]], nodes, parts[NODES[1] + 1 :]):
            for part in group:
                print(f"  starting: {part.name}", flush=True)
                part.start()
                started.append(part)
            wait_ready(group, args.ready_timeout, lambda s: print(s, flush=True))
            if parts[NODES[1]] in group:
                try:
                    owner, leased = lease_eu_robots(args.host, ports)
                except (httpx.HTTPError, KeyError, ValueError) as exc:
                    print(f"  could not lease EU robots to the fleet owner: {exc!r}", flush=True)
                else:
                    print(f"  {len(leased)} EU robots leased to {owner} (the fleet-owner client)")
                try:
                    print(demo_recall(args.host, ports, data_dir), flush=True)
                except (httpx.HTTPError, KeyError, ValueError, StoreError) as exc:
                    print(f"  could not issue the demo recall: {exc!r}", flush=True)
        print(banner(args.host, ports, parts, data_dir), flush=True)
        while True:
            for part in started:
                if part.exited() is not None:
                    print(f"robopass demo: {part.name} stopped; its log:\n{part.tail()}")
                    return 1
            time.sleep(0.5)
    except Stopped as reason:
        print(f"\nrobopass demo: {reason}, stopping every part", flush=True)
        return 0
    except RuntimeError as exc:
        print(f"robopass demo: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        for s in previous:
            signal.signal(s, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
        stop(started)
        for s, handler in previous.items():
            signal.signal(s, handler)
        if started:
            print("robopass demo: all parts stopped", flush=True)


def register(sub: argparse._SubParsersAction) -> None:
    """Add `demo` to the `robopass` commands."""
    parser = sub.add_parser(
        "demo",
        help="run a federation on loopback: auth server, CN and EU nodes, witnesses, gateway",
    )
    parser.add_argument(
        "--host",
        default=None,
        help=f"address every part listens on (ROBOPASS_DEMO_HOST; default"
        f" {default_of('demo.host')})",
    )
    parser.add_argument(
        "--base-port",
        type=int,
        default=None,
        help="gateway on N, auth server N+1, CN node N+2, EU node N+3, CN witness N+4,"
        " EU witness N+5 (ROBOPASS_DEMO_BASE_PORT)",
    )
    for name, what in (
        ("gateway", "the gateway"),
        ("auth", "the authorization server"),
        ("cn", "the Chinese node"),
        ("eu", "the EU node"),
        ("cn_witness", "the witness run for China (cosigns the EU node's log)"),
        ("eu_witness", "the witness run for the EU (cosigns the CN node's log)"),
    ):
        parser.add_argument(
            f"--{name.replace('_', '-')}-port",
            type=int,
            default=None,
            help=f"port of {what} (default "
            + ("ROBOPASS_PORT, else " if name == "gateway" else "")
            + f"{DEFAULT_PORTS[name]})",
        )
    parser.add_argument("--cn-robots", type=count, default=1000, help="robots of the CN node")
    parser.add_argument("--eu-robots", type=count, default=200, help="robots of the EU node")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="databases, keys, logs and the generated configuration",
    )
    parser.add_argument("--log-level", default="warning", help="of every part")
    parser.add_argument("--ready-timeout", type=float, default=READY_TIMEOUT, help="seconds")
    parser.set_defaults(func=cmd_demo)


def with_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """The options as given, the rest from `demo.*` (ROBOPASS_DEMO_HOST, ..._BASE_PORT, ...).

    The gateway listens on `server.port` (ROBOPASS_PORT, default 8000) unless
    `--gateway-port` or a base port says otherwise: the README's examples send to
    `${ROBOPASS_PORT:-8000}` and `robopass token` mints for that port, so a reader who
    chose a port the documented way finds the demo's gateway there too.
    """
    settings = configured()
    demo = settings.demo
    folder = demo.data_dir or str(default_data_dir() / "demo")
    base_port = given(args.base_port, demo.base_port)
    chosen = {
        "host": given(args.host, demo.host),
        "base_port": base_port,
        "data_dir": given(args.data_dir, folder),
        "gateway_port": args.gateway_port or (None if base_port else settings.server.port),
    }
    return argparse.Namespace(**{**vars(args), **chosen})


def cmd_demo(args: argparse.Namespace) -> int:
    return run(with_defaults(args))
