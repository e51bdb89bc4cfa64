"""`robopass registry identify`: record party identifiers for entries stored with names only."""

from __future__ import annotations

import argparse


def register(reg: argparse._SubParsersAction) -> None:
    """Add `identify` to the `registry` sub-commands."""
    cmd = reg.add_parser(
        "identify",
        help="record party identifiers for entries stored with names only (one event per robot)",
    )
    cmd.add_argument("--db", required=True, help="sqlite:///PATH, a path or postgresql://...")
    cmd.add_argument(
        "--map",
        required=True,
        help="CSV (header name,id[,code]) or JSON ({name: id}) of stored names to identifiers",
    )
    cmd.add_argument("codes", nargs="*", help="robots to identify (default: all)")
    cmd.set_defaults(func=cmd_identify)


def cmd_identify(args: argparse.Namespace) -> int:
    """Record party identifiers for stored ownership and deployment entries (a chained event)."""
    # Imported when the command runs: `robopass` builds every parser on each start.
    from gateway.store.identify import MapError, identify, load_map
    from gateway.store.open import open_store

    try:
        parties = load_map(args.map)
    except OSError as exc:
        raise SystemExit(f"robopass: cannot read the map {args.map}: {exc.strerror}") from None
    except MapError as exc:
        raise SystemExit(f"robopass: {exc}; nothing was written") from None
    store = open_store(args.db, existing=True)
    summary = identify(store, parties, args.codes or None)
    for line in summary.lines():
        print(line)
    return 0
