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
    verify.add_argument(
        "--checkpoint", metavar="FILE", help="an earlier checkpoint the log must still hold"
    )
    verify.add_argument("--log-key", metavar="VKEY", help="the audit log key (with --checkpoint)")
    verify.set_defaults(func=cmd_verify)
    checkpoint = cmds.add_parser(
        "checkpoint", help="print the audit log's signed checkpoint (keep it to detect cut-offs)"
    )
    checkpoint.add_argument("--db", help=db_help)
    checkpoint.add_argument("--data-dir", default=None, help="where the audit log key lives")
    checkpoint.add_argument("--name", default="local", help="the log's name: robopass.audit/NAME")
    checkpoint.add_argument(
        "--witness", action="append", metavar="URL", help="a witness's add-checkpoint URL"
    )
    checkpoint.set_defaults(func=cmd_checkpoint)
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
        if args.checkpoint:
            held = _held_checkpoint(log, args.checkpoint, args.log_key)
            if isinstance(held, str):
                print(f"audit log {held}")
                return 1
            print(f"audit log holds checkpoint {held}: no record of it was cut off or changed")
        print(f"audit log intact: {last} records, head {digest}")
        return 0
    finally:
        log.close()


def _held_checkpoint(log: AuditLog, path: str, log_key: str | None) -> int | str:
    """The size of the checkpoint at `path` if `log` still holds it, else what is wrong."""
    from gateway.service.auditlog import AuditTransparency, CheckpointMismatch
    from schema.tlog.note import NoteError, Verifier

    if not log_key:
        raise SystemExit("robopass: --checkpoint needs --log-key (robopass audit checkpoint)")
    try:
        key = Verifier.from_vkey(log_key)
        note = Path(path).read_text("utf-8")
    except NoteError as exc:
        raise SystemExit(f"robopass: --log-key: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"robopass: cannot read {path}: {exc}") from None
    checker = AuditTransparency(log)
    try:
        return checker.check(note, key).size
    except CheckpointMismatch as exc:
        return str(exc)
    except ValueError as exc:
        return f"cannot be logged: {exc}"


def cmd_checkpoint(args: argparse.Namespace) -> int:
    """The signed checkpoint on stdout, the log key on stderr."""
    from gateway.credentials.logkey import load_or_create
    from gateway.service.auditlog import AUDIT_KEY_FILE, AuditTransparency, audit_origin
    from gateway.service.witnessing import WitnessedLog

    folder = Path(args.data_dir or data_dir(configured())).expanduser()
    log = open_existing(args.db)
    try:
        signer = load_or_create(folder / AUDIT_KEY_FILE, audit_origin(args.name))
        audit = AuditTransparency(log, signer)
        witnessed = WitnessedLog(audit, args.witness) if args.witness else None
        try:
            note = witnessed.checkpoint() if witnessed is not None else audit.checkpoint()
        except ValueError as exc:
            print(f"robopass: the audit log cannot be logged: {exc}", file=sys.stderr)
            return 1
        finally:
            if witnessed is not None:
                for url, error in witnessed.errors().items():
                    print(f"robopass: witness {url} did not cosign: {error}", file=sys.stderr)
                witnessed.close()
    finally:
        log.close()
    print(f"audit log key: {signer.verifier.vkey()}", file=sys.stderr)
    sys.stdout.write(note)
    return 0


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
