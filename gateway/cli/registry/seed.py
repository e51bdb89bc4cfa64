"""`robopass registry seed`: add a deterministic synthetic fleet to a store, resumably."""

from __future__ import annotations

import argparse

DEFAULT_ROBOTS = 1000


def register(reg: argparse._SubParsersAction) -> None:
    """Add `seed` to the `registry` sub-commands."""
    cmd = reg.add_parser("seed", help="add a deterministic synthetic fleet")
    cmd.add_argument("--robots", type=int, default=DEFAULT_ROBOTS)
    cmd.add_argument("--db", required=True, help="sqlite:///PATH, a path or postgresql://...")
    cmd.add_argument("--seed", type=int, default=0)
    cmd.add_argument("--country", default="CN")
    cmd.add_argument("--registry", default="cn-heis")
    cmd.set_defaults(func=cmd_seed)


def cmd_seed(args: argparse.Namespace) -> int:
    # Imported when the command runs: `robopass` builds every parser on each start.
    from gateway.store.open import open_store
    from gateway.synthetic.seeding import seed

    store = open_store(args.db, args.registry)
    added = seed(store, args.robots, seed_value=args.seed, country=args.country)
    print(f"{added} robots added; {store.count()} in {store.location}")
    return 0
