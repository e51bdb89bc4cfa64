"""The `robopass` parser: one sub-command per module of this package, then dispatch.

Each command module exposes `register(subparsers)`, which adds its parser and
sets `func`, its handler. This module only puts them together and turns the
store's typed errors into the one-line message and exit status every command
gives; a command's own refusals are made in its module.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib import metadata
from typing import NoReturn

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

DESCRIPTION = """\
robopass: a GraphQL federation gateway for robot digital passports.

Start with `robopass serve` (a demo registry of synthetic robots; the banner
prints the URL, a first query and how to get a demo party's token), or
`robopass demo` (a federation of four processes on loopback). Every option is
also a configuration key (`robopass config show`); see README.md."""

EPILOG = "`robopass COMMAND --help` describes a command and its options, defaults included."

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


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help with each option's default said, when it has one and the text does not say it.

    A default of None means "from the configuration" (the help names the key
    and its default), and a switch's False is its absence: neither is shown.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        unset = default is None or default is False or default is argparse.SUPPRESS
        shown = not unset and action.nargs != 0  # 0 is a default; False (a switch) is not
        if shown and "default" not in text.lower() and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """A usage error is one line: what was wrong, and where the options are listed.

    argparse prints the command's usage above its error, which for most commands
    is several lines of options the caller did not ask about; the error names the
    argument and, for our own checks (`--robots -5`), what to give instead.
    Subcommands' parsers are made of this class too (argparse's default).
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (`{self.prog} --help` says what it takes)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="robopass", description=DESCRIPTION, epilog=EPILOG, formatter_class=HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    finish(parser)
    return parser


def finish(parser: argparse.ArgumentParser) -> None:
    """Every command's help formatted alike, its one-line help its description when it has
    none of its own, so `robopass COMMAND --help` always says what the command does."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, child in action.choices.items():
            child.formatter_class = HelpFormatter
            summary = helps.get(name)
            if not child.description and summary:
                child.description = f"{summary[0].upper()}{summary[1:]}."
            finish(child)


def version() -> str:
    """The installed distribution's version (pyproject.toml's), or `unknown` from a bare tree."""
    try:
        return metadata.version("robopass")
    except metadata.PackageNotFoundError:
        return "unknown"


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
