"""`robopass auth-server`: the development authorization server on its own.

`robopass serve` mounts the same app at `/auth` for a one-process demo; run
standalone it is an issuer at the root of its origin, so its RFC 8414 metadata
sits where discovery looks for it and any resource server can trust it by URL.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction, data_dir: str) -> None:
    """Register `auth-server` on the CLI's subcommands."""
    env = os.environ.get
    parser = sub.add_parser("auth-server", help="run the development authorization server alone")
    parser.add_argument("--host", default=env("ROBOPASS_AUTH_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("ROBOPASS_AUTH_PORT", "9000")))
    parser.add_argument("--data-dir", default=env("ROBOPASS_DATA_DIR", data_dir))
    parser.add_argument("--log-level", default=env("ROBOPASS_LOG_LEVEL", "info"))
    parser.set_defaults(func=run)


def banner(issuer: str, clients: list[str]) -> list[str]:
    """What a user needs to trust the server and get a token; never a secret."""
    return [
        f"robopass development authorization server: issuer {issuer}",
        f"metadata: {issuer}/.well-known/oauth-authorization-server",
        f"JWKS: {issuer}/jwks.json",
        f"token endpoint: {issuer}/token (client_credentials)",
        f"demo clients: {', '.join(clients)} (secrets in policies/demo/clients.json)",
    ]


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from policies.authserver import create_auth_app, load_clients

    issuer = f"http://{args.host}:{args.port}"
    app = create_auth_app(Path(args.data_dir).expanduser(), issuer)
    for line in banner(issuer, sorted(load_clients())):
        print(line, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
