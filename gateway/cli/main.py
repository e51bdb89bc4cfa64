"""The `robopass` parser: one sub-command per module of this package, then dispatch.

Each command module exposes `register(subparsers)`, which adds its parser and
sets `func`, its handler. This module only puts them together and turns the
store's typed errors into the one-line message and exit status every command
gives; a command's own refusals are made in its module.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from gateway.cli import (
    audit,
    auth_server,
    config,
    credentials,
    demo,
    mapping,
    present,
    registry,
    sdjwt,
    serve,
    sync,
    token,
    translate,
    witness,
)

DESCRIPTION = "The `robopass` command line."

# In the order `robopass --help` lists them.
COMMANDS = (
    serve,
    config,
    token,
    auth_server,
    demo,
    registry,
    witness,
    sync,
    credentials,
    sdjwt,
    present,
    translate,
    mapping,
    audit,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="robopass", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as exc:
        message = refusal(exc)
        if message is None:
            raise
        raise SystemExit(message) from None


def refusal(exc: Exception) -> str | None:
    """The one line for a database that cannot be opened or used; None for any other error."""
    # Imported on failure only: a store error comes from a command that has loaded the store.
    from gateway.store.errors import StoreError
    from gateway.store.migrations import MigrationError

    if isinstance(exc, StoreError | MigrationError):
        return f"robopass: {exc}"
    return None
