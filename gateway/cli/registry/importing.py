"""`robopass registry import FILE|DIR|-`: store passports with their histories, resumably.

The documents are read and checked (`gateway.service.importing`, in one worker
process per core) and stored a batch per transaction, in input order
(`gateway.store.bulk.run_import`). A run that is killed
is resumed by running it again: robots already stored with the same history are
kept, never stored twice. Progress goes to standard error, the summary to
standard output, one line per rejected document to standard error.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

MAX_LISTED = 50


def register(reg: argparse._SubParsersAction) -> None:
    """Add `import` to the `registry` sub-commands."""
    cmd = reg.add_parser(
        "import",
        help="store NDJSON passports with their histories (cn-miit, canonical), resumably",
        description="Reads one robot per line: {format, passport, events} or a chained log"
        " {code, events}. Each document is checked and chained before it is stored, a batch"
        " per transaction; a bad document is reported with its line and the rule it broke and"
        " the rest go on. Safe to interrupt and run again.",
    )
    cmd.add_argument("inputs", nargs="+", metavar="FILE|DIR|-", help="NDJSON files, folders, -")
    cmd.add_argument("--db", required=True, help="sqlite:///PATH, a path or postgresql://...")
    cmd.add_argument("--registry", default="cn-heis", help="the registry the store holds")
    cmd.add_argument("--batch", type=int, default=500, help="robots per transaction")
    cmd.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes checking lines (default: one per core; 1 checks them in this process)",
    )
    cmd.add_argument(
        "--strict", action="store_true", help="stop at the first rejected document (exit 1)"
    )
    cmd.add_argument("--quiet", action="store_true", help="no progress bar")
    cmd.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    # Imported when the command runs: `robopass` builds every parser on each start.
    from tqdm import tqdm

    from gateway.service.importing import documents, sources
    from gateway.store.bulk import run_import
    from gateway.store.open import open_store

    if args.batch < 1:
        raise SystemExit("robopass: --batch must be at least 1")
    if args.workers < 1:
        raise SystemExit("robopass: --workers must be at least 1")
    store = open_store(args.db, args.registry)
    signal.signal(signal.SIGTERM, _stop)
    try:
        with tqdm(unit="robot", desc="import", disable=args.quiet, file=sys.stderr) as bar:
            lines = documents(sources(args.inputs, sys.stdin.buffer), workers=args.workers)
            summary = run_import(
                store, lines, batch=args.batch, strict=args.strict, progress=bar.update
            )
        total = store.count()
    except OSError as exc:
        name = exc.filename or "input"
        message = f"robopass: cannot read {name}: {exc.strerror}; nothing more was read"
        raise SystemExit(message) from None
    except KeyboardInterrupt:
        print("robopass: interrupted; run the command again to resume", file=sys.stderr)
        return 130
    finally:
        store.close()
    for rejected in summary.rejected[:MAX_LISTED]:
        print(f"rejected {rejected}", file=sys.stderr)
    if len(summary.rejected) > MAX_LISTED:
        print(f"... and {len(summary.rejected) - MAX_LISTED} more rejected", file=sys.stderr)
    stop = " (stopped at the first: --strict)" if summary.stopped else ""
    print(
        f"{summary.added} robots added, {summary.kept} already stored,"
        f" {len(summary.rejected)} rejected{stop}; {total} in {store.location}"
    )
    return 1 if summary.rejected else 0


def _stop(signum: int, frame: object) -> None:
    """A service manager's stop (SIGTERM) ends the import as Ctrl-C does: the batch being
    written rolls back, the checking processes leave with their pool instead of dying on a
    broken pipe, and one line says how to resume."""
    raise KeyboardInterrupt
