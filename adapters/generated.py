"""Straight-line functions generated from specs, compiled once at import.

A translator that walks its spec tree for every document spends most of its time on calls
and lookups that depend only on the spec. Generating one function per object, with the
spec's keys inlined and its transforms bound as globals, leaves only the document's work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Namespace"]


class Namespace:
    """The globals of a family of generated functions: what their source refers to."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {}

    def ref(self, obj: Any) -> str:
        """A global name bound to `obj`, for generated source to use."""
        name = f"_g{len(self.names)}"
        self.names[name] = obj
        return name

    def function(self, name: str, params: str, body: list[str]) -> Callable[..., Any]:
        """Compile `def name(params): body`; `body` lines are indented by four spaces each."""
        source = f"def {name}({params}):\n" + "".join(f"    {line}\n" for line in body)
        scope: dict[str, Any] = {}
        exec(compile(source, f"<robopass generated {name}>", "exec"), self.names, scope)
        return scope[name]
