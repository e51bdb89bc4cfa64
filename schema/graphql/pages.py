"""Relay pagination: a `Page` of the source as a connection, and its argument checks.

Every paged field of ours (robots, history, the change feed, codes, the audit
trail, and the registry node's subgraph, whose types are its own shareable
copies) turns a page into edges and page info here, and answers a cursor it did
not issue, or a page size out of range, with the same BAD_USER_INPUT error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError

from ..source import CursorError, Page

T = TypeVar("T")
E = TypeVar("E")
P = TypeVar("P")


@strawberry.type(description="Where a page ends and whether another follows (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether items follow this page.")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` to get the next page; opaque."
    )


def bad_input(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})


def check_first(first: int, cap: int) -> None:
    if not 0 <= first <= cap:
        raise bad_input(f"first must be between 0 and {cap}, got {first}")


async def read_page(page: Awaitable[Page[T]]) -> Page[T]:
    """The page a source answers; a cursor it did not issue is the caller's mistake."""
    try:
        return await page
    except CursorError as exc:
        raise bad_input(str(exc)) from None


def edges(page: Page[T], edge: Callable[..., E], node: Callable[[T], Any]) -> list[E]:
    """One `edge(cursor=..., node=...)` per item, in the page's order."""
    return [
        edge(cursor=cursor, node=node(item))
        for cursor, item in zip(page.cursors, page.items, strict=True)
    ]


def page_info(page: Page[Any], info: Callable[..., P] = PageInfo) -> P:  # type: ignore[assignment]
    """Where the page ends, as `info` (the gateway's `PageInfo` unless a schema has its own)."""
    return info(has_next_page=page.has_next_page, end_cursor=page.end_cursor)
