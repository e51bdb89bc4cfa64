"""`robopass registry verify`: re-hash every stored event log and telemetry batch."""

from __future__ import annotations

import argparse


def register(reg: argparse._SubParsersAction) -> None:
    """Add `verify` to the `registry` sub-commands."""
    cmd = reg.add_parser("verify", help="re-hash every stored event log")
    cmd.add_argument(
        "--db", required=True, help="an existing store: sqlite:///PATH, a path or postgresql://..."
    )
    cmd.add_argument("codes", nargs="*", help="codes to check (default: all)")
    cmd.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    """Exit 1 when any chain or telemetry batch fails its hashes."""
    # Imported when the command runs: `robopass` builds every parser on each start.
    from gateway.store.open import open_store

    store = open_store(args.db, existing=True)
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
