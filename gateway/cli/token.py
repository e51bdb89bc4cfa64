"""`robopass token CLIENT`: an access token of a demo client, signed with the demo server's key.

The issuer is the gateway's own `/auth` at `server.host`/`server.port`
(ROBOPASS_HOST, ROBOPASS_PORT), so the token matches what `robopass serve` trusts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.cli.defaults import configured, data_dir, given


def register(sub: argparse._SubParsersAction) -> None:
    """Add `token` to the `robopass` commands."""
    token = sub.add_parser("token", help="print an access token of a demo client")
    token.add_argument("client", help="de-msa, us-insurer, fleet-owner, used-robot-buyer, ...")
    token.add_argument("--host", default=None)
    token.add_argument("--port", type=int, default=None)
    token.add_argument("--data-dir", default=None)
    token.set_defaults(func=cmd_token)


def issuer_url(host: str, port: int) -> str:
    return f"http://{host}:{port}/auth"


def cmd_token(args: argparse.Namespace) -> int:
    """Print an access token of a demo client, signed with the demo server's key."""
    from policies.authserver import issue_token

    settings = configured()
    server = settings.server
    host, port = given(args.host, server.host), given(args.port, server.port)
    folder = Path(given(args.data_dir, data_dir(settings))).expanduser()
    try:
        print(issue_token(args.client, folder, issuer_url(host, port)))
    except KeyError as exc:
        print(f"robopass: {exc.args[0]}", file=sys.stderr)
        return 2
    return 0
