"""`robopass serve --config FILE`: the gateway over the registry nodes a file lists.

Everything but the source is as in the embedded demo: the development
authorization server at /auth for callers' tokens, the demo policies, the
audit log, the report pages and signed downloads. Passports come from the
nodes, each called with the service token its `[registries.credentials]`
obtain.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import ConfigError, load_federation

SIGNER_NAME = "robopass-gateway"


def serve_federation(args: argparse.Namespace) -> int:
    import uvicorn
    from starlette.routing import Mount

    from policies import AuditLog, PolicySet, TokenVerifier
    from policies.authserver import create_auth_app

    from .. import auditcmd as audit_cmd
    from ..app import create_app
    from ..auth import demo_issuer
    from ..cli import issuer_url, limits_from
    from ..credentials import RegistrySigner
    from ..persisted import PersistedQueries
    from ..report import demo_sign_in
    from .health import readiness
    from .source import FederatedSource

    if args.db is not None:
        raise SystemExit("robopass: --config serves the registries it lists; drop --db")
    try:
        registries = load_federation(args.config)
    except ConfigError as exc:
        raise SystemExit(f"robopass: {args.config}: {exc}") from None
    try:
        persisted = (
            PersistedQueries.from_manifest(args.safelist) if args.safelist else PersistedQueries()
        )
    except ValueError as exc:
        raise SystemExit(f"robopass: --safelist {exc}") from None
    data_dir = Path(args.data_dir).expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    issuer = issuer_url(args)
    audit_db = args.audit_db or str(data_dir / "audit-federation.db")
    source = FederatedSource(registries)
    app = create_app(
        source,
        audit=AuditLog(audit_db),
        policy=PolicySet.demo(),
        verifier=TokenVerifier([demo_issuer(issuer, data_dir)]),
        mounts=[Mount("/auth", create_auth_app(data_dir, issuer))],
        ready=readiness(source),
        on_denied=args.on_denied,
        signer=RegistrySigner.from_data_dir(data_dir, issuer.removesuffix("/auth"), SIGNER_NAME),
        sign_in=demo_sign_in(data_dir, issuer),
        limits=limits_from(args),
        persisted=persisted,
        production=args.production,
        introspection=args.introspection,
        console=args.console,
    )
    url = f"http://{args.host}:{args.port}/graphql"
    print(f"robopass federating {len(registries)} registries from {args.config}:")
    for r in registries:
        print(f"  {r.id} ({r.format}) countries {', '.join(r.countries)} at {r.base_url}")
    print(f"GraphQL: {url}")
    print(f"Registry status: http://{args.host}:{args.port}/readyz")
    print(f"Audit log of every disclosure: {audit_cmd.describe(audit_db)}")
    print(f"Demo authorization server: {issuer} (tokens: robopass token CLIENT)")
    sys.stdout.flush()
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
