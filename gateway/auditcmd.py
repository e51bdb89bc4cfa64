"""`robopass audit verify|show`: check and read the disclosure audit log."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import orjson

from policies.auditdb import POSTGRES_SCHEMES

AUDIT_ENV = "ROBOPASS_AUDIT_DB"


def default_audit_db(registry_db: str) -> str:
    """Beside the registry it audits: `fleet.db` -> `fleet.audit.db`; a PostgreSQL
    registry keeps its `audit_log` table in its own database."""
    if registry_db.startswith(POSTGRES_SCHEMES):
        return registry_db
    path = Path(registry_db.removeprefix("sqlite:///"))
    return str(path.with_name(path.stem + ".audit.db"))


def describe(db: str) -> str:
    """Where the log is, for a console line: never a PostgreSQL URL, which may hold a password."""
    return "PostgreSQL" if db.startswith(POSTGRES_SCHEMES) else db.removeprefix("sqlite:///")


def register(sub: argparse._SubParsersAction, data_dir: str) -> None:
    """Add `audit verify` and `audit show` to the `robopass` parser."""
    audit = sub.add_parser("audit", help="check and read the disclosure audit log")
    cmds = audit.add_subparsers(dest="audit_command", required=True)
    default = os.environ.get(AUDIT_ENV) or default_audit_db(str(Path(data_dir) / "demo-cn.db"))
    db_help = "sqlite:///PATH, a path or postgresql://... (default: the demo registry's)"
    verify = cmds.add_parser("verify", help="re-hash the whole chain; exit 1 if broken")
    verify.add_argument("--db", default=default, help=db_help)
    verify.set_defaults(func=cmd_verify)
    show = cmds.add_parser("show", help="print a robot's disclosures as JSON lines")
    show.add_argument("code", help="the robot code")
    show.add_argument("--db", default=default, help=db_help)
    show.add_argument("--first", type=int, default=100, help="at most this many records")
    show.add_argument("--after", type=int, default=0, help="records after this id")
    show.set_defaults(func=cmd_show)


def open_existing(db: str):
    """The log at `db`, refusing to create an empty one where the user expected data."""
    from policies import AuditLog

    if not db.startswith(POSTGRES_SCHEMES):
        path = db.removeprefix("sqlite:///")
        if not Path(path).is_file():
            raise SystemExit(f"robopass: no audit log at {path}")
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
    from schema.code import RobotCode, RobotCodeError

    try:
        code = RobotCode.parse(args.code).value
    except RobotCodeError as exc:
        print(f"robopass: invalid robot code: {exc}", file=sys.stderr)
        return 2
    log = open_existing(args.db)
    try:
        for row in log.trail(code, args.first, args.after):
            entry = {"id": row.id, **row.record.plain(), "prev_hash": row.prev_hash}
            sys.stdout.write(orjson.dumps({**entry, "hash": row.hash}).decode() + "\n")
    finally:
        log.close()
    return 0
