"""Shared by the benchmarks: servers as child processes and the load generator around them.

Children run as modules from the repository root (`python -m bench.servers`),
as the benchmarks themselves do, so `bench/adapters.py` cannot shadow the
`adapters` package. A server can also run this `bench/servers.py` over the
packages of another checkout (`code=`), so one run compares two versions.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx

ROOT = Path(__file__).parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True, slots=True)
class Served:
    port: int
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used (Linux /proc).

        On a shared machine other tenants slow the wall clock of a
        measurement far more than they change the CPU a request costs.
        """
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_command(code: Path) -> list[str]:
    """How to start `bench/servers.py` of this checkout with the packages of `code`.

    From `code` as the working directory, whose packages come first on the path;
    the script is this checkout's, so both sides of a comparison serve alike.
    """
    if code == ROOT:
        return [sys.executable, "-m", "bench.servers"]
    script = str(ROOT / "bench" / "servers.py")
    return [sys.executable, "-c", f"import runpy; runpy.run_path({script!r}, run_name='__main__')"]


@contextmanager
def serving(mode: str, args: Sequence[str], code: Path = ROOT) -> Iterator[Served]:
    """`bench/servers.py MODE ARGS` on a free port, up until the block ends."""
    port = free_port()
    server = subprocess.Popen([*server_command(code), mode, "--port", str(port), *args], cwd=code)
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/graphql", timeout=0.5)
                break
            except httpx.HTTPError:
                if server.poll() is not None:
                    raise RuntimeError(f"{mode} server exited with {server.returncode}") from None
                time.sleep(0.1)
        yield Served(port, server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a graceful shutdown stuck on open subscriptions
            server.kill()
            server.wait()


def load(
    port: int,
    body: bytes,
    *,
    connections: int,
    seconds: float,
    headers: Sequence[str] = (),
    path: str = "/graphql",
    bodies: Path | None = None,
) -> dict:
    """One `bench/load.py` run in its own process: requests, errors, req/s, p50, p99.

    Headers travel in the environment, not the command line, where any local
    user could read a token in the process list.
    """
    argv = [sys.executable, "-m", "bench.load", "--port", str(port), "--body", body.decode()]
    argv += ["--path", path]
    argv += ["--connections", str(connections), "--seconds", str(seconds)]
    if bodies is not None:
        argv += ["--bodies", str(bodies)]
    env = {**os.environ, "LOAD_HEADERS": json.dumps(list(headers))}
    done = subprocess.run(argv, capture_output=True, text=True, check=True, env=env, cwd=ROOT)
    return json.loads(done.stdout)


def machine_and_load(load_before: Sequence[float]) -> str:
    """The two header lines of a side-by-side run: the machine, and the load average
    before and after it (a figure measured on a busy machine says so beside it)."""
    machine = (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, date {date.today()}"
    )
    before = ", ".join(f"{x:.2f}" for x in load_before)
    after = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{machine}\nload average (1, 5, 15 min) before {before}; after {after}"
