"""A `PassportSource` over one registry store in this process (the embedded demo)."""

from __future__ import annotations

from datetime import datetime

from schema.events import ChainReport, Event
from schema.source import Change, CursorError, Page, RobotFilter, RobotRecord

from .store import Store, UnknownRobot, decode_cursor, encode_cursor

FEED_CURSOR = "pos"


class LocalSource:
    """Serves the GraphQL layer straight from a store; SQLite reads take microseconds."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def robot(self, code: str, as_of: datetime | None = None) -> RobotRecord | None:
        return self.store.record(code, as_of)

    async def robots(self, where: RobotFilter, first: int, after: str | None) -> Page[RobotRecord]:
        return self.store.page(where, first, after)

    async def codes(self, where: RobotFilter, first: int, after: str | None) -> Page[str]:
        return self.store.page_codes(where, first, after)

    async def count(self, where: RobotFilter) -> int:
        return self.store.count(where)

    async def history(self, code: str, first: int, after: str | None) -> Page[Event]:
        return self.store.history(code, first, after)

    async def integrity(self, code: str) -> ChainReport | None:
        try:
            return self.store.verify_chain(code)
        except UnknownRobot:
            return None

    async def changes(self, where: RobotFilter, first: int, after: str | None) -> Page[Change]:
        """The registry's feed after a cursor; each cursor carries one registry-wide position."""
        start = feed_position(after)
        found = self.store.changes(start, first + 1, where)
        shown = found[:first]
        cursors = [encode_cursor(FEED_CURSOR, str(c.position)) for c in shown]
        return Page(shown, cursors, len(found) > first)

    async def changes_head(self, where: RobotFilter) -> str | None:
        """The newest position of the whole registry: valid for any filter, as positions are."""
        head = self.store.feed_head()
        return encode_cursor(FEED_CURSOR, str(head)) if head else None


def feed_position(cursor: str | None) -> int:
    """The feed position a cursor of ours carries; 0 for the start."""
    if cursor is None:
        return 0
    key = decode_cursor(FEED_CURSOR, cursor)
    if not key.isdigit():
        raise CursorError(f"cursor {cursor!r} is not one this API issued")
    return int(key)
