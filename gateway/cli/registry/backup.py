"""`robopass registry backup`: a consistent copy of a SQLite registry and its audit log, online.

The registry and the disclosure audit log beside it (`fleet.db`, `fleet.audit.db`)
are copied with SQLite's online backup API while the gateway may keep serving
and writing. A PostgreSQL registry is backed up with `pg_dump` (the command says
how). A copy is restored by putting its files where the configuration points
and is then checked with `robopass registry verify` and `robopass audit verify`.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(reg: argparse._SubParsersAction) -> None:
    """Add `backup` to the `registry` sub-commands."""
    cmd = reg.add_parser(
        "backup",
        help="copy a SQLite registry and its audit log while it runs (PostgreSQL: pg_dump)",
    )
    cmd.add_argument("--db", required=True, help="sqlite:///PATH or a path")
    cmd.add_argument("--out", required=True, help="a folder for the copies (created if needed)")
    cmd.add_argument(
        "--audit-db", help="the audit log's file (default: beside the registry, NAME.audit.db)"
    )
    cmd.set_defaults(func=cmd_backup)


def cmd_backup(args: argparse.Namespace) -> int:
    # Imported when the command runs: `robopass` builds every parser on each start.
    from gateway.cli.audit import default_audit_db
    from gateway.store.backup import BackupError, backup_sqlite
    from gateway.store.open import is_postgres, sqlite_path

    if is_postgres(args.db):
        raise SystemExit(
            "robopass: back up a PostgreSQL registry with pg_dump (its audit_log table"
            " included): pg_dump -Fc -f registry.dump URL; restore with"
            " pg_restore -d NEW_URL registry.dump, then robopass registry verify --db NEW_URL"
        )
    registry = Path(sqlite_path(args.db))
    audit = Path(args.audit_db or default_audit_db(str(registry)))
    out = Path(args.out)
    copies = [(registry, out / registry.name)]
    if args.audit_db or audit.exists():
        copies.append((audit, out / audit.name))
    try:
        for source, target in copies:
            size = backup_sqlite(source, target)
            print(f"{source} -> {target} ({size} bytes)")
    except BackupError as exc:
        raise SystemExit(f"robopass: {exc}; nothing was overwritten") from None
    if len(copies) == 1:
        print(f"no audit log at {audit}: only the registry was copied")
    print(f"check a restored copy with: robopass registry verify --db {out / registry.name}")
    return 0
