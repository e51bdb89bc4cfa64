"""The one error a boundary raises for a document it will not translate."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["InvalidDocument", "Violation", "pointer"]


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule, located by a JSON pointer into the document (RFC 6901)."""

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


class InvalidDocument(ValueError):
    """A document does not conform to its format; `violations` lists every problem found.

    `hint` is the next step when one is known: a document of another format given
    as this one says which format it looks like.
    """

    def __init__(
        self, format_name: str, violations: Iterable[Violation], hint: str | None = None
    ) -> None:
        self.format = format_name
        self.hint = hint
        self.violations = sorted(violations, key=lambda v: (v.pointer, v.message))
        lines = "\n".join(f"  {v}" for v in self.violations[:20])
        more = len(self.violations) - 20
        tail = f"\n  ... and {more} more" if more > 0 else ""
        said = f" ({hint})" if hint else ""
        count = len(self.violations)
        super().__init__(
            f"invalid {format_name} document{said}, {count} violation(s):\n{lines}{tail}"
        )


def pointer(parts: Iterable[str | int]) -> str:
    """A JSON pointer from path parts, escaping `~` and `/` as RFC 6901 requires."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
