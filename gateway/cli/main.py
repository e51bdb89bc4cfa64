"""The `robopass` command line."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from gateway.cli import audit as audit_cmd
from gateway.cli import authserver as authserver_command
from gateway.cli import demo
from gateway.cli.credentials import register as add_credential_commands
from gateway.cli.recommit import register as add_recommit_command
from gateway.config.settings import CONFIG_ENV, ConfigError, Settings, load_config
from gateway.node import command as node_command
from gateway.workbench.parsers import add_mapping_command, add_translate_command

DEFAULT_ROBOTS = 1000


def default_data_dir() -> Path:
    """Outside the repository, where a user's data belongs (XDG on Linux)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "robopass"


def sqlite_path(url: str) -> str:
    """Accept `sqlite:///path`, `sqlite:///:memory:` or a plain file path."""
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///") or ":memory:"
    if "://" in url:
        raise SystemExit(
            f"robopass: unsupported database URL {url!r}: use sqlite:///PATH or postgresql://..."
        )
    return url


def is_postgres(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


def open_store(db: str, registry: str = "cn-heis", *, pool_size: int = 4):
    """The store a `--db` names: PostgreSQL for `postgresql://` URLs, else SQLite.

    `pool_size` is how many PostgreSQL connections the store reads and writes through
    at once (`store.pool_size`); SQLite has one connection."""
    from gateway.store.base import RegistryStore, StoreError
    from gateway.store.migrations import MigrationError

    try:
        if is_postgres(db):
            from gateway.store.postgres import PostgresStore

            return PostgresStore(db, registry=registry, pool_size=pool_size)
        return RegistryStore(sqlite_path(db), registry=registry)
    except (StoreError, MigrationError) as exc:
        raise SystemExit(f"robopass: {exc}") from None


def seed(store, robots: int, *, seed_value: int, country: str, quiet: bool = False) -> int:
    """Make robots 0..N-1 of a synthetic fleet present, in batches, with a progress bar.

    Robots already stored are skipped, so an interrupted seeding resumes and a
    repeated one adds nothing. Returns how many robots were added.
    """
    from tqdm import tqdm

    from gateway.synthetic.fleet import synthetic_fleet

    fleet = synthetic_fleet(robots, seed=seed_value, country=country, registry=store.registry)
    batch: list = []
    added = 0
    with tqdm(total=robots, unit="robot", desc="seeding", disable=quiet) as bar:
        for history in fleet:
            if store.head(history[0].code) is None:
                batch.append(history)
            if len(batch) == 200:
                added += store.import_histories(batch)
                batch.clear()
            bar.update()
        added += store.import_histories(batch)
    return added


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn
    from starlette.routing import Mount

    from gateway.credentials.signing import RegistrySigner
    from gateway.edge.auth import demo_issuer
    from gateway.edge.observe import configure_logging
    from gateway.endpoint.persisted import PersistedQueries
    from gateway.ops.metrics import METRICS
    from gateway.report import demo_sign_in
    from gateway.service.local import LocalSource
    from gateway.web.app import create_app
    from gateway.web.serving import federation, rate_limits, tracer, trusted_issuers
    from policies import AuditLog, PolicySet, TokenVerifier
    from policies.authserver import create_auth_app

    settings = settings_from(args)
    server, store_section = settings.server, settings.section("store")
    try:
        issuers = trusted_issuers(settings)
        limiter, tracing = rate_limits(settings), tracer(settings)
        registries = federation(settings)
    except ConfigError as exc:
        raise SystemExit(f"robopass: configuration:\n{exc}") from None
    safelist = settings.section("persisted").get("safelist")
    try:
        persisted = PersistedQueries.from_manifest(safelist) if safelist else PersistedQueries()
    except ValueError as exc:
        raise SystemExit(f"robopass: --safelist {exc}") from None
    host, port, production = server["host"], server["port"], server["production"]
    data_dir = Path(store_section.get("data_dir") or default_data_dir()).expanduser()
    robots = store_section["robots"]
    data_dir.mkdir(parents=True, exist_ok=True)
    named_db = store_section.get("db")
    if registries:
        if named_db:
            raise SystemExit("robopass: [[registries]] are served instead of a db: drop one")
        source, ready, registry_name, example = federated(registries)
        audit_db = settings.section("audit").get("db") or str(data_dir / "audit-federation.db")
    else:
        db = named_db or str(data_dir / "demo-cn.db")
        store = open_store(db, pool_size=store_section["pool_size"])
        # The demo database is ours: complete it, even after an interrupted first run.
        # A database the user named is theirs: seed it only when it is empty.
        if store.count() == 0 or (named_db is None and store.count() < robots):
            print(f"Seeding {robots} demo robots into {store.location}", file=sys.stderr)
            seed(store, robots, seed_value=0, country="CN")
        warn_legacy(store)
        source, ready, registry_name = LocalSource(store), readiness(store), store.registry
        example = next(iter(store.codes(limit=1)), None)
        audit_db = settings.section("audit").get("db") or audit_cmd.default_audit_db(db)
    issuer = f"http://{host}:{port}/auth"
    audit = AuditLog(audit_db)
    demo = server["demo_auth"]
    if demo:
        issuers.insert(0, demo_issuer(issuer, data_dir))
    app = create_app(
        source,
        writer=source,
        audit=audit,
        policy=PolicySet.demo(),
        verifier=TokenVerifier(issuers) if issuers else None,
        mounts=[Mount("/auth", create_auth_app(data_dir, issuer))] if demo else [],
        example_code=example,
        ready=ready,
        on_denied=server["on_denied"],
        signer=RegistrySigner.from_data_dir(data_dir, issuer.removesuffix("/auth"), registry_name),
        sign_in=demo_sign_in(data_dir, issuer) if demo else None,
        limits=settings.limits,
        persisted=persisted,
        production=production,
        introspection=server.get("introspection"),
        console=server.get("console"),
        rate_limits=limiter,
        metrics=METRICS if settings.section("metrics")["enabled"] else None,
        access_log=server["log_format"] == "json",
        tracing=tracing,
    )
    url = f"http://{host}:{port}/graphql"
    if registries:
        print(f"robopass federating {len(registries)} registries:")
        for r in registries:
            print(f"  {r.id} ({r.format}) countries {', '.join(r.countries)} at {r.base_url}")
        print(f"Registry status: http://{host}:{port}/readyz")
    else:
        print(f"robopass serving {store.count()} robots from {store.location}")
    console = server.get("console", not production)
    print(f"GraphQL and console: {url}" if console else f"GraphQL: {url}")
    if production:
        print("Production mode: no introspection, suggestions or internal error messages")
    print(f"History report: http://{host}:{port}/")
    print(f"Audit log of every disclosure: {audit_cmd.describe(audit_db)}")
    if demo:
        print(f"Demo authorization server: {issuer} (tokens: robopass token CLIENT)")
    if settings.source:
        print(f"Configuration: {settings.source}")
    if example:
        fields = "code manufacturer { name } model { designation } condition { batteryHealthPct }"
        query = f'{{ robot(code: "{example}") {{ {fields} }} }}'
        body = json.dumps({"query": query})
        print(f"Try:\n  curl -s {url} -H 'content-type: application/json' -d '{body}'")
    sys.stdout.flush()
    configure_logging(server["log_level"], server["log_format"])
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        log_level=server["log_level"],
        access_log=server["log_format"] != "json",
        proxy_headers=True,
        forwarded_allow_ips=server["forwarded_allow_ips"],
        ws_max_size=settings.limits.max_body_bytes,
    )
    return 0


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
    from gateway.endpoint.limits import Limits

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
    from gateway.endpoint.limits import Limits

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


