"""`robopass registry rollup`: fold old condition samples into daily aggregates.

The age defaults to `rollup.after` (ROBOPASS_ROLLUP_AFTER, 30d).
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from gateway.cli.defaults import configured


def duration(text: str) -> timedelta:
    """`30d`, `12h` or `90m`: how old samples must be to be rolled up."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number and d, h or m, e.g. 30d")
    return timedelta(**{units[unit]: int(number)})


def register(reg: argparse._SubParsersAction) -> None:
    """Add `rollup` to the `registry` sub-commands."""
    cmd = reg.add_parser(
        "rollup", help="fold condition samples older than a period into daily aggregates"
    )
    cmd.add_argument("--db", required=True, help="sqlite:///PATH, a path or postgresql://...")
    cmd.add_argument(
        "--older-than",
        type=duration,
        default=None,
        help="age of samples to roll up: 30d (the default), 12h, 90m",
    )
    cmd.set_defaults(func=cmd_rollup)


def cmd_rollup(args: argparse.Namespace) -> int:
    # Imported when the command runs: `robopass` builds every parser on each start.
    from gateway.store.open import open_store

    older_than = args.older_than
    if older_than is None:  # the schema's pattern has checked the configured value
        older_than = duration(configured().rollup.after)
    store = open_store(args.db, existing=True)
    done = store.rollup(older_than)
    print(
        f"{done.samples} samples of {done.robots} robots rolled up into {done.days} daily"
        f" aggregates (older than {older_than}) in {store.location}"
    )
    return 0
