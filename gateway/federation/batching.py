"""The federation as one GraphQL request sees it: robot reads batched per registry.

A query naming a hundred robots resolves a hundred `robot(code)` fields;
each asks this source, which hands the code to a per-request DataLoader. The
loader collects every code asked for in the same tick and the federation
sends one `POST /robots:batchGet` per registry, each code once. A new
loader per request means nothing is shared between callers but the
version-keyed passport cache, which holds no caller's view.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from strawberry.dataloader import DataLoader

from schema.events import ChainReport, Event, EventType
from schema.source import (
    Change,
    Page,
    PassportSource,
    PassportWriter,
    RegistryDirectory,
    RegistryStatus,
    RobotFilter,
    RobotRecord,
)


class Federation(PassportSource, PassportWriter, RegistryDirectory, Protocol):
    """What a request's source needs of the federation (`FederatedSource` is one).

    Besides reads, writes and the directory: current records in batches, one answer per
    code in order (the record, None for no such robot, or that registry's error), the
    shape a DataLoader expects. A Protocol, so this module need not import the source
    that creates it.
    """

    async def load_current(self, codes: Sequence[str]) -> list[RobotRecord | Exception | None]: ...


class RequestSource:
    """A `PassportSource` and `PassportWriter` for one request over a `FederatedSource`."""

    def __init__(self, federation: Federation) -> None:
        self.federation = federation
        self.loader: DataLoader[str, RobotRecord | None] = DataLoader(
            load_fn=federation.load_current
        )
        self.heads: dict[str, str] = {}
        """The version of each current robot this request read, by code."""

    async def robot(self, code: str, as_of: datetime | None = None) -> RobotRecord | None:
        if as_of is not None:
            return await self.federation.robot(code, as_of)
        record = await self.loader.load(code)
        if record is not None:
            self.heads[record.passport.code] = record.head.hash
        return record

    async def robots(self, where: RobotFilter, first: int, after: str | None) -> Page[RobotRecord]:
        return await self.federation.robots(where, first, after)

    async def count(self, where: RobotFilter) -> int:
        return await self.federation.count(where)

    async def history(
        self, code: str, first: int, after: str | None, until: datetime | None = None
    ) -> Page[Event]:
        return await self.federation.history(code, first, after, until)

    async def integrity(self, code: str, through: int | None = None) -> ChainReport | None:
        return await self.federation.integrity(code, through)

    async def changes(self, where: RobotFilter, first: int, after: str | None) -> Page[Change]:
        return await self.federation.changes(where, first, after)

    async def append(
        self,
        code: str,
        type: EventType,
        payload: dict[str, Any],
        at: datetime,
        *,
        idempotency_key: str,
    ) -> Event:
        self.loader.clear(code)
        return await self.federation.append(
            code, type, payload, at, idempotency_key=idempotency_key
        )

    async def link(self, country: str, code: str, home: str, since: datetime) -> None:
        await self.federation.link(country, code, home, since)

    async def unlink(self, country: str, code: str) -> None:
        await self.federation.unlink(country, code)

    def registries(self) -> list[RegistryStatus]:
        return self.federation.registries()
