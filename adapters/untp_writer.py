"""Compile UNTP slot pointers into one straight-line encoder.

A credential is built by writing values at JSON pointers, each creating the objects on its
way. Walking pointers for every document is slow, so the writes are generated once as
Python: each object on a pointer gets a local variable, created on the first write that
needs it. Objects therefore appear in the order of the first value written under them,
exactly as a pointer walk would create them, whichever values a mask withheld.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .generated import Namespace

__all__ = ["Write", "compile_writer"]

Plain = dict[str, Any]
Pointer = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Write:
    """Write the canonical value at `canon` (skipped when None) at `pointer`, via `encode`.

    `read`, if given, computes the value from the object holding the field instead, so a
    value may be built from its siblings; with an empty `canon` it reads the whole
    passport. Where `canon` crosses a list (one of `lists`), the value of each item is
    written to the item of the same index, at the pointer's `*`.
    """

    canon: Sequence[str]
    pointer: Pointer
    read: Callable[[Plain], Any] | None = None
    encode: Callable[[Any], Any] | None = None
    lists: frozenset[str] = frozenset()


class _Writer:
    def __init__(self, skeleton: set[Pointer]) -> None:
        self.ns = Namespace()
        self.empty = self.ns.ref({})
        self.vars: dict[Pointer, str] = {(): "doc"}
        self.skeleton = skeleton

    def var(self, pointer: Pointer) -> str:
        if pointer not in self.vars:
            self.vars[pointer] = f"c{len(self.vars)}"
        return self.vars[pointer]

    def ensure(self, pointer: Pointer, kind: str) -> list[str]:
        """Lines creating the container at `pointer` (a `kind` literal) unless it exists."""
        if not pointer:
            return []
        var, parent, key = self.var(pointer), self.var(pointer[:-1]), pointer[-1]
        inner = self.ensure(pointer[:-1], "[]" if isinstance(key, int) else "{}")
        if isinstance(key, int):
            inner += [f"while len({parent}) <= {key}:", f"    {parent}.append({{}})"]
            inner += [f"{var} = {parent}[{key}]"]
        else:
            inner += [f"{var} = {parent}[{key!r}] = {kind}"]
        return [f"if {var} is None:", *(f"    {line}" for line in inner)]

    def read(self, canon: Sequence[str]) -> str:
        """The expression for the canonical value at `canon`: None where absent."""
        expr = "plain"
        for part in canon[:-1]:
            expr = f"({expr}.get({part!r}) or {self.empty})"
        return f"{expr}.get({canon[-1]!r})" if canon else expr

    def field(self, w: Write) -> str:
        if w.read is not None:
            return f"{self.ns.ref(w.read)}(parent)"
        return f"parent.get({w.canon[-1]!r})"

    def write(self, w: Write) -> list[str]:
        encoded = f"{self.ns.ref(w.encode)}(v)" if w.encode else "v"
        if "*" not in w.pointer:
            head, key = w.pointer[:-1], w.pointer[-1]
            store = [*self.ensure(head, "{}"), f"{self.var(head)}[{key!r}] = {encoded}"]
            return [
                f"parent = {self.read(w.canon[:-1])}",
                "if parent is not None:",
                f"    v = {self.field(w)}",
                "    if v is not None:",
                *(f"        {line}" for line in store),
            ]
        crossed = [i for i in range(len(w.canon)) if ".".join(w.canon[: i + 1]) in w.lists]
        if crossed != [len(w.canon) - 2]:
            raise ValueError(f"{'.'.join(w.canon)}: only a field of a list's items can be starred")
        star = w.pointer.index("*")
        items, rest = w.pointer[:star], w.pointer[star + 1 :]
        target = "item"
        for part in rest[:-1]:
            target = f"{target}.setdefault({part!r}, {{}})"
        store = [
            *self.ensure(items, "[]"),
            f"while len({self.var(items)}) <= i:",
            f"    {self.var(items)}.append({{}})",
            f"item = {self.var(items)}[i]",
            f"{target}[{rest[-1]!r}] = {encoded}",
        ]
        return [
            f"for i, parent in enumerate({self.read(w.canon[:-1])} or ()):",
            f"    v = {self.field(w)}",
            "    if v is not None:",
            *(f"        {line}" for line in store),
        ]

    def constant(self, pointer: Pointer, value: Any) -> list[str]:
        const = repr(value) if isinstance(value, str | bool) else self.ns.ref(value)
        if "*" in pointer:
            star = pointer.index("*")
            items, rest = pointer[:star], pointer[star + 1 :]
            lines = [f"for item in {self.var(items)} or ():"]
            parent = "item"
            for depth, part in enumerate(rest[:-1]):
                lines += [
                    f"    {'    ' * depth}p = {parent}.get({part!r})",
                    f"    {'    ' * depth}if p is not None:",
                ]
                parent = "p"
            pad = "    " * (len(rest))
            return [*lines, f"{pad}{parent}[{rest[-1]!r}] = {const}"]
        head, key = pointer[:-1], pointer[-1]
        if head in self.skeleton or not head:
            return [*self.ensure(head, "{}"), f"{self.var(head)}[{key!r}] = {const}"]
        return [f"if {self.var(head)} is not None:", f"    {self.var(head)}[{key!r}] = {const}"]


def compile_writer(
    writes: Sequence[Write], constants: Sequence[tuple[Pointer, Any]], skeleton: set[Pointer]
) -> Callable[[Plain], Plain]:
    """One function writing `writes` in order, then `constants` where their parents are."""
    writer = _Writer(skeleton)
    body: list[str] = []
    for w in writes:
        body += writer.write(w)
    for pointer, value in constants:
        body += writer.constant(pointer, value)
    init = [f"{var} = None" for pointer, var in writer.vars.items() if pointer]
    return writer.ns.function("encode", "plain", ["doc = {}", *init, *body, "return doc"])
