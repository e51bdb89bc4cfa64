"""`robopass token CLIENT`: an access token of a demo client, signed with the demo server's key.

The issuer is the gateway's own `/auth` at `server.host`/`server.port`
(ROBOPASS_HOST, ROBOPASS_PORT, or --host/--port), and the key is the one in the
data folder (ROBOPASS_DATA_DIR or --data-dir): the token matches what
`robopass serve` trusts only when both are those the server runs with, so
`serve` prints the exact command for its own port and folder.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from functools import cache
from importlib import resources
from pathlib import Path

from gateway.cli.defaults import configured, data_dir, given
from gateway.config.paths import default_data_dir
from gateway.config.settings import default_of

SERVICE_ROLE = "service_provider"  # a registry's caller, not a party of the demo


@cache
def demo_clients(services: bool = True) -> tuple[str, ...]:
    """The demo clients' ids, from the table the authorization server reads; without
    `services`, the parties only (not the federation's own service client)."""
    table = resources.files("policies").joinpath("demo", "clients.json").read_text("utf-8")
    clients = json.loads(table)["clients"]
    return tuple(c["client_id"] for c in clients if services or c["role"] != SERVICE_ROLE)


def register(sub: argparse._SubParsersAction) -> None:
    """Add `token` to the `robopass` commands."""
    token = sub.add_parser(
        "token",
        help="print an access token of a demo client",
        description="Print an RFC 9068 access token of a demo client of the development"
        " authorization server that `robopass serve` runs at /auth. Give the port and data"
        " folder the server runs with (the server's banner prints the command): a token"
        " minted for another port has an issuer the server does not trust.",
    )
    token.add_argument("client", help=f"the demo client: {', '.join(demo_clients())}")
    token.add_argument(
        "--host",
        default=None,
        help=f"the server's host, in the token's issuer (ROBOPASS_HOST; default"
        f" {default_of('server.host')})",
    )
    token.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"the port `robopass serve` runs on, in the token's issuer (ROBOPASS_PORT;"
        f" default {default_of('server.port')})",
    )
    token.add_argument(
        "--data-dir",
        default=None,
        help=f"the server's data folder, where the signing key is (ROBOPASS_DATA_DIR;"
        f" default {default_data_dir()})",
    )
    token.set_defaults(func=cmd_token)


def issuer_url(host: str, port: int) -> str:
    return f"http://{host}:{port}/auth"


def token_command(host: str, port: int, folder: str | None, client: str = "CLIENT") -> str:
    """The `robopass token` command line that mints a token a server with these settings trusts.

    Only what differs from the defaults is spelled, so the default setup reads
    `robopass token CLIENT`.
    """
    words = ["robopass", "token", client]
    if host != default_of("server.host"):
        words += ["--host", host]
    if port != default_of("server.port"):
        words += ["--port", str(port)]
    if folder is not None:
        words += ["--data-dir", folder]
    return shlex.join(words)


def cmd_token(args: argparse.Namespace) -> int:
    """Print an access token of a demo client, signed with the demo server's key."""
    from policies.authserver import KEY_FILE, issue_token

    settings = configured()
    server = settings.server
    host, port = given(args.host, server.host), given(args.port, server.port)
    folder = Path(given(args.data_dir, data_dir(settings))).expanduser()
    new_key = not (folder / KEY_FILE).exists()
    try:
        print(issue_token(args.client, folder, issuer_url(host, port)))
    except KeyError as exc:
        print(f"robopass: {exc.args[0]}", file=sys.stderr)
        return 2
    if new_key:  # a typo in the folder (or an unset $DEMO) would otherwise end in a bare 401
        print(
            f"robopass: {folder} had no signing key, so one was made: only a server run with"
            " this data folder trusts the token (a server that runs elsewhere answers 401 `no"
            " trusted key`); check --data-dir or ROBOPASS_DATA_DIR",
            file=sys.stderr,
        )
    return 0
