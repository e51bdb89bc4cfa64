"""`robopass registry serve`: one registry node as its own process.

On first run the node seeds its store with a synthetic fleet of its countries
(as `robopass serve` does), so a fresh machine gets a working node with one
command. Tokens come from the issuers it is told to trust, by discovery.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .records import NODE_FORMATS

DEFAULT_REGISTRY = {"cn-miit": "cn-heis", "aas": "eu-dpp"}
DEFAULT_COUNTRIES = {"cn-miit": ["CN"], "aas": ["DE", "FR"]}
DEFAULT_ISSUER = "http://127.0.0.1:9000"


def add_parser(registry_commands: argparse._SubParsersAction, data_dir: str) -> None:
    """Register `serve` on the `registry` subcommands."""
    env = os.environ.get
    parser = registry_commands.add_parser("serve", help="run a registry node (REST, native format)")
    parser.add_argument("--format", required=True, choices=NODE_FORMATS)
    parser.add_argument(
        "--db", default=env("ROBOPASS_NODE_DB"), help="sqlite:///PATH, a path or postgresql://..."
    )
    parser.add_argument("--host", default=env("ROBOPASS_NODE_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("ROBOPASS_NODE_PORT", "8101")))
    parser.add_argument(
        "--registry", help="registry id (default: cn-heis for cn-miit, eu-dpp for aas)"
    )
    parser.add_argument(
        "--country",
        action="append",
        help="country of the seeded robots, repeatable (default: CN for cn-miit, DE, FR for aas)",
    )
    parser.add_argument("--robots", type=int, default=1000, help="seeded on first run, in all")
    parser.add_argument(
        "--trust-issuer",
        action="append",
        metavar="URL",
        help=f"token issuer trusted by discovery, repeatable (default {DEFAULT_ISSUER})",
    )
    parser.add_argument("--audience", default="robopass", help="the audience tokens must name")
    parser.add_argument("--data-dir", default=env("ROBOPASS_DATA_DIR", data_dir))
    parser.add_argument("--log-level", default=env("ROBOPASS_LOG_LEVEL", "info"))
    parser.set_defaults(func=run)


def shares(total: int, countries: list[str]) -> list[tuple[str, int]]:
    """`total` robots split as evenly as can be between `countries`."""
    base, extra = divmod(total, len(countries))
    return [(c, base + (1 if i < extra else 0)) for i, c in enumerate(countries)]


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.cli.main import open_store, seed
    from gateway.synthetic.fleet import MAKERS
    from policies import PolicyError

    from .app import create_node_app
    from .auth import verifier_for

    registry = args.registry or DEFAULT_REGISTRY[args.format]
    countries = list(dict.fromkeys(args.country or DEFAULT_COUNTRIES[args.format]))
    for country in countries:
        if country not in MAKERS:
            known = ", ".join(sorted(MAKERS))
            raise SystemExit(f"robopass: --country {country}: no synthetic makers; use {known}")
    if args.robots < 0:
        raise SystemExit("robopass: --robots must not be negative")
    issuers = args.trust_issuer or [DEFAULT_ISSUER]
    try:
        verifier = verifier_for(issuers, args.audience)
    except (ValueError, PolicyError) as exc:
        raise SystemExit(f"robopass: --trust-issuer: {exc}") from None
    data_dir = Path(args.data_dir).expanduser()
    db = args.db or str(data_dir / f"node-{registry}.db")
    store = open_store(db, registry)
    count = store.count()
    # A database of our own is completed after an interrupted first run;
    # a database the user named is seeded only when it is empty.
    if count == 0 or (args.db is None and count < args.robots):
        print(
            f"Seeding {args.robots} robots of {', '.join(countries)} into {store.location}",
            file=sys.stderr,
        )
        for country, share in shares(args.robots, countries):
            seed(store, share, seed_value=0, country=country)
    app = create_node_app(store, format=args.format, verifier=verifier)
    base = f"http://{args.host}:{args.port}"
    print(f"robopass registry node {registry} ({args.format}): {store.count()} robots", flush=True)
    print(f"REST API: {base}/robots  contract: {base}/openapi.json  metrics: {base}/metrics")
    print(f"Trusted token issuers: {', '.join(issuers)}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
