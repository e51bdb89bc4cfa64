"""Relay pagination: a `Page` of the source as a connection, and its argument checks.

Every paged field of ours (robots, history, the change feed, codes, the audit
trail, and the registry node's subgraph, whose types are its own shareable
copies) turns a page into edges and page info here, and answers a cursor it did
not issue, or a page size out of range, with the same BAD_USER_INPUT error.

A `robots` connection's `totalCount` is an exact count, which at a million
robots costs more than the page (BENCHMARKS.md, "The million-robot run"): it is
counted only for an operation that selects it (`selects`, `Total`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.types.nodes import SelectedField, Selection

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


def selects(info: strawberry.Info, name: str, type_name: str) -> bool:
    """Whether the operation asks for field `name` of the object (`type_name`) the current
    field returns, as GraphQL's CollectFields finds fields: under any alias, in named and
    inline fragments whose type condition is that object (or absent), and not where
    `@skip(if: true)` or `@include(if: false)` drops a field or a fragment, with the
    request's variables. The current field's own directives have already been applied:
    the executor resolves it only where they keep it.

    A fragment on an interface or union the object belongs to is not looked into (none
    of ours has any): there the answer is False, and `Total` still counts when asked.
    """
    return any(_asks(field.selections, name, type_name) for field in info.selected_fields)


def _asks(selections: Sequence[Selection], name: str, type_name: str) -> bool:
    for selection in selections:
        directives = selection.directives
        if directives.get("skip", {}).get("if") is True:
            continue
        if directives.get("include", {}).get("if") is False:
            continue
        if isinstance(selection, SelectedField):
            if selection.name == name:
                return True
        elif selection.type_condition in (None, type_name) and _asks(
            selection.selections, name, type_name
        ):
            return True
    return False


class Total:
    """A connection's exact count: started beside its page when `now` (the operation
    selects `totalCount`), else never, unless asked for after all.

    Started at once, not after the page: against registry nodes the two waits overlap,
    so a slow node costs the request one timeout, not two. Not selected, nothing is
    counted, so a page costs the page (at a million robots a count is 50-180 ms of
    PostgreSQL's CPU). Asked for though `now` was False (a selection `selects` does
    not see into), it is counted then: the answer stays exact either way.
    """

    def __init__(self, count: Callable[[], Awaitable[int]], now: bool) -> None:
        self._count = count
        self._started: asyncio.Future[int] | None = None
        if now:
            self._start()

    def _start(self) -> asyncio.Future[int]:
        if self._started is None:
            self._started = asyncio.ensure_future(self._count())
            self._started.add_done_callback(_retrieved)
        return self._started

    @property
    def started(self) -> bool:
        return self._started is not None

    def cancel(self) -> None:
        """The page failed: a count started for it is not wanted."""
        if self._started is not None:
            self._started.cancel()

    async def value(self) -> int:
        return await self._start()


def _retrieved(future: asyncio.Future[int]) -> None:
    """Mark a count's failure as seen: a response that errs before `totalCount` is
    completed (the page failed, a non-null sibling nulled the connection) never awaits it."""
    if not future.cancelled():
        future.exception()
