"""`robopass serve`: the gateway with its embedded demo registry, or over federated ones.

The configuration file (`--config`), the environment and the flags make one
`Settings` (`settings_from`; a flag given wins); a first run seeds a demo
database. The web stack is imported when the command runs, not when the parser
is built, so every other command starts without loading it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.cli import audit as audit_cmd
from gateway.cli import listen
from gateway.cli.arguments import count
from gateway.cli.token import demo_clients, token_command
from gateway.config.paths import default_data_dir
from gateway.config.settings import CONFIG_ENV, ConfigError, Settings, load_config
from gateway.endpoint.limits import Limits
from gateway.service.webhooks import WebhookBackend
from schema.campaign_source import CampaignBackend, CampaignRegistry

if TYPE_CHECKING:
    from gateway.config.sections import AuditSettings
    from gateway.service.auditwitness import AuditWitnessing
    from policies import AuditLog


def register(sub: argparse._SubParsersAction) -> None:
    """Add `serve` to the `robopass` commands."""
    serve = sub.add_parser(
        "serve",
        help="run the gateway with its embedded demo registry",
        description="Flags override the configuration file and the environment "
        "(ROBOPASS_<SECTION>_<KEY>, or the older ROBOPASS_PORT, ROBOPASS_DB, ...); "
        "see docs/operations.md#configuration.",
    )
    serve.add_argument(
        "--config",
        default=None,
        help=f"a TOML configuration file ({CONFIG_ENV}); its [[registries]] are federated",
    )
    serve.add_argument("--host", default=None, help="default 127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default 8000")
    serve.add_argument("--db", default=None, help="sqlite:///PATH, a path or postgresql://...")
    serve.add_argument("--data-dir", default=None, help=f"default {default_data_dir()}")
    serve.add_argument("--robots", type=count, default=None, help="seeded on first run (1000)")
    serve.add_argument("--log-level", default=None, help="default info")
    serve.add_argument(
        "--on-denied",
        choices=("null", "reject"),
        default=None,
        help="a field the caller may not see: null with an error, or reject the operation",
    )
    serve.add_argument(
        "--audit-db",
        default=None,
        help="audit log: a path or postgresql://... (default: beside the registry file)",
    )
    add_serving_options(serve)
    serve.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn
    from starlette.routing import Mount

    from gateway.credentials.signing import RegistrySigner
    from gateway.credentials.statuslist import Ledger
    from gateway.edge.auth import demo_issuer
    from gateway.edge.headerlimit import HeaderLimit, parser_buffer
    from gateway.edge.observe import configure_logging
    from gateway.endpoint.persisted import PersistedQueries
    from gateway.ops.metrics import METRICS
    from gateway.report import demo_sign_in
    from gateway.service.local import LocalSource
    from gateway.service.passport_vc import Issuer
    from gateway.service.services import Services
    from gateway.store.open import open_store
    from gateway.synthetic.recall import DEMO_RECALL, demo_recall
    from gateway.synthetic.seeding import seed
    from gateway.web.app import create_app
    from gateway.web.serving import (
        export_mappings,
        federation,
        graphql_options,
        rate_limits,
        tracer,
        trusted_issuers,
    )
    from policies import AuditLog, PolicySet, TokenVerifier
    from policies.authserver import create_auth_app

    settings = settings_from(args)
    server, store_section = settings.server, settings.store
    try:
        issuers = trusted_issuers(settings)
        limiter, tracing = rate_limits(settings), tracer(settings)
        registries = federation(settings)
        mappings = export_mappings(settings)
    except ConfigError as exc:
        raise SystemExit(f"robopass: configuration:\n{exc}") from None
    safelist = settings.persisted.safelist
    try:
        persisted = PersistedQueries.from_manifest(safelist) if safelist else PersistedQueries()
    except ValueError as exc:
        raise SystemExit(f"robopass: --safelist {exc}") from None
    host, port, production = server.host, server.port, server.production
    # Claimed before seeding and the banner: a busy port is the only thing said.
    sock = listen.bind(host, port, "--port or ROBOPASS_PORT")
    data_dir = Path(store_section.data_dir or default_data_dir()).expanduser()
    robots = store_section.robots
    data_dir.mkdir(parents=True, exist_ok=True)
    named_db = store_section.db
    if registries:
        if named_db:
            raise SystemExit("robopass: [[registries]] are served instead of a db: drop one")
        source, ready, registry_name, example = federated(registries)
        campaigns: CampaignRegistry | CampaignBackend = federated_campaigns(source)
        audit_db = settings.audit.db or str(data_dir / "audit-federation.db")
    else:
        db = named_db or str(data_dir / "demo-cn.db")
        store = open_store(db, pool_size=store_section.pool_size)
        # The demo database is ours: complete it, even after an interrupted first run.
        # A database the user named is theirs: seed it only when it is empty.
        if store.count() == 0 or (named_db is None and store.count() < robots):
            print(f"Seeding {robots} demo robots into {store.location}", file=sys.stderr)
            seed(store, robots, seed_value=0, country="CN")
        for unfinished in store.unfinished_campaigns():  # a fan-out a stop left midway
            reached = store.run_campaign(unfinished).reached
            print(f"Campaign {unfinished} resumed: {reached} robots reached", file=sys.stderr)
        if named_db is None and demo_recall(store) is not None:
            print(f"Demo recall {DEMO_RECALL} reaches robots held in DE and FR", file=sys.stderr)
        warn_legacy(store)
        source, ready, registry_name = LocalSource(store), readiness(store), store.registry
        campaigns = store
        example = next(iter(store.codes(limit=1)), None)
        audit_db = settings.audit.db or audit_cmd.default_audit_db(db)
    issuer = f"http://{host}:{port}/auth"
    audit = AuditLog(audit_db)
    witnessing = audit_witnessing(settings.audit, audit, data_dir)
    demo = server.demo_auth
    if demo:
        issuers.insert(0, demo_issuer(issuer, data_dir))
    policy = PolicySet.demo()
    signer = RegistrySigner.from_data_dir(data_dir, issuer.removesuffix("/auth"), registry_name)
    services = Services(
        source,
        policy,
        verifier=TokenVerifier(issuers) if issuers else None,
        audit=audit,
        writer=source,
        signer=signer,
        credentials=Issuer(signer, Ledger(data_dir), policy, audit),
        metrics=METRICS if settings.metrics.enabled else None,
        rate_limits=limiter,
        tracing=tracing,
        campaign_registry=campaigns,
        webhook_store=store if not registries else federated_webhooks(source),
        production=production,
        mappings=mappings,
        audit_witnessing=witnessing,
    )
    options = graphql_options(settings, persisted, example)
    app = create_app(
        services,
        options,
        ready=ready,
        sign_in=demo_sign_in(data_dir, issuer) if demo else None,
        mounts=[Mount("/auth", create_auth_app(data_dir, issuer))] if demo else [],
        access_log=server.log_format == "json",
    )
    url = f"http://{host}:{port}/graphql"
    if registries:
        print(f"robopass federating {len(registries)} registries:")
        for r in registries:
            print(f"  {r.id} ({r.format}) countries {', '.join(r.countries)} at {r.base_url}")
        print(f"Registry status: http://{host}:{port}/readyz")
    else:
        print(f"robopass serving {store.count()} robots from {store.location}")
    print(f"GraphQL and console: {url}" if options.shows_console else f"GraphQL: {url}")
    if production:
        print("Production mode: no introspection, suggestions or internal error messages")
    print(f"History report: http://{host}:{port}/")
    print(f"Audit log of every disclosure: {audit_cmd.describe(audit_db)}")
    if witnessing is not None:
        print(
            f"Audit log checkpoints cosigned by {len(settings.audit.witnesses)} witness(es)"
            f" every {settings.audit.witness_interval:g}s, kept in {witnessing.path}"
        )
    if settings.source:
        print(f"Configuration: {settings.source}")
    if example:
        fields = "code manufacturer { name } model { designation } condition { batteryHealthPct }"
        query = f'{{ robot(code: "{example}") {{ {fields} }} }}'
        body = json.dumps({"query": query})
        print(f"Try:\n  curl -s {url} -H 'content-type: application/json' -d '{body}'")
    if demo:
        print(demo_parties(issuer, host, port, store_section.data_dir, bool(example)))
    sys.stdout.flush()
    configure_logging(server.log_level, server.log_format)
    config = uvicorn.Config(
        HeaderLimit(app, server.max_header_bytes),
        host=host,
        port=port,
        # h11 whatever else is installed, its buffer fitting every request under the cap:
        # the cap's 431 or the app's answer, never a parser's 400 that depends on timing.
        http="h11",
        h11_max_incomplete_event_size=parser_buffer(server.max_header_bytes),
        log_config=None,
        log_level=server.log_level,
        access_log=server.log_format != "json",
        proxy_headers=True,
        forwarded_allow_ips=server.forwarded_allow_ips,
        ws_max_size=settings.limits.max_body_bytes,
    )
    listen.serve(config, sock)
    return 0


def demo_parties(issuer: str, host: str, port: int, folder: str | None, example: bool) -> str:
    """The banner's lines on the demo parties: who they are and the exact token command.

    The command carries this server's port and data folder when they are not the
    defaults: a token minted for another port names an issuer this server does
    not trust, and one signed in another folder a key it does not know.
    """
    mint = token_command(host, port, folder, "used-robot-buyer")
    lines = [
        f"Demo authorization server: {issuer}",
        "An anonymous caller sees public fields only"
        + (" (condition above comes back null with an error)." if example else "."),
        f"Demo parties: {', '.join(demo_clients(services=False))}; a token of one:",
        f"  TOKEN=$({mint})",
        '  then add -H "authorization: Bearer $TOKEN" to a request (docs/policies.md)',
    ]
    return "\n".join(lines)


def warn_legacy(store) -> None:
    """One line when unsalted chains remain: their hashes let callers test guessed payloads."""
    legacy = store.legacy_count()
    if legacy:
        print(
            f"WARNING: {legacy} robots in {store.location} still have unsalted (scheme 1) hash"
            " chains that let callers test guesses of hidden data: run"
            f" `robopass registry recommit --db {store.location}`",
            file=sys.stderr,
        )


def federated(registries: list) -> tuple:
    """The federation's source, its readiness check, the signer's name and no example code."""
    from gateway.federation import SIGNER_NAME
    from gateway.federation.health import readiness as registries_ready
    from gateway.federation.source import FederatedSource
    from gateway.ops.metrics import observe_upstream

    source = FederatedSource(registries, on_upstream=observe_upstream)
    return source, registries_ready(source), SIGNER_NAME, None


def federated_campaigns(source: object) -> CampaignBackend:
    """Campaigns fanned out to every registry node of the federation (docs/campaigns.md)."""
    from gateway.federation.campaigns import FederatedCampaigns
    from gateway.federation.source import FederatedSource

    assert isinstance(source, FederatedSource)
    return FederatedCampaigns(source.clients, source.homes)


def federated_webhooks(source: object) -> WebhookBackend:
    """Owners' webhooks registered with every node; each delivers its own robots' events."""
    from gateway.federation.source import FederatedSource
    from gateway.federation.webhooks import FederatedWebhooks

    assert isinstance(source, FederatedSource)
    return FederatedWebhooks(source.clients)


# Flags of `serve` and the configuration keys they set; a flag given wins over file and env.
SERVE_FLAGS = {
    "host": "server.host",
    "port": "server.port",
    "production": "server.production",
    "introspection": "server.introspection",
    "console": "server.console",
    "on_denied": "server.on_denied",
    "log_level": "server.log_level",
    "db": "store.db",
    "data_dir": "store.data_dir",
    "robots": "store.robots",
    "audit_db": "audit.db",
    "safelist": "persisted.safelist",
}


def settings_from(args: argparse.Namespace) -> Settings:
    """The configuration file (`--config` or ROBOPASS_CONFIG), the environment, then flags."""
    flags = {key: getattr(args, name) for name, key in SERVE_FLAGS.items()}
    for f in dataclasses.fields(Limits):
        if f.name != "weights":
            flags[f"limits.{f.name}"] = getattr(args, f.name)
    try:
        return load_config(args.config or os.environ.get(CONFIG_ENV), os.environ, flags)
    except ConfigError as exc:
        raise SystemExit(f"robopass: configuration:\n{exc}") from None


def add_serving_options(parser: argparse.ArgumentParser) -> None:
    """Production mode and one option per `Limits` field; each also a configuration key."""
    parser.add_argument(
        "--production",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="introspection, console and suggestions off, internal errors masked",
    )
    for name in ("introspection", "console"):
        parser.add_argument(
            f"--{name}",
            action=argparse.BooleanOptionalAction,
            default=None,
            help=f"{name} on or off whatever the mode (default: off in production)",
        )
    parser.add_argument(
        "--safelist",
        default=None,
        help="run only the operations of this persisted query manifest (JSON)",
    )
    for field in dataclasses.fields(Limits):
        if field.name == "weights":
            continue
        parser.add_argument(
            f"--{field.name.replace('_', '-')}",
            type=type(field.default),
            default=None,
            metavar="N",
            help=f"query limit (default {field.default}; ROBOPASS_{field.name.upper()})",
        )


def readiness(store):
    """The /readyz check: one read from the registry, so a balancer drops a replica that cannot."""

    async def ready() -> None:
        await asyncio.to_thread(store.codes, 1)

    return ready


def audit_witnessing(
    section: AuditSettings, audit: AuditLog, data_dir: Path
) -> AuditWitnessing | None:
    """The audit log's witnessing when `[audit] witnesses` are set, signed with the
    audit log key of the data directory (the one `robopass audit checkpoint` uses)."""
    if not section.witnesses:
        return None
    from gateway.credentials.logkey import load_or_create
    from gateway.service.auditlog import AUDIT_KEY_FILE, audit_origin
    from gateway.service.auditwitness import AuditWitnessing

    signer = load_or_create(data_dir / AUDIT_KEY_FILE, audit_origin(section.name))
    return AuditWitnessing(audit, signer, section.witnesses, data_dir, section.witness_interval)
