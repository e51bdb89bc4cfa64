"""The `robopass` command line: one module per command, each with `register(subparsers)`.

Only this package turns errors into exit codes and messages; everything it
calls raises typed errors.
"""

from gateway.cli.main import main

__all__ = ["main"]
