"""One opaque cursor over many registries: each registry's own position inside.

A federated list merges the pages of several nodes; to resume it, a cursor
must say where the caller stands in every one of them. The cursor is the
positions as JSON in URL-safe base64, tagged with the list it belongs to. A
cursor of another list, of a gateway with other registries, or edited by
hand is refused as `CursorError` (BAD_USER_INPUT), and so is a position a
node itself refuses.
"""

from __future__ import annotations

import base64
import heapq
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

from schema.source import CursorError

T = TypeVar("T")
Position = str | int | None


@dataclass(frozen=True, slots=True)
class Part(Generic[T]):
    """One registry's page: its items, each with the node's position after it."""

    items: Sequence[T]
    positions: Sequence[Position]
    has_next_page: bool


def encode(kind: str, positions: Mapping[str, Position]) -> str:
    body = orjson.dumps({"k": kind, "p": dict(positions)}, option=orjson.OPT_SORT_KEYS)
    return base64.urlsafe_b64encode(body).decode().rstrip("=")


def decode(
    kind: str, cursor: str | None, registries: Collection[str], position: type
) -> dict[str, Position]:
    """The positions in `cursor` (none: every registry from its start)."""
    if cursor is None:
        return dict.fromkeys(registries)
    refused = CursorError(f"cursor {cursor!r} is not one this API issued")
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise refused from None
    if not isinstance(data, dict) or data.get("k") != kind or not isinstance(data.get("p"), dict):
        raise refused
    found: dict[str, Any] = data["p"]
    if set(found) != set(registries):
        raise refused
    for value in found.values():
        if value is None:
            continue
        if type(value) is not position or value == "" or (position is int and value < 0):
            raise refused
    return found


def merge(
    parts: Mapping[str, Part[T]],
    start: Mapping[str, Position],
    first: int,
    key: Callable[[T], Any],
) -> tuple[list[T], list[dict[str, Position]], bool]:
    """The first `first` items of all parts in `key` order, with the positions after each.

    A registry missing from `parts` (it failed) keeps its start position, so
    resuming from any returned cursor asks it again from where it was.
    Whether more follow: some part had items left over, or said so itself.
    """
    positions = dict(start)
    streams = [
        [(key(item), name, index, item) for index, item in enumerate(part.items)]
        for name, part in parts.items()
    ]
    taken: list[T] = []
    after: list[dict[str, Position]] = []
    used = dict.fromkeys(parts, 0)
    for _sort, name, index, item in heapq.merge(*streams):
        if len(taken) == first:
            break
        positions[name] = parts[name].positions[index]
        used[name] = index + 1
        taken.append(item)
        after.append(dict(positions))
    more = any(used[name] < len(part.items) or part.has_next_page for name, part in parts.items())
    return taken, after, more
