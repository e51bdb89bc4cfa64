"""`robopass registry verify`: re-hash every stored event log and telemetry batch.

A whole registry is read a page of robots at a time, each page in one snapshot,
and checked in one worker process per core (`gateway.service.verifying`), with
a progress bar on standard error; a broken robot's lines go to standard output
as its page is done. Named codes are checked one by one, in the order given.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.store.base import Store
    from gateway.store.verifying import PageVerdict, RobotVerdict


def register(reg: argparse._SubParsersAction) -> None:
    """Add `verify` to the `registry` sub-commands."""
    cmd = reg.add_parser("verify", help="re-hash every stored event log")
    cmd.add_argument(
        "--db", required=True, help="an existing store: sqlite:///PATH, a path or postgresql://..."
    )
    cmd.add_argument("codes", nargs="*", help="codes to check (default: all)")
    cmd.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes checking pages of robots (default: one per core; 1 checks them in"
        " this process)",
    )
    cmd.add_argument("--quiet", action="store_true", help="no progress bar")
    # Robots per page (one snapshot, a few queries): tests use small pages to cross
    # page boundaries with a few robots.
    cmd.add_argument("--page", type=int, default=None, help=argparse.SUPPRESS)
    cmd.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    """Exit 1 when any chain or telemetry batch fails its hashes; 130 when interrupted."""
    # Imported when the command runs: `robopass` builds every parser on each start.
    from tqdm import tqdm

    from gateway.store.open import open_store
    from gateway.store.verifying import ROBOT_PAGE

    if args.workers < 1:
        raise SystemExit("robopass: --workers must be at least 1")
    page = args.page or ROBOT_PAGE
    if page < 1:
        raise SystemExit("robopass: --page must be at least 1")
    store = open_store(args.db, existing=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    total = checked = bad = 0
    try:
        total = len(args.codes) if args.codes else store.count()
        with tqdm(
            total=total, unit="robot", desc="verify", disable=args.quiet, file=sys.stderr
        ) as bar:
            for verdict in _verdicts(store, args, page):
                for robot in verdict.broken:
                    bad += 1
                    for line in _lines(robot):
                        tqdm.write(line, file=sys.stdout)
                checked += verdict.checked
                bar.update(verdict.checked)
        legacy = store.legacy_count()
    except KeyboardInterrupt:
        print(
            f"robopass: interrupted after {checked} of {total} robots (verify changes"
            " nothing); run it again to check them all",
            file=sys.stderr,
        )
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        store.close()
    print(f"{checked - bad} of {checked} chains verified")
    print(
        f"{legacy} chains still on hash scheme 1 (unsalted)"
        + (": run `robopass registry recommit`" if legacy else "")
    )
    return 1 if bad else 0


def _verdicts(store: Store, args: argparse.Namespace, page: int) -> Iterator[PageVerdict]:
    from gateway.service.verifying import verify_pages
    from gateway.store.verifying import PageVerdict

    if not args.codes:
        yield from verify_pages(store, args.db, workers=args.workers, page=page)
        return
    for code in args.codes:
        robot = store.verify_robot(code)
        yield PageVerdict(1, () if robot.verified else (robot,))


def _lines(robot: RobotVerdict) -> list[str]:
    """What `verify` prints of a broken robot: its chain's first bad sequence, or else
    each telemetry batch whose samples fail their digest."""
    if not robot.chain.verified:
        return [f"{robot.code}: BROKEN at sequence {robot.chain.first_bad}: {robot.chain.reason}"]
    return [
        f"{robot.code}: telemetry batch at sequence {c.sequence}: {c.reason}"
        for c in robot.broken_batches
    ]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM ends a run as Ctrl-C does: one line, exit 130, workers gone with the pool."""
    raise KeyboardInterrupt
