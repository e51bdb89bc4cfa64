"""The `robopass` command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import auditcmd as audit_cmd
from . import authserver_command
from .credential_cli import register as add_credential_commands
from .workbench.parsers import add_mapping_command, add_translate_command

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


def open_store(db: str, registry: str = "cn-heis"):
    """The store a `--db` names: PostgreSQL for `postgresql://` URLs, else SQLite."""
    from .migrations import MigrationError
    from .store import RegistryStore, StoreError

    try:
        if is_postgres(db):
            from .pgstore import PostgresStore

            return PostgresStore(db, registry=registry)
        return RegistryStore(sqlite_path(db), registry=registry)
    except (StoreError, MigrationError) as exc:
        raise SystemExit(f"robopass: {exc}") from None


def seed(store, robots: int, *, seed_value: int, country: str, quiet: bool = False) -> int:
    """Make robots 0..N-1 of a synthetic fleet present, in batches, with a progress bar.

    Robots already stored are skipped, so an interrupted seeding resumes and a
    repeated one adds nothing. Returns how many robots were added.
    """
    from tqdm import tqdm

    from .synthetic import synthetic_fleet

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

    from policies import AuditLog, PolicySet, TokenVerifier
    from policies.authserver import create_auth_app

    from .app import create_app
    from .auth import demo_issuer
    from .credentials import RegistrySigner
    from .local import LocalSource
    from .persisted import PersistedQueries
    from .report import demo_sign_in

    try:
        persisted = (
            PersistedQueries.from_manifest(args.safelist) if args.safelist else PersistedQueries()
        )
    except ValueError as exc:
        raise SystemExit(f"robopass: --safelist {exc}") from None
    limits = limits_from(args)
    data_dir = Path(args.data_dir).expanduser()
    db = args.db or str(data_dir / "demo-cn.db")
    store = open_store(db)
    # The demo database is ours: complete it, even after an interrupted first run.
    # A database the user named is theirs: seed it only when it is empty.
    if store.count() == 0 or (args.db is None and store.count() < args.robots):
        print(f"Seeding {args.robots} demo robots into {store.location}", file=sys.stderr)
        seed(store, args.robots, seed_value=0, country="CN")
    example = next(iter(store.codes(limit=1)), None)
    issuer = issuer_url(args)
    audit_db = args.audit_db or audit_cmd.default_audit_db(db)
    audit = AuditLog(audit_db)
    app = create_app(
        LocalSource(store),
        audit=audit,
        policy=PolicySet.demo(),
        verifier=TokenVerifier([demo_issuer(issuer, data_dir)]),
        mounts=[Mount("/auth", create_auth_app(data_dir, issuer))],
        example_code=example,
        ready=readiness(store),
        on_denied=args.on_denied,
        signer=RegistrySigner.from_data_dir(data_dir, issuer.removesuffix("/auth"), store.registry),
        sign_in=demo_sign_in(data_dir, issuer),
        limits=limits,
        persisted=persisted,
        production=args.production,
        introspection=args.introspection,
        console=args.console,
    )
    url = f"http://{args.host}:{args.port}/graphql"
    print(f"robopass serving {store.count()} robots from {store.location}")
    console = args.console if args.console is not None else not args.production
    print(f"GraphQL and console: {url}" if console else f"GraphQL: {url}")
    if args.production:
        print("Production mode: no introspection, suggestions or internal error messages")
    print(f"History report: http://{args.host}:{args.port}/")
    print(f"Audit log of every disclosure: {audit_cmd.describe(audit_db)}")
    print(f"Demo authorization server: {issuer} (tokens: robopass token CLIENT)")
    if example:
        fields = "code manufacturer { name } model { designation } condition { batteryHealthPct }"
        query = f'{{ robot(code: "{example}") {{ {fields} }} }}'
        body = json.dumps({"query": query})
        print(f"Try:\n  curl -s {url} -H 'content-type: application/json' -d '{body}'")
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        ws_max_size=limits.max_body_bytes,
    )
    return 0


def flag(value: str | None) -> bool | None:
    """An environment switch: 1/true/yes/on or 0/false/no/off; unset is None."""
    if value is None or not value.strip():
        return None
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SystemExit(f"robopass: expected a boolean, got {value!r}")


def add_serving_options(parser: argparse.ArgumentParser) -> None:
    """Production mode and one option per `Limits` field, each also ROBOPASS_<NAME>."""
    from .limits import Limits

    env = os.environ.get
    parser.add_argument(
        "--production",
        action=argparse.BooleanOptionalAction,
        default=bool(flag(env("ROBOPASS_PRODUCTION"))),
        help="introspection, console and suggestions off, internal errors masked",
    )
    for name in ("introspection", "console"):
        parser.add_argument(
            f"--{name}",
            action=argparse.BooleanOptionalAction,
            default=flag(env(f"ROBOPASS_{name.upper()}")),
            help=f"{name} on or off whatever the mode (default: off in production)",
        )
    parser.add_argument(
        "--safelist",
        default=env("ROBOPASS_SAFELIST"),
        help="run only the operations of this persisted query manifest (JSON)",
    )
    for field in dataclasses.fields(Limits):
        if field.name == "weights":
            continue
        variable = f"ROBOPASS_{field.name.upper()}"
        parser.add_argument(
            f"--{field.name.replace('_', '-')}",
            type=type(field.default),
            default=env(variable, field.default),
            metavar="N",
            help=f"query limit (default {field.default}; {variable})",
        )


def limits_from(args: argparse.Namespace):
    from .limits import Limits

    try:
        values = {
            f.name: type(f.default)(getattr(args, f.name))
            for f in dataclasses.fields(Limits)
            if f.name != "weights"
        }
        return Limits(**values)
    except ValueError as exc:
        raise SystemExit(f"robopass: {exc}") from None


def readiness(store):
    """The /readyz check: one read from the registry, so a balancer drops a replica that cannot."""

    async def ready() -> None:
        store.codes(limit=1)

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
    print(f"{len(codes) - bad} of {len(codes)} chains verified")
    return 1 if bad else 0


def cmd_sync(args: argparse.Namespace) -> int:
    """Mirror the caller's view of a fleet into a SQLite file, incrementally."""
    import httpx

    from .sync import Gateway, Mirror, SyncError, sync

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

    serve = sub.add_parser("serve", help="run the gateway with its embedded demo registry")
    serve.add_argument("--host", default=env("ROBOPASS_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(env("ROBOPASS_PORT", "8000")))
    serve.add_argument(
        "--db", default=env("ROBOPASS_DB"), help="sqlite:///PATH, a path or postgresql://..."
    )
    serve.add_argument("--data-dir", default=env("ROBOPASS_DATA_DIR", str(default_data_dir())))
    serve.add_argument("--robots", type=int, default=DEFAULT_ROBOTS, help="seeded on first run")
    serve.add_argument("--log-level", default=env("ROBOPASS_LOG_LEVEL", "info"))
    serve.add_argument(
        "--on-denied",
        choices=("null", "reject"),
        default=env("ROBOPASS_ON_DENIED", "null"),
        help="a field the caller may not see: null with an error, or reject the operation",
    )
    serve.add_argument(
        "--audit-db",
        default=env(audit_cmd.AUDIT_ENV),
        help="audit log: a path or postgresql://... (default: beside the registry file)",
    )
    add_serving_options(serve)
    serve.set_defaults(func=cmd_serve)

    token = sub.add_parser("token", help="print an access token of a demo client")
    token.add_argument("client", help="de-msa, us-insurer, fleet-owner, used-robot-buyer, ...")
    token.add_argument("--host", default=env("ROBOPASS_HOST", "127.0.0.1"))
    token.add_argument("--port", type=int, default=int(env("ROBOPASS_PORT", "8000")))
    token.add_argument("--data-dir", default=env("ROBOPASS_DATA_DIR", str(default_data_dir())))
    token.set_defaults(func=cmd_token)

    authserver_command.add_parser(sub, str(default_data_dir()))

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
    sync_cmd.add_argument("--owner", help="whose robots (default: the caller's organisation)")
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
