"""`robopass registry serve`: one registry node as its own process.

Only the options live here; the node itself (checks, first-run seeding, the
server) is gateway/node/command.py. Defaults come from `node.*`
(ROBOPASS_NODE_DB, ROBOPASS_NODE_HOST, ROBOPASS_NODE_PORT), `store.data_dir`
and `server.log_level`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.cli.arguments import count, fleet_country
from gateway.cli.defaults import configured, data_dir, given
from gateway.cli.listen import check_free
from gateway.config.paths import default_data_dir
from gateway.config.settings import default_of
from gateway.node import DEFAULT_ISSUER
from gateway.node.records import NODE_FORMATS


def register(reg: argparse._SubParsersAction) -> None:
    """Add `serve` to the `registry` sub-commands."""
    parser = reg.add_parser("serve", help="run a registry node (REST, native format)")
    parser.add_argument(
        "--format", required=True, choices=NODE_FORMATS, help="the node's format on the wire"
    )
    parser.add_argument("--db", default=None, help="sqlite:///PATH, a path or postgresql://...")
    parser.add_argument(
        "--host",
        default=None,
        help=f"address to listen on (ROBOPASS_NODE_HOST; default {default_of('node.host')})",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port to listen on (ROBOPASS_NODE_PORT; default {default_of('node.port')})",
    )
    parser.add_argument(
        "--registry", help="registry id (default: cn-heis for cn-miit, eu-dpp for aas)"
    )
    parser.add_argument(
        "--country",
        action="append",
        type=fleet_country,
        help="country of the seeded robots, repeatable (default: CN for cn-miit, DE, FR for aas)",
    )
    parser.add_argument("--robots", type=count, default=1000, help="seeded on first run, in all")
    parser.add_argument(
        "--trust-issuer",
        action="append",
        metavar="URL",
        help=f"token issuer trusted by discovery, repeatable (default {DEFAULT_ISSUER})",
    )
    parser.add_argument("--audience", default="robopass", help="the audience tokens must name")
    parser.add_argument(
        "--witness",
        action="append",
        metavar="URL",
        help="add-checkpoint URL of a witness to cosign the log's checkpoints, repeatable",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"where the database and key live when --db is not given (ROBOPASS_DATA_DIR;"
        f" default {default_data_dir()})",
    )
    parser.add_argument(
        "--log-level",
        default=None,
        help=f"uvicorn's log level (default {default_of('server.log_level')})",
    )
    parser.set_defaults(func=cmd_serve_node)


def cmd_serve_node(args: argparse.Namespace) -> int:
    # The node's web stack loads only when a node is started.
    from gateway.node.command import NodeOptionError, NodeOptions, serve_node

    settings = configured()
    node = settings.node
    options = NodeOptions(
        format=args.format,
        host=given(args.host, node.host),
        port=given(args.port, node.port),
        data_dir=Path(given(args.data_dir, data_dir(settings))).expanduser(),
        db=args.db or node.db,
        registry=args.registry,
        countries=tuple(args.country or ()),
        robots=args.robots,
        trust_issuers=tuple(args.trust_issuer or ()),
        audience=args.audience,
        witnesses=tuple(args.witness or ()),
        log_level=given(args.log_level, settings.server.log_level),
    )
    check_free(options.host, options.port, "--port or ROBOPASS_NODE_PORT")
    try:
        return serve_node(options)
    except NodeOptionError as exc:
        raise SystemExit(f"robopass: {exc}") from None
