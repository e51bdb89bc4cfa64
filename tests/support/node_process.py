"""`robopass registry serve` as real processes: the arguments of a node, and a
service token its issuer signs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from policies.authserver import load_clients
from tests.support.ports import free_port
from tests.support.processes import Server

SERVICE = "robopass-gateway"


@contextmanager
def running_robopass(*args: str) -> Iterator[tuple[str, Server]]:
    """`robopass ARGS --port P` until uvicorn says it runs; yields (base URL, server)."""
    port = free_port()
    server = Server([sys.executable, "-m", "gateway.cli", *args, "--port", str(port)])
    try:
        server.wait_for("Uvicorn running on", timeout=120)
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.stop()


def service_token(issuer: str, client: str = SERVICE) -> str:
    secret = load_clients()[client].client_secret
    response = httpx.post(
        f"{issuer}/token", data={"grant_type": "client_credentials"}, auth=(client, secret)
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def node_args(issuer: str, data_dir: Path, *args: str) -> list[str]:
    return ["registry", "serve", *args, "--trust-issuer", issuer, "--data-dir", str(data_dir)]
