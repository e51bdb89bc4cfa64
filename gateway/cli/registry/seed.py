"""`robopass registry seed`: add a deterministic synthetic fleet to a store, resumably."""

from __future__ import annotations

import argparse

from gateway.cli.arguments import count, fleet_country

DEFAULT_ROBOTS = 1000


def register(reg: argparse._SubParsersAction) -> None:
    """Add `seed` to the `registry` sub-commands."""
    cmd = reg.add_parser("seed", help="add a deterministic synthetic fleet")
    cmd.add_argument(
        "--robots",
        type=count,
        default=DEFAULT_ROBOTS,
        help="robots 0..N-1 of the synthetic fleet; those already stored are skipped",
    )
    cmd.add_argument("--db", required=True, help="sqlite:///PATH, a path or postgresql://...")
    cmd.add_argument("--seed", type=count, default=0, help="same seed, same fleet")
    cmd.add_argument(
        "--country", type=fleet_country, default="CN", help="country of the robots' makers"
    )
    cmd.add_argument("--registry", default="cn-heis", help="the registry id the store records")
    cmd.set_defaults(func=cmd_seed)


def cmd_seed(args: argparse.Namespace) -> int:
    # Imported when the command runs: `robopass` builds every parser on each start.
    from gateway.store.open import open_store
    from gateway.synthetic.seeding import seed

    store = open_store(args.db, args.registry)
    added = seed(store, args.robots, seed_value=args.seed, country=args.country)
    print(f"{added} robots added; {store.count()} in {store.location}")
    return 0
