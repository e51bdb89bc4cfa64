"""Fail on any import cycle between modules of the four packages, one line per cycle.

import-linter's `acyclic_siblings` contract finds cycles between siblings (subpackages of
gateway, modules of one package); this also finds the ones through a package's
`__init__` (a child importing what its parent re-exports while the parent imports the
child). The graph is grimp's, the one lint-imports reads: imports inside functions and
under TYPE_CHECKING count, since a lazy import is still a dependency. The exceptions
are the `ignore_imports` of the `acyclic` contract in pyproject.toml, so there is one
list of them.
"""

from __future__ import annotations

import sys
import tomllib
from collections import deque
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("schema", "adapters", "policies", "gateway")


def allowed_imports() -> set[tuple[str, str]]:
    """The `importer -> imported` pairs the acyclic contract ignores (exact names only)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    acyclic = next(c for c in contracts if c["id"] == "acyclic")
    pairs = set()
    for expression in acyclic.get("ignore_imports", []):
        importer, _, imported = (part.strip() for part in expression.partition("->"))
        pairs.add((importer, imported))
    return pairs


def components(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(edges[succ]))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def cycle_through(first: str, members: set[str], edges: dict[str, set[str]]) -> list[str]:
    """A shortest path from `first` back to itself inside one component."""
    previous: dict[str, str] = {}
    queue = deque([first])
    while queue:
        node = queue.popleft()
        for succ in sorted(edges[node] & members):
            if succ == first:
                path = [node]
                while path[-1] != first:
                    path.append(previous[path[-1]])
                return [first, *reversed(path[:-1]), first]
            if succ not in previous:
                previous[succ] = node
                queue.append(succ)
    return [first]


def main() -> int:
    graph = grimp.build_graph(*PACKAGES)
    allowed = allowed_imports()
    edges = {
        module: {
            imported
            for imported in graph.find_modules_directly_imported_by(module)
            if (module, imported) not in allowed
        }
        for module in graph.modules
    }
    cycles = components(edges)
    for members in cycles:
        path = cycle_through(members[0], set(members), edges)
        print(f"import cycle: {' -> '.join(path)}")
    if cycles:
        print(f"{len(cycles)} import cycle(s); break each one (see docs/architecture.md)")
        return 1
    print(f"no import cycle among {len(edges)} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