def cmd_config_check(args: argparse.Namespace) -> int:
    """OK and a summary, or every error with its key (exit 2)."""
    from gateway.endpoint.persisted import PersistedQueries
    from gateway.web.serving import trusted_issuers

    try:
        settings = load_config(args.file, os.environ)
        trusted_issuers(settings)
        safelist = settings.section("persisted").get("safelist")
        if safelist:
            try:
                PersistedQueries.from_manifest(safelist)
            except ValueError as error:
                raise ConfigError([f"persisted.safelist: {error}"]) from None
    except ConfigError as exc:
        print(f"{args.file}: {len(exc.errors)} error(s)", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 2
    print(f"OK {args.file}")
    print(settings.summary())
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    """The effective configuration as JSON (file, environment, defaults), secrets redacted."""
    try:
        settings = load_config(args.file or os.environ.get(CONFIG_ENV), os.environ)
    except ConfigError as exc:
        print(f"robopass: configuration:\n{exc}", file=sys.stderr)
        return 2
    print(json.dumps(settings.redacted(), indent=2, sort_keys=True))
    return 0


def readiness(store):
    """The /readyz check: one read from the registry, so a balancer drops a replica that cannot."""

    async def ready() -> None:
        await asyncio.to_thread(store.codes, 1)

    return ready


def issuer_url(args: argparse.Namespace) -> str:
    return f"http://{args.host}:{args.port}/auth"


def cmd_token(args: argparse.Namespace) -> int:
    """Print an access token of a demo client, signed with the demo server's key."""
    from policies.authserver import issue_token

    try:
        print(issue_token(args.client, Path(args.data_dir).expanduser(), issuer_url(args)))
    except KeyError as exc:
        print(f"robopass: {exc.args[0]}", file=sys.stderr)
        return 2
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    store = open_store(args.db, args.registry)
    added = seed(store, args.robots, seed_value=args.seed, country=args.country)
    print(f"{added} robots added; {store.count()} in {store.location}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    codes = args.codes or store.codes()
    bad = 0
    for code in codes:
        report = store.verify_chain(code)
        if not report.verified:
            bad += 1
            print(f"{code}: BROKEN at sequence {report.first_bad}: {report.reason}")
            continue
        broken = [
            c for c in store.verify_telemetry(code, store.events(code)) if c.verified is False
        ]
        if broken:
            bad += 1
            for c in broken:
                print(f"{code}: telemetry batch at sequence {c.sequence}: {c.reason}")
    print(f"{len(codes) - bad} of {len(codes)} chains verified")
    legacy = store.legacy_count()
    print(
        f"{legacy} chains still on hash scheme 1 (unsalted)"
        + (": run `robopass registry recommit`" if legacy else "")
    )
    return 1 if bad else 0


def cmd_identify(args: argparse.Namespace) -> int:
    """Record party identifiers for stored ownership and deployment entries (a chained event)."""
    from gateway.store.identify import MapError, identify, load_map

    try:
        parties = load_map(args.map)
    except OSError as exc:
        raise SystemExit(f"robopass: cannot read the map {args.map}: {exc.strerror}") from None
    except MapError as exc:
        raise SystemExit(f"robopass: {exc}; nothing was written") from None
    store = open_store(args.db)
    summary = identify(store, parties, args.codes or None)
    for line in summary.lines():
        print(line)
    return 0


def duration(text: str) -> timedelta:
    """`30d`, `12h` or `90m`: how old samples must be to be rolled up."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number and d, h or m, e.g. 30d")
    return timedelta(**{units[unit]: int(number)})


def cmd_rollup(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    done = store.rollup(args.older_than)
    print(
        f"{done.samples} samples of {done.robots} robots rolled up into {done.days} daily"
        f" aggregates (older than {args.older_than}) in {store.location}"
    )
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """Mirror the caller's view of a fleet into a SQLite file, incrementally."""
    import httpx

    from gateway.cli.sync import Gateway, Mirror, SyncError, sync

    if args.page_size < 1 or args.page_size > 100:
        raise SystemExit("robopass: --page-size must be between 1 and 100")
    token = args.token or os.environ.get("ROBOPASS_TOKEN")
    if not token and not args.token_client:
        raise SystemExit("robopass: sync needs --token-client CLIENT or --token (ROBOPASS_TOKEN)")
    try:
        gateway = Gateway(args.gateway, token=token, client=args.token_client)
    except (SyncError, httpx.HTTPError) as exc:
        raise SystemExit(f"robopass: {exc}") from None
    mirror = Mirror(args.out)
    try:
        result = sync(
            gateway,
            mirror,
            owner=args.owner,
            page_size=args.page_size,
            quiet=args.quiet,
            prune=args.prune,
        )
    except (SyncError, httpx.HTTPError) as exc:
        raise SystemExit(f"robopass: {exc}") from None
    finally:
        mirror.close()
        gateway.close()
    print(
        f"{args.out}: {result.robots} robots; {result.copied} copied, "
        f"{result.changes} changes followed, {result.pruned} no longer in the fleet removed"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="robopass", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

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
    serve.add_argument("--robots", type=int, default=None, help="seeded on first run (1000)")
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

    config = sub.add_parser("config", help="check or show the gateway configuration")
    conf = config.add_subparsers(dest="config_command", required=True)
    check = conf.add_parser("check", help="validate a configuration file; exit 2 on errors")
    check.add_argument("file")
    check.set_defaults(func=cmd_config_check)
    show = conf.add_parser("show", help="print the effective configuration, secrets redacted")
    show.add_argument("file", nargs="?", help=f"a TOML file (default: {CONFIG_ENV} or none)")
    show.set_defaults(func=cmd_config_show)

    token = sub.add_parser("token", help="print an access token of a demo client")
    token.add_argument("client", help="de-msa, us-insurer, fleet-owner, used-robot-buyer, ...")
    token.add_argument("--host", default=env("ROBOPASS_HOST", "127.0.0.1"))
    token.add_argument("--port", type=int, default=int(env("ROBOPASS_PORT", "8000")))
    token.add_argument("--data-dir", default=env("ROBOPASS_DATA_DIR", str(default_data_dir())))
    token.set_defaults(func=cmd_token)

    authserver_command.add_parser(sub, str(default_data_dir()))
    demo.add_parser(sub, str(default_data_dir()))

    registry = sub.add_parser("registry", help="registry node tools")
    reg = registry.add_subparsers(dest="registry_command", required=True)
    seed_cmd = reg.add_parser("seed", help="add a deterministic synthetic fleet")
    seed_cmd.add_argument("--robots", type=int, default=DEFAULT_ROBOTS)
    seed_cmd.add_argument("--db", required=True, help="sqlite:///PATH, a path or postgresql://...")
    seed_cmd.add_argument("--seed", type=int, default=0)
    seed_cmd.add_argument("--country", default="CN")
    seed_cmd.add_argument("--registry", default="cn-heis")
    seed_cmd.set_defaults(func=cmd_seed)
    verify_cmd = reg.add_parser("verify", help="re-hash every stored event log")
    verify_cmd.add_argument("--db", required=True)
    verify_cmd.add_argument("codes", nargs="*", help="codes to check (default: all)")
    verify_cmd.set_defaults(func=cmd_verify)
    add_recommit_command(reg)
    identify_cmd = reg.add_parser(
        "identify",
        help="record party identifiers for entries stored with names only (one event per robot)",
    )
    identify_cmd.add_argument(
        "--db", required=True, help="sqlite:///PATH, a path or postgresql://..."
    )
    identify_cmd.add_argument(
        "--map",
        required=True,
        help="CSV (header name,id[,code]) or JSON ({name: id}) of stored names to identifiers",
    )
    identify_cmd.add_argument("codes", nargs="*", help="robots to identify (default: all)")
    identify_cmd.set_defaults(func=cmd_identify)
    rollup_cmd = reg.add_parser(
        "rollup", help="fold condition samples older than a period into daily aggregates"
    )
    rollup_cmd.add_argument(
        "--db", required=True, help="sqlite:///PATH, a path or postgresql://..."
    )
    rollup_cmd.add_argument(
        "--older-than",
        type=duration,
        default=env("ROBOPASS_ROLLUP_AFTER", "30d"),
        help="age of samples to roll up: 30d (the default), 12h, 90m",
    )
    rollup_cmd.set_defaults(func=cmd_rollup)
    node_command.add_parser(reg, str(default_data_dir()))
    sync_cmd = sub.add_parser(
        "sync", help="mirror the caller's view of a fleet into a SQLite file, incrementally"
    )
    sync_cmd.add_argument("--gateway", required=True, help="base URL, e.g. http://127.0.0.1:8000")
    who = sync_cmd.add_mutually_exclusive_group()
    who.add_argument(
        "--token-client",
        help="a client of the gateway's /auth server (secret: ROBOPASS_CLIENT_SECRET)",
    )
    who.add_argument("--token", help="a bearer token (or ROBOPASS_TOKEN)")
    sync_cmd.add_argument("--out", required=True, help="the mirror's SQLite file")
    sync_cmd.add_argument(
        "--owner",
        help="whose robots, by party identifier, e.g. uscc:... (default: the caller's own)",
    )
    sync_cmd.add_argument(
        "--page-size",
        type=int,
        default=50,
        help="robots or changes a call (1-100; the client's memory grows with it)",
    )
    sync_cmd.add_argument("--quiet", action="store_true", help="no progress bars")
    sync_cmd.add_argument(
        "--prune",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="drop robots that left the fleet (lists the fleet's codes; default on)",
    )
    sync_cmd.set_defaults(func=cmd_sync)
    add_credential_commands(sub)
    add_translate_command(sub)
    add_mapping_command(sub)
    audit_cmd.register(sub, env("ROBOPASS_DATA_DIR", str(default_data_dir())))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
