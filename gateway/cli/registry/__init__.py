"""`robopass registry ...`: tools of a registry node, one module per sub-command.

The group follows the same convention as the top-level commands: each module
exposes `register(subparsers)` and its handler.
"""

from __future__ import annotations

import argparse

from gateway.cli.registry import (
    backup,
    fleet,
    identify,
    importing,
    recommit,
    rollup,
    seed,
    serve,
    verify,
)

# In the order `robopass registry --help` lists them.
COMMANDS = (seed, fleet, importing, verify, backup, recommit, identify, rollup, serve)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `registry` group and its sub-commands to the `robopass` commands."""
    registry = sub.add_parser("registry", help="registry node tools")
    commands = registry.add_subparsers(dest="registry_command", required=True)
    for command in COMMANDS:
        command.register(commands)
