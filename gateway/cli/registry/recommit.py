"""`robopass registry recommit`: move a store's chains to hash scheme 2, resumably.

Each robot is re-committed in its own transaction (`RecommitStore.recommit`),
so a run that is killed leaves every robot either done or untouched; running
the command again skips the robots done and adds nothing twice.
"""

from __future__ import annotations

import argparse
import sys

from schema.events import SCHEME


def register(reg: argparse._SubParsersAction) -> None:
    """Add `recommit` to the `registry` sub-commands."""
    cmd = reg.add_parser(
        "recommit",
        help="re-commit scheme-1 (unsalted) event chains under scheme 2, resumably",
        description="Re-chains every robot that still holds scheme-1 events under salted"
        " commitments, one transaction per robot, and records CHAIN_RECOMMITTED on each."
        " Safe to interrupt and run again.",
    )
    cmd.add_argument("--db", required=True, help="sqlite:///PATH, a path or postgresql://...")
    cmd.add_argument("--quiet", action="store_true", help="no progress bar")
    cmd.set_defaults(func=cmd_recommit)


def cmd_recommit(args: argparse.Namespace) -> int:
    # Imported when the command runs: `robopass` builds every parser on each start.
    from tqdm import tqdm

    from gateway.store.open import open_store

    store = open_store(args.db, existing=True)
    done = events = 0
    try:
        codes = store.legacy_codes()
        with tqdm(total=len(codes), unit="robot", desc="recommit", disable=args.quiet) as bar:
            for code in codes:
                rewritten = store.recommit(code)
                if rewritten:
                    done, events = done + 1, events + rewritten
                bar.update()
        left = store.legacy_count()
    except KeyboardInterrupt:
        print(
            f"robopass: interrupted after {done} robots; run the command again to resume",
            file=sys.stderr,
        )
        return 130
    finally:
        store.close()
    print(
        f"{done} robots ({events} events) re-committed under hash scheme {SCHEME};"
        f" {left} left on scheme 1 in {store.location}"
    )
    return 0 if left == 0 else 1
