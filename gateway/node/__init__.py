"""The registry node: one jurisdiction's robots behind the REST contract of docs/registry-api.md.

`create_node_app` is imported on first use, so the command line can register
`robopass registry serve` without loading the web stack.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_ISSUER", "create_node_app"]

# The token issuer a node trusts when told of none: `robopass auth-server` at its default address.
DEFAULT_ISSUER = "http://127.0.0.1:9000"


def __getattr__(name: str) -> Any:
    if name == "create_node_app":
        from .app import create_node_app

        return create_node_app
    raise AttributeError(name)
