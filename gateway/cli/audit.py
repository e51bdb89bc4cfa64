"""`robopass audit verify|show|migrate`: check, read and re-commit the disclosure audit log."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from gateway.cli.defaults import configured, data_dir, demo_database
from policies import AuditLog
from policies.auditdb import POSTGRES_SCHEMES, sqlite_file
from schema.code import RobotCode, RobotCodeError


def default_audit_db(registry_db: str) -> str:
    """Beside the registry it audits: `fleet.db` -> `fleet.audit.db`; a PostgreSQL
    registry keeps its `audit_log` table in its own database."""
    if registry_db.startswith(POSTGRES_SCHEMES):
        return registry_db
    path = Path(sqlite_file(registry_db))
    return str(path.with_name(path.stem + ".audit.db"))


def describe(db: str) -> str:
    """Where the log is, for a console line: never a PostgreSQL URL, which may hold a password."""
    return "PostgreSQL" if db.startswith(POSTGRES_SCHEMES) else sqlite_file(db)


def register(sub: argparse._SubParsersAction) -> None:
    """Add `audit verify`, `audit show` and `audit migrate` to the `robopass` commands."""
    audit = sub.add_parser("audit", help="check and read the disclosure audit log")
    cmds = audit.add_subparsers(dest="audit_command", required=True)
    # Unset: `audit.db` (ROBOPASS_AUDIT_DB), else the log beside the demo registry.
    db_help = "sqlite:///PATH, a path or postgresql://... (default: the demo registry's)"
    verify = cmds.add_parser("verify", help="re-hash the whole chain; exit 1 if broken")
    verify.add_argument("--db", help=db_help)
    verify.set_defaults(func=cmd_verify)
    show = cmds.add_parser("show", help="print a robot's disclosures as JSON lines")
    show.add_argument("code", help="the robot code")
    show.add_argument("--db", help=db_help)
    show.add_argument("--first", type=int, default=100, help="at most this many records")
    show.add_argument("--after", type=int, default=0, help="records after this id")
    show.set_defaults(func=cmd_show)
    migrate = cmds.add_parser(
        "migrate",
        help="re-commit legacy (scheme 1) records under salted commitments; resumable",
    )
    migrate.add_argument("--db", help=db_help)
    migrate.add_argument("--batch", type=int, default=1000, help="records per transaction")
    migrate.add_argument(
        "--restart",
        action="store_true",
        help="discard an interrupted run's work first (after restoring the log from a backup)",
    )
    migrate.set_defaults(func=cmd_migrate)


def configured_db() -> str:
    """`audit.db` (ROBOPASS_AUDIT_DB), else the log beside the demo registry of the data dir."""
    settings = configured()
    return settings.audit.db or default_audit_db(demo_database(data_dir(settings)))


def open_existing(db: str | None):
    """The log at `db`, refusing to create an empty one where the user expected data."""
    if db is None:
        db = configured_db()
    if not db.startswith(POSTGRES_SCHEMES):
        try:
            path = sqlite_file(db)
        except ValueError as exc:
            raise SystemExit(f"robopass: --db: {exc}") from None
        if not Path(path).is_file():
            raise SystemExit(f"robopass: no audit log at {path}: check --db or audit.db")
    return AuditLog(db)


def cmd_verify(args: argparse.Namespace) -> int:
    log = open_existing(args.db)
    try:
        bad = log.verify()
        if bad is not None:
            print(f"audit log BROKEN at record {bad}: edited, deleted or reordered from there on")
            return 1
        last, digest = log.head()
        print(f"audit log intact: {last} records, head {digest}")
        return 0
    finally:
        log.close()


def cmd_show(args: argparse.Namespace) -> int:
    try:
        code = RobotCode.parse(args.code).value
    except RobotCodeError as exc:
        print(f"robopass: invalid robot code: {exc}", file=sys.stderr)
        return 2
    log = open_existing(args.db)
    try:
        for row in log.trail(code, args.first, args.after):
            entry = {"id": row.id, **row.record.plain(), "scheme": row.scheme}
            chain = {"salt": row.salt, "commitment": row.commitment, "prev_hash": row.prev_hash}
            sys.stdout.write(orjson.dumps({**entry, **chain, "hash": row.hash}).decode() + "\n")
    finally:
        log.close()
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Progress on stderr, one line a batch; the summary on stdout. Ctrl-C or a kill
    loses at most the batch in flight: run the command again to resume."""
    from policies import auditmigrate

    if args.batch < 1:
        print("robopass: --batch must be at least 1", file=sys.stderr)
        return 2
    log = open_existing(args.db)

    def report(p: auditmigrate.Progress) -> None:
        print(f"re-committed {p.done}/{p.total} records", file=sys.stderr, flush=True)

    try:
        if args.restart:
            auditmigrate.restart(log)
        summary = auditmigrate.recommit(log, args.batch, report)
    except auditmigrate.ChainBroken as exc:
        print(
            f"audit log BROKEN at record {exc.id}: nothing re-committed; restore the log"
            " from a backup, then run `robopass audit migrate --restart`",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("interrupted: run `robopass audit migrate` again to resume", file=sys.stderr)
        return 130
    finally:
        log.close()
    if summary is None:
        print("audit log already under salted commitments: nothing to re-commit")
        return 0
    resumed = f", resuming after record {summary.resumed_after}" if summary.resumed_after else ""
    print(
        f"audit log re-committed{resumed}: {summary.recommitted} legacy records salted,"
        f" {summary.relinked} later records re-linked; head {summary.head_id}"
        f" {summary.new_head} (was {summary.old_head})"
    )
    return 0
