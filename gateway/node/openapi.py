"""The node's contract as an OpenAPI 3.1 document, written as data."""

from __future__ import annotations

from typing import Any


def openapi_document(registry: str, fmt: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": f"robopass registry node {registry}", "version": "1.0.0"},
        "paths": {},
    }
