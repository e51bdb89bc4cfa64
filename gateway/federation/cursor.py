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
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

from gateway.store.cursors import MAX_CURSOR_CHARS, is_position, not_issued

T = TypeVar("T")
P = TypeVar("P", int, str)
Position = str | int | None
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_NODE_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,512}")


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
    kind: str, cursor: str | None, registries: Collection[str], position: type[P]
) -> dict[str, P | None]:
    """The positions in `cursor` (none: every registry from its start), each one checked.

    An int position is in 0..MAX_POSITION (a node's SQL integer); a str position
    is a node's own cursor, URL-safe base64 of bounded length, passed on to that
    node, which validates it again.
    """
    if cursor is None:
        return dict.fromkeys(registries)
    refused = not_issued(cursor)
    if len(cursor) > MAX_CURSOR_CHARS or not _BASE64URL.fullmatch(cursor):
        raise refused
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise refused from None
    if not isinstance(data, dict) or data.get("k") != kind or not isinstance(data.get("p"), dict):
        raise refused
    found: dict[str, Any] = data["p"]
    if set(found) != set(registries):
        raise refused
    valid = is_position if position is int else _is_node_cursor
    if not all(value is None or valid(value) for value in found.values()):
        raise refused
    return found


def _is_node_cursor(value: object) -> bool:
    return isinstance(value, str) and _NODE_CURSOR.fullmatch(value) is not None


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
