"""Passports from several registry nodes, as one `PassportSource` and `PassportWriter`.

Routing: a robot lives in the registry serving its code's country prefix; a
code no registry serves is `NotServed` (NOT_FOUND). Lists, counts and change
feeds fan out concurrently to the relevant registries (all, or the one a
`registry` filter names) and merge in order, with one cursor holding every
registry's position. A registry that fails does not fail the rest: its part
is missing and named in `Page.unavailable`, or its one robot raises
`RegistryUnavailable`. Native documents are translated to canonical
passports by the adapters and kept in a `PassportCache` by version; a
registry with a `freshness` bound has a follower of its change feed, and a
single read of a version the feed vouches for does not reach the node.

Over 500 lines because it is one contract (`PassportSource`) over many nodes;
routing, caching and following are separate modules it composes.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx
import orjson

from gateway.store import EventRejected, IdempotencyConflict, UnknownRobot
from gateway.store.cursors import decode_position, encode_cursor
from schema.codec import format_datetime, to_plain
from schema.events import ChainReport, Event, EventType
from schema.passport import ConditionSnapshot, Passport
from schema.source import (
    Appended,
    Change,
    CursorError,
    Head,
    LogInclusion,
    NotServed,
    Page,
    RegistryStatus,
    RegistryUnavailable,
    RobotFilter,
    RobotRecord,
)
from schema.writes import WriteRejected

from . import cursor
from .batching import RequestSource
from .cache import PassportCache
from .client import RegistryClient, UpstreamHook, problem_details
from .config import RegistryConfig
from .freshness import Follower, Freshness
from .transparency import LogMonitor
from .wire import (
    BadRecord,
    chain_report_of,
    change_of,
    event_body,
    event_of,
    head_of,
    passport_of,
)

NDJSON = "application/x-ndjson"
SAMPLE = re.compile(r"samples\[(\d+)\]")

BATCH_LIMIT = 500
"""Codes per `POST /robots:batchGet`, the node's cap."""
PAGE_LIMIT = 500
"""Items per page of a node's lists, its cap."""

LoadResult = RobotRecord | None | Exception


