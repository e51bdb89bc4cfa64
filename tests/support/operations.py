"""Random valid GraphQL operations over the schema: the leak test's generator, shared.

`QueryWriter` draws roots (`robot` with or without `asOf`, `robots` pages), nested
selections of the schema's own fields with aliases, inline and named fragments.
The leak test uses every root and field; the compiled-execution differential test
also draws from a narrower writer (`roots`, `skip`) so that most of its operations
are ones the compiler covers, and asks for whole connections (`pages`): `robots`
with filters, `after` cursors, `pageInfo`, `totalCount` and `__typename`, each
in plain, inline or named fragments.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection
from datetime import datetime

from graphql import (
    GraphQLField,
    GraphQLObjectType,
    get_named_type,
    is_non_null_type,
    is_object_type,
)
from hypothesis import strategies as st

from schema.codec import format_datetime
from tests.support.leaks import SCHEMA
from tests.support.mappings import COPY_ALL_ID

ARGUMENTS = {
    "export": st.sampled_from(["CANONICAL", "CN_MIIT", "AAS", "UNTP_DPP", None]).map(
        # None: a user mapping document that copies every field (tests/support/mappings.py)
        lambda f: f"(format: {f})" if f else f'(mapping: "{COPY_ALL_ID}")'
    ),
    "history": st.integers(0, 8).map(lambda n: f"(first: {n})"),
    "conditionHistory": st.integers(0, 4).map(lambda n: f"(last: {n})"),
}


class QueryWriter:
    """Writes a random valid query over the schema, with aliases and fragments.

    A `robot` root may ask `asOf` one of the robot's `times`; with `focus` (a code and
    times) the first root asks that robot at one of those times. `roots` are the root
    fields to draw from, at most `max_roots` of them; fields named in `skip` are never
    selected. With `pages` (filter values by argument name, and cursors under
    "after"), a `robots` root asks a whole connection with some of those arguments.
    """

    def __init__(
        self,
        draw,
        codes: list[str],
        times: dict[str, list[datetime]] | None = None,
        focus: tuple[str, list[datetime]] | None = None,
        roots: tuple[str, ...] = ("robot", "robots"),
        max_roots: int = 3,
        skip: Collection[str] = (),
        pages: dict[str, list[str]] | None = None,
    ) -> None:
        self.draw = draw
        self.codes = codes
        self.times = times or {}
        self.focus = focus
        self.roots = roots
        self.max_roots = max_roots
        self.skip = frozenset(skip)
        self.pages = pages
        self.aliases = itertools.count()
        self.fragments: list[str] = []

    def query(self) -> str:
        roots = self.draw(
            st.lists(st.sampled_from(self.roots), min_size=1, max_size=self.max_roots)
        )
        if self.focus is not None:
            roots[0] = "focus"
        body = " ".join(f"r{i}: {self.root(name)}" for i, name in enumerate(roots))
        return "query {" + body + "}\n" + "\n".join(self.fragments)

    def root(self, name: str) -> str:
        robot = SCHEMA._schema.type_map["Robot"]
        if name == "focus" and self.focus is not None:
            code, times = self.focus
            at = self.draw(st.sampled_from(times))
            selection = self.selection(robot, 0)
            return f'robot(code: "{code}", asOf: "{format_datetime(at)}") {{ {selection} }}'
        if name == "robot":
            code = self.draw(st.sampled_from(self.codes))
            at = self.draw(st.none() | st.sampled_from(self.times.get(code) or [None]))
            as_of = f', asOf: "{format_datetime(at)}"' if at is not None else ""
            return f'robot(code: "{code}"{as_of}) {{ {self.selection(robot, 0)} }}'
        first = self.draw(st.integers(0, 4))
        if self.pages is not None:
            return self.connection(first, self.pages)
        node = self.selection(robot, 0)
        return f"robots(first: {first}) {{ edges {{ cursor node {{ {node} }} }} }}"

    def connection(self, first: int, pages: dict[str, list[str]]) -> str:
        """`robots` with some of `pages`' arguments and some of the connection's fields."""
        arguments = [f"first: {first}"]
        filters = {k: v for k, v in pages.items() if k != "after"}
        chosen = self.draw(st.lists(st.sampled_from(sorted(filters)), max_size=2, unique=True))
        if chosen:
            pairs = (f'{k}: "{self.draw(st.sampled_from(filters[k]))}"' for k in chosen)
            arguments.append(f"filter: {{ {', '.join(pairs)} }}")
        if pages.get("after") and self.draw(st.booleans()):
            arguments.append(f'after: "{self.draw(st.sampled_from(pages["after"]))}"')
        types = SCHEMA._schema.type_map
        parts = {
            "edges": lambda: self.wrapped(
                types["RobotEdge"],
                {"cursor": lambda: "", "node": lambda: self.selection(types["Robot"], 0)},
            ),
            "pageInfo": lambda: self.wrapped(
                types["PageInfo"], {"hasNextPage": lambda: "", "endCursor": lambda: ""}
            ),
            "totalCount": lambda: "",
        }
        connection = self.wrapped(types["RobotConnection"], parts)
        return f"robots({', '.join(arguments)}) {{ {connection} }}"

    def wrapped(self, parent: GraphQLObjectType, parts: dict) -> str:
        """Some of `parts` (name: its selection, "" for a leaf), aliased, in a fragment or not."""
        names = self.draw(
            st.lists(st.sampled_from([*sorted(parts), "__typename"]), min_size=1, unique=True)
        )
        chosen = []
        for name in names:
            inner = parts[name]() if name in parts else ""
            chosen.append(f"{self.alias()}{name}" + (f" {{ {inner} }}" if inner else ""))
        return self.styled(parent, " ".join(chosen))

    def alias(self) -> str:
        return f"a{next(self.aliases)}: " if self.draw(st.booleans()) else ""

    def selection(self, parent: GraphQLObjectType, depth: int) -> str:
        fields = sorted(f for f in parent.fields if f not in self.skip)
        names = self.draw(st.lists(st.sampled_from(fields), max_size=6, unique=True))
        parts = [self.field(name, parent.fields[name], depth) for name in names]
        text = " ".join(p for p in parts if p) or "__typename"
        return self.styled(parent, text)

    def styled(self, parent: GraphQLObjectType, text: str) -> str:
        """`text` as it is, in an inline fragment, or in a named one."""
        style = self.draw(st.sampled_from(["plain", "inline", "named"]))
        if style == "inline":
            return f"... on {parent.name} {{ {text} }}"
        if style == "named":
            name = f"F{len(self.fragments)}"
            self.fragments.append(f"fragment {name} on {parent.name} {{ {text} }}")
            return f"...{name}"
        return text

    def field(self, name: str, field: GraphQLField, depth: int) -> str:
        if name not in ARGUMENTS and any(is_non_null_type(a.type) for a in field.args.values()):
            return ""
        args = self.draw(ARGUMENTS[name]) if name in ARGUMENTS else ""
        inner = get_named_type(field.type)
        if not is_object_type(inner):
            return f"{self.alias()}{name}{args}"
        if depth >= 4:
            return ""
        return f"{self.alias()}{name}{args} {{ {self.selection(inner, depth + 1)} }}"


@st.composite
def queries(draw, codes: list[str], times: dict[str, list[datetime]] | None = None, **kw) -> str:
    """A random query; keywords as `QueryWriter`'s."""
    return QueryWriter(draw, codes, times, **kw).query()
