"""A `PassportSource` over one registry store in this process (the embedded demo)."""

from __future__ import annotations

from datetime import datetime

from schema.events import ChainReport, Event
from schema.source import Page, RobotFilter, RobotRecord

from .store import Store, UnknownRobot


class LocalSource:
    """Serves the GraphQL layer straight from a store; SQLite reads take microseconds."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.decoded = store.decoded

    async def robot(self, code: str, as_of: datetime | None = None) -> RobotRecord | None:
        return self.store.record(code, as_of)

    async def robots(self, where: RobotFilter, first: int, after: str | None) -> Page[RobotRecord]:
        return self.store.page(where, first, after)

    async def count(self, where: RobotFilter) -> int:
        return self.store.count(where)

    async def history(self, code: str, first: int, after: str | None) -> Page[Event]:
        return self.store.history(code, first, after)

    async def integrity(self, code: str) -> ChainReport | None:
        try:
            return self.store.verify_chain(code)
        except UnknownRobot:
            return None