class FederatedSource:
    """The gateway's passports, read from and written to the registry nodes configured."""

    def __init__(
        self,
        registries: Sequence[RegistryConfig],
        *,
        on_upstream: UpstreamHook | None = None,
        env: Mapping[str, str] | None = None,
        cache: PassportCache | None = None,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        self.clients = {
            r.id: RegistryClient(
                r, on_upstream=on_upstream, env=env, transport=(transports or {}).get(r.id)
            )
            for r in registries
        }
        self.homes = {c: self.clients[r.id] for r in registries for c in r.countries}
        self.cache = cache if cache is not None else PassportCache()
        self.freshness = {r.id: Freshness(r.freshness) for r in registries if r.freshness > 0}
        self.logs = {
            r.id: LogMonitor(r.id, r.log_key, r.witnesses)
            for r in registries
            if r.log_key is not None
        }
        self._followers: dict[str, asyncio.Task[None]] = {}

    async def aclose(self) -> None:
        await self.stop_following()
        await asyncio.gather(*(c.aclose() for c in self.clients.values()))

    def _follow(self, client: RegistryClient) -> Freshness | None:
        """The registry's freshness, its feed follower started on first use."""
        freshness = self.freshness.get(client.id)
        if freshness is None:
            return None
        task = self._followers.get(client.id)
        if task is None or task.done():
            follower = Follower(client, freshness, freshness.bound / 2)
            self._followers[client.id] = asyncio.create_task(follower.run())
        return freshness

    async def stop_following(self) -> None:
        """Stop the feed followers (they start again on the next read)."""
        tasks = list(self._followers.values())
        self._followers.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for freshness in self.freshness.values():
            freshness.unverified()

    def vouched(self, code: str) -> tuple[Head, Passport] | None:
        """The cached current version of `code` while its registry's feed vouches for it."""
        client = self.homes.get(code[:2])
        freshness = self.freshness.get(client.id) if client is not None else None
        cached = self.cache.latest(code)
        if freshness is None or cached is None or not freshness.current(code, cached[0].hash):
            return None
        return cached

    def _invalidate(self, code: str) -> None:
        """A write through this gateway (it may have landed even if it failed): the
        code's next read asks the node, whichever registry holds it."""
        for freshness in self.freshness.values():
            freshness.invalidate(code)

    def request_scope(self) -> RequestSource:
        """This source for one request: single-robot reads batched per registry."""
        return RequestSource(self)

    # -- routing --------------------------------------------------------------

    def home(self, code: str) -> RegistryClient:
        client = self.homes.get(code[:2])
        if client is None:
            raise NotServed(code)
        return client

    def relevant(self, where: RobotFilter) -> list[RegistryClient]:
        if where.registry is None:
            return list(self.clients.values())
        return [c for c in self.clients.values() if c.id == where.registry]

    # -- reads ----------------------------------------------------------------

    async def robot(self, code: str, as_of: datetime | None = None) -> RobotRecord | None:
        """The robot now, or as of a time together with its current record: who the
        caller is to the robot is decided from the present one."""
        client = self.home(code)
        if as_of is None:
            return await self._one(client, code)
        past, now = await asyncio.gather(self._past(client, code, as_of), self._one(client, code))
        if past is None or now is None:
            return None
        return RobotRecord(past.passport, past.head, as_of, current=now.passport)

    async def _past(self, client: RegistryClient, code: str, as_of: datetime) -> RobotRecord | None:
        response = await client.call(
            "GET",
            "GET /robots/{code}",
            f"/robots/{code}",
            idempotent=True,
            params={"asOf": format_datetime(as_of)},
        )
        read_at = time.monotonic()
        if response.status_code == 404:
            return None
        return await self._logged(
            client,
            await self._record(client, _json(client, response, 200), current=False),
            read_at,
        )

    async def load_current(self, codes: Sequence[str]) -> list[LoadResult]:
        """Current records of `codes`, one batch per registry, concurrently; for a DataLoader.

        Each result is a record, None (no such robot) or the exception for that
        code (`NotServed`, or `RegistryUnavailable` for every code of a failed node).
        """
        groups: dict[str, list[str]] = {}
        found: dict[str, LoadResult] = {}
        for code in dict.fromkeys(codes):
            client = self.homes.get(code[:2])
            if client is None:
                found[code] = NotServed(code)
            else:
                groups.setdefault(client.id, []).append(code)
        answers = await asyncio.gather(
            *(self._batch(self.clients[name], group) for name, group in groups.items()),
            return_exceptions=True,
        )
        for (_name, group), answer in zip(groups.items(), answers, strict=True):
            if isinstance(answer, RegistryUnavailable):
                found.update(dict.fromkeys(group, answer))
            elif isinstance(answer, BaseException):
                raise answer
            else:
                found.update(answer)
        return [found[code] for code in codes]

    async def _batch(self, client: RegistryClient, codes: list[str]) -> dict[str, LoadResult]:
        if len(codes) == 1:
            return {codes[0]: await self._one(client, codes[0])}
        found: dict[str, LoadResult] = dict.fromkeys(codes)
        for start in range(0, len(codes), BATCH_LIMIT):
            chunk = codes[start : start + BATCH_LIMIT]
            response = await client.call(
                "POST",
                "POST /robots:batchGet",
                "/robots:batchGet",
                idempotent=True,
                json={"codes": chunk, "asOf": None},
            )
            read_at = time.monotonic()
            body = _json(client, response, 200)
            records = [await self._record(client, data) for data in _items(client, body, "robots")]
            await self._all_logged(client, records, read_at)
            found.update((record.passport.code, record) for record in records)
        return found

    async def _one(self, client: RegistryClient, code: str) -> RobotRecord | None:
        """One current record: from the cache while the registry's feed vouches for it,
        else revalidated with `If-None-Match` when a version is cached."""
        freshness = self._follow(client)
        cached = self.cache.latest(code)
        if cached is not None and freshness is not None and freshness.current(code, cached[0].hash):
            return await self._logged(client, RobotRecord(cached[1], cached[0]), time.monotonic())
        epoch = freshness.epoch if freshness is not None else 0
        headers = {"if-none-match": f'"{cached[0].hash}"'} if cached else None
        response = await client.call(
            "GET", "GET /robots/{code}", f"/robots/{code}", idempotent=True, headers=headers
        )
        read_at = time.monotonic()
        if response.status_code == 304 and cached is not None:
            record = RobotRecord(cached[1], cached[0])
        elif response.status_code == 404:
            return None
        else:
            record = await self._record(client, _json(client, response, 200))
        if freshness is not None:
            freshness.grant(record.passport.code, record.head.hash, epoch)
        return await self._logged(client, record, read_at)

    async def _logged(
        self, client: RegistryClient, record: RobotRecord, read_at: float
    ) -> RobotRecord:
        """`record` (its node's answer arrived at `read_at`, monotonic), once its version is
        proven in the registry's log (when it has one)."""
        monitor = self.logs.get(client.id)
        if monitor is not None:
            await monitor.check(client, record.passport.code, record.head, read_at)
        return record

    async def _all_logged(
        self, client: RegistryClient, records: Sequence[RobotRecord], read_at: float
    ) -> None:
        """Every version of a list answer proven in the registry's log, or the answer's
        part from this registry refused: a split view shows in lists as in single reads."""
        await self._versions_logged(client, [(r.passport.code, r.head) for r in records], read_at)

    async def _versions_logged(
        self, client: RegistryClient, versions: list[tuple[str, Head]], read_at: float
    ) -> None:
        monitor = self.logs.get(client.id)
        if monitor is not None and versions:
            await monitor.check_many(client, versions, read_at)

    async def _record(self, client: RegistryClient, data: Any, current: bool = True) -> RobotRecord:
        """A node's record as ours; a past view is cached but never taken for the latest.

        The document is checked and translated in a worker thread: done on the event
        loop it holds the loop for a large passport, and every call awaiting a node
        meanwhile (the current record next to a past view, other robots of the query)
        is charged that time against its timeout and can fail as unavailable though
        its node answered promptly."""
        try:
            head = head_of(data)
            code = data["code"]
            sent, configured = data.get("format", client.config.format), client.config.format
            if sent != configured:
                raise BadRecord(f"the node sends {sent!r} documents, not {configured!r}")
            passport = self.cache.get(code, head.hash)
            if passport is None:
                fmt, document = client.config.format, data["document"]
                passport = await asyncio.to_thread(passport_of, fmt, document)
                if passport.code != code:
                    raise BadRecord(f"record of {code} holds the passport of {passport.code}")
            self.cache.put(code, head, passport, latest=current)
        except (BadRecord, KeyError, TypeError, AttributeError) as exc:
            raise RegistryUnavailable(
                client.id, f"sent a record that does not parse: {exc}"
            ) from None
        return RobotRecord(passport, head)

    async def robots(self, where: RobotFilter, first: int, after: str | None) -> Page[RobotRecord]:
        clients = self.relevant(where)
        start = cursor.decode("robots", after, [c.id for c in clients], str)
        answers = await asyncio.gather(
            *(self._list(c, where, first, start[c.id]) for c in clients), return_exceptions=True
        )
        parts, failed = _settle(clients, answers)
        items, positions, more = cursor.merge(parts, start, first, lambda r: r.passport.code)
        cursors = [cursor.encode("robots", p) for p in positions]
        return Page(items, cursors, more, tuple(failed))

    async def _list(
        self, client: RegistryClient, where: RobotFilter, first: int, after: Any
    ) -> cursor.Part[RobotRecord]:
        params = {**_filters(where), "first": _page_size(first)}
        if after is not None:
            params["after"] = after
        response = await client.call(
            "GET", "GET /robots", "/robots", idempotent=True, params=params
        )
        read_at = time.monotonic()
        if response.status_code == 400 and after is not None:
            raise CursorError(f"registry {client.id} refused its position in the cursor")
        body = _json(client, response, 200)
        records = [await self._record(client, data) for data in _items(client, body, "robots")]
        await self._all_logged(client, records, read_at)
        cursors = _items(client, body, "cursors")
        if len(cursors) != len(records):
            raise RegistryUnavailable(
                client.id, "sent a page whose cursors do not match its robots"
            )
        return cursor.Part(records, cursors, bool(body.get("hasNextPage")))

    async def count(self, where: RobotFilter) -> int:
        """The sum over relevant registries; a registry that cannot count fails the count."""
        clients = self.relevant(where)
        answers = await asyncio.gather(
            *(self._count(c, where) for c in clients), return_exceptions=True
        )
        total = 0
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
            total += answer
        return total

    async def _count(self, client: RegistryClient, where: RobotFilter) -> int:
        response = await client.call(
            "GET", "GET /robots:count", "/robots:count", idempotent=True, params=_filters(where)
        )
        body = _json(client, response, 200)
        count = body.get("count") if isinstance(body, dict) else None
        if not isinstance(count, int):
            raise RegistryUnavailable(client.id, "sent a count that is not a number")
        return count

    async def history(
        self, code: str, first: int, after: str | None, until: datetime | None = None
    ) -> Page[Event]:
        start = decode_position("seq", after) if after else 0
        client = self.home(code)
        params: dict[str, Any] = {"after": start, "first": _page_size(first)}
        if until is not None:
            params["until"] = format_datetime(until)
        response = await client.call(
            "GET",
            "GET /robots/{code}/events",
            f"/robots/{code}/events",
            idempotent=True,
            params=params,
        )
        if response.status_code == 404:
            return Page([], [], False)
        body = _json(client, response, 200)
        events = _parsed(client, _items(client, body, "events"), event_of)
        if until is not None and any(e.at > until for e in events):
            raise RegistryUnavailable(client.id, "sent events after the time asked for")
        more = bool(body.get("hasNextPage")) or len(events) > first
        events = events[:first]
        cursors = [encode_cursor("seq", str(e.sequence)) for e in events]
        return Page(events, cursors, more)

    async def integrity(self, code: str, through: int | None = None) -> ChainReport | None:
        client = self.home(code)
        params = {"through": through} if through is not None else None
        response = await client.call(
            "GET",
            "GET /robots/{code}/integrity",
            f"/robots/{code}/integrity",
            idempotent=True,
            params=params,
        )
        if response.status_code == 404:
            return None
        return _parsed(client, [_json(client, response, 200)], chain_report_of)[0]

    async def changes(self, where: RobotFilter, first: int, after: str | None) -> Page[Change]:
        clients = self.relevant(where)
        start = cursor.decode("changes", after, [c.id for c in clients], int)
        answers = await asyncio.gather(
            *(self._changes(c, where, first, start[c.id] or 0) for c in clients),
            return_exceptions=True,
        )
        parts, failed = _settle(clients, answers)
        items, positions, more = cursor.merge(parts, start, first, lambda c: c.event.at)
        cursors = [cursor.encode("changes", p) for p in positions]
        return Page(items, cursors, more, tuple(failed))

    async def _changes(
        self, client: RegistryClient, where: RobotFilter, first: int, after: int
    ) -> cursor.Part[Change]:
        params: dict[str, Any] = {"after": after, "first": _page_size(first)}
        if where.owner is not None:
            params["owner"] = where.owner
        if where.owner_id is not None:
            params["owner_id"] = where.owner_id
        response = await client.call(
            "GET", "GET /changes", "/changes", idempotent=True, params=params
        )
        read_at = time.monotonic()
        body = _json(client, response, 200)
        changes = _parsed(client, _items(client, body, "changes"), change_of)
        # each change is the version its event made: logged, or the part is refused
        versions = [(c.event.code, Head(c.event.sequence, c.event.hash)) for c in changes]
        await self._versions_logged(client, versions, read_at)
        positions = [c.position for c in changes]
        return cursor.Part(changes, positions, len(changes) >= _page_size(first))

    # -- writes ---------------------------------------------------------------

    async def append(
        self,
        code: str,
        type: EventType,
        payload: dict[str, Any],
        at: datetime,
        *,
        idempotency_key: str,
    ) -> Event:
        """One event in the robot's home registry; sent once, never retried here."""
        try:
            client = self.home(code)
        except NotServed as exc:
            raise UnknownRobot(str(exc)) from None
        try:
            response = await client.call(
                "POST",
                "POST /robots/{code}/events",
                f"/robots/{code}/events",
                idempotent=False,
                json=event_body(type, payload, at),
                headers={"idempotency-key": idempotency_key},
            )
        finally:
            self._invalidate(code)
        status = response.status_code
        if status in (200, 201):
            return _parsed(client, [_json(client, response, status).get("event")], event_of)[0]
        detail = _detail(response)
        if status == 404:
            raise UnknownRobot(detail)
        if status == 409:
            raise IdempotencyConflict(detail)
        if status in (400, 422):
            raise EventRejected(detail)
        raise RegistryUnavailable(client.id, f"answered HTTP {status} to an append")

    async def ingest_conditions(
        self,
        batches: Mapping[str, Sequence[ConditionSnapshot]],
        *,
        idempotency_key: str,
        positions: Mapping[str, Sequence[int]] | None = None,
    ) -> dict[str, Appended]:
        """Condition samples, sent as NDJSON to each robot's home registry, once.

        Each registry stores its part whole or not at all; a batch that spans
        registries is atomic per registry only, and a retry with the same key
        completes it without storing any part twice.
        """
        parts: dict[str, list[str]] = {}
        for code in batches:
            try:
                parts.setdefault(self.home(code).id, []).append(code)
            except NotServed as exc:
                raise UnknownRobot(str(exc)) from None
        done: dict[str, Appended] = {}
        for registry, codes in parts.items():
            client = self.clients[registry]
            places = [i for code in codes for i in (positions or {}).get(code, ())]
            lines = (
                orjson.dumps({"code": code, **to_plain(sample)})
                for code in codes
                for sample in batches[code]
            )
            try:
                response = await client.call(
                    "POST",
                    "POST /robots:conditions",
                    "/robots:conditions",
                    idempotent=False,
                    content=b"\n".join(lines),
                    headers={"idempotency-key": idempotency_key, "content-type": NDJSON},
                )
            finally:
                for code in codes:
                    self._invalidate(code)
            done.update(_ingested(client, response, places))
        return done

    async def link(self, country: str, code: str, home: str, since: datetime) -> None:
        client = self._serving(country)
        try:
            response = await client.call(
                "PUT",
                "PUT /links/{code}",
                f"/links/{code}",
                idempotent=False,
                json={"home": home, "since": format_datetime(since)},
            )
        finally:
            self._invalidate(code)
        if response.status_code >= 300:
            raise ValueError(f"registry {client.id} refused the link: {_detail(response)}")

    async def unlink(self, country: str, code: str) -> None:
        client = self._serving(country)
        try:
            response = await client.call(
                "DELETE", "DELETE /links/{code}", f"/links/{code}", idempotent=False
            )
        finally:
            self._invalidate(code)
        if response.status_code >= 300 and response.status_code != 404:
            raise ValueError(f"registry {client.id} refused the unlink: {_detail(response)}")

    def _serving(self, country: str) -> RegistryClient:
        client = self.homes.get(country)
        if client is None:
            raise ValueError(f"no registry of this gateway serves country {country}")
        return client

    # -- status ---------------------------------------------------------------

    def _untrusted(self, registry: str) -> str | None:
        """The evidence against a registry's log, or why its last checkpoint was refused."""
        monitor = self.logs.get(registry)
        return (monitor.untrusted or monitor.last_refusal) if monitor is not None else None

    def log_inclusion(self, code: str, head: Head) -> LogInclusion | None:
        """The checkpoint of its home registry's log version `head` of `code` is proven in."""
        client = self.homes.get(code[:2])
        monitor = self.logs.get(client.id) if client is not None else None
        return monitor.inclusion(code, head) if monitor is not None else None

    def registries(self) -> list[RegistryStatus]:
        """Each registry's breaker and last error, for /readyz and the `registries` query."""
        return [
            RegistryStatus(
                id=c.id,
                format=c.config.format,
                countries=c.config.countries,
                jurisdictions=c.config.jurisdictions,
                breaker=c.state.value,
                last_error=c.last_error,
                last_error_at=c.last_error_at,
                untrusted=self._untrusted(c.id),
                checkpoint=self.logs[c.id].size if c.id in self.logs else None,
            )
            for c in self.clients.values()
        ]


def _settle(
    clients: list[RegistryClient], answers: list[Any]
) -> tuple[dict[str, cursor.Part[Any]], list[RegistryUnavailable]]:
    """Parts of the registries that answered, and the failures of those that did not."""
    parts: dict[str, cursor.Part[Any]] = {}
    failed: list[RegistryUnavailable] = []
    for client, answer in zip(clients, answers, strict=True):
        if isinstance(answer, RegistryUnavailable):
            failed.append(answer)
        elif isinstance(answer, BaseException):
            raise answer
        else:
            parts[client.id] = answer
    return parts, failed


def _page_size(first: int) -> int:
    """What to ask a node for: it takes 1 to 500; asking one for a page of none tells
    whether any follow."""
    return min(max(first, 1), PAGE_LIMIT)


def _filters(where: RobotFilter) -> dict[str, str]:
    names = ("manufacturer", "category", "status", "owner", "owner_id", "campaign")
    found = {n: getattr(where, n) for n in names if getattr(where, n) is not None}
    # The node answers a campaign filter itself, narrowed as the gateway decided.
    if where.campaign_states:
        found["campaign_states"] = ",".join(where.campaign_states)
    if where.campaign_countries:
        found["campaign_countries"] = ",".join(where.campaign_countries)
    return found


def _json(client: RegistryClient, response: httpx.Response, expected: int) -> Any:
    """The body of an expected answer; anything else means the node cannot serve this."""
    if response.status_code != expected:
        raise RegistryUnavailable(client.id, f"answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise RegistryUnavailable(client.id, "answered with a body that is not JSON") from None


def _items(client: RegistryClient, body: Any, key: str) -> list[Any]:
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise RegistryUnavailable(client.id, f"answered without a {key!r} list")
    return items


def _parsed(client: RegistryClient, items: list[Any], parse: Any) -> list[Any]:
    try:
        return [parse(item) for item in items]
    except BadRecord as exc:
        raise RegistryUnavailable(client.id, f"sent a record that does not parse: {exc}") from None


def _ingested(
    client: RegistryClient, response: httpx.Response, places: Sequence[int]
) -> dict[str, Appended]:
    """A node's answer to a telemetry batch; its `samples[i]` named as in the caller's batch."""
    status = response.status_code
    if status in (200, 201):
        items = _items(client, _json(client, response, status), "events")
        replayed = response.headers.get("idempotent-replayed") == "true"
        return {e.code: Appended(e, replayed) for e in _parsed(client, items, event_of)}
    problem = problem_details(response)
    detail = _detail(response)
    if status == 404:
        raise UnknownRobot(detail)
    if status == 409:
        raise IdempotencyConflict(detail)
    if status in (400, 422):
        field = SAMPLE.sub(
            lambda m: f"samples[{_place(places, int(m[1]))}]", problem.get("field") or ""
        )
        raise WriteRejected(problem.get("rule"), field or None, problem.get("detail", detail))
    raise RegistryUnavailable(client.id, f"answered HTTP {status} to a telemetry batch")


def _place(places: Sequence[int], index: int) -> int:
    return places[index] if 0 <= index < len(places) else index


def _detail(response: httpx.Response) -> str:
    """The problem's detail, or its status."""
    detail = problem_details(response).get("detail")
    return detail if isinstance(detail, str) else f"HTTP {response.status_code}"
