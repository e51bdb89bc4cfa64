"""`robopass auth-server`: the development authorization server on its own.

`robopass serve` mounts the same app at `/auth` for a one-process demo; run
standalone it is an issuer at the root of its origin, so its RFC 8414 metadata
sits where discovery looks for it and any resource server can trust it by URL.
Defaults: `auth_server.host`/`auth_server.port` (ROBOPASS_AUTH_HOST,
ROBOPASS_AUTH_PORT), `store.data_dir` and `server.log_level`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.cli.defaults import configured, data_dir, given
from gateway.cli.listen import check_free
from gateway.config.paths import default_data_dir
from gateway.config.settings import default_of


def register(sub: argparse._SubParsersAction) -> None:
    """Add `auth-server` to the `robopass` commands."""
    parser = sub.add_parser(
        "auth-server",
        help="run the development authorization server alone",
        description="Run the development authorization server (client credentials, RFC 9068"
        " tokens, JWKS, RFC 8414 metadata) as an issuer at the root of its origin.",
    )
    parser.add_argument(
        "--host",
        default=None,
        help=f"address to listen on (ROBOPASS_AUTH_HOST; default {default_of('auth_server.host')})",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port to listen on (ROBOPASS_AUTH_PORT; default {default_of('auth_server.port')})",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"where its signing key is kept (ROBOPASS_DATA_DIR; default {default_data_dir()})",
    )
    parser.add_argument(
        "--log-level",
        default=None,
        help=f"uvicorn's log level (default {default_of('server.log_level')})",
    )
    parser.set_defaults(func=cmd_auth_server)


def banner(issuer: str, clients: list[str]) -> list[str]:
    """What a user needs to trust the server and get a token; never a secret."""
    return [
        f"robopass development authorization server: issuer {issuer}",
        f"metadata: {issuer}/.well-known/oauth-authorization-server",
        f"JWKS: {issuer}/jwks.json",
        f"token endpoint: {issuer}/token (client_credentials)",
        f"demo clients: {', '.join(clients)} (secrets in policies/demo/clients.json)",
    ]


def cmd_auth_server(args: argparse.Namespace) -> int:
    # The web stack loads only when the server is started.
    import uvicorn

    from policies.authserver import create_auth_app, load_clients

    settings = configured()
    defaults = settings.auth_server
    host, port = given(args.host, defaults.host), given(args.port, defaults.port)
    folder = Path(given(args.data_dir, data_dir(settings))).expanduser()
    check_free(host, port, "--port or ROBOPASS_AUTH_PORT")
    issuer = f"http://{host}:{port}"
    app = create_auth_app(folder, issuer)
    for line in banner(issuer, sorted(load_clients())):
        print(line, flush=True)
    log_level = given(args.log_level, settings.server.log_level)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
    return 0
