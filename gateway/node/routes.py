"""The REST routes of a registry node, as docs/registry-api.md describes them.

Store calls block (SQLite, or a PostgreSQL round trip), so each runs on a
worker thread and the event loop keeps answering other callers meanwhile.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from time import monotonic
from typing import Any, TypeVar

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.service.feedtail import TailFollower
from gateway.store import EventRejected, IdempotencyConflict, Store, UnknownRobot
from gateway.store.cursors import MAX_POSITION
from policies import TokenVerifier
from schema.events import EventError, EventType, decode_payload
from schema.passport import Passport
from schema.source import CursorError, RobotRecord
from schema.writes import WriteRejected, check_event

from . import inputs
from .auth import READ, WRITE, authorize
from .problems import Problem, bad_request, not_found
from .records import (
    Documents,
    change_json,
    event_json,
    integrity_json,
    link_json,
    record_json,
)

T = TypeVar("T")
MAX_BATCH = 500
MAX_WAIT_MS = 10_000
"""The longest `GET /changes?waitMs=` hold."""
Handler = Callable[[Request], Awaitable[Response]]
EVENT_TYPES = ", ".join(t.value for t in EventType)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def database_errors() -> tuple[type[Exception], ...]:
    """What a database that cannot answer raises, for the 503 STORE_UNAVAILABLE."""
    errors: list[type[Exception]] = [sqlite3.Error]
    try:
        import psycopg
    except ImportError:
        pass
    else:
        errors.append(psycopg.Error)
    return tuple(errors)


class NodeApi:
    """The handlers, bound to one store, one native format and one token verifier."""

    def __init__(self, store: Store, documents: Documents, verifier: TokenVerifier) -> None:
        self.store = store
        self.documents = documents
        self.verifier = verifier
        self.registry = store.registry
        self._database_errors = database_errors()

    async def run(self, work: Callable[..., Any], *args: Any) -> Any:
        """A blocking store call on a worker thread; a database that fails is a 503."""
        return await self.guarded(run_in_threadpool(work, *args))

    async def guarded(self, call: Awaitable[T]) -> T:
        """Await store work that runs its own threads; a database that fails is a 503."""
        try:
            return await call
        except self._database_errors as exc:
            raise Problem(
                503, "STORE_UNAVAILABLE", f"the registry store failed: {type(exc).__name__}"
            ) from None

    def _record(self, record: RobotRecord) -> dict[str, Any]:
        return record_json(record, self.registry, self.documents)

    def _records(self, records: list[RobotRecord]) -> list[dict[str, Any]]:
        return [self._record(r) for r in records]

    # -- reads --------------------------------------------------------------

    async def robot(self, request: Request) -> Response:
        await authorize(request, self.verifier, READ)
        params = inputs.known_parameters(request, ("asOf",))
        code = inputs.robot_code(request.path_params["code"])
        as_of = inputs.time(params.get("asOf"), "asOf")
        record = await self.run(self.store.record, code, as_of)
        if record is None:
            when = f" at {params['asOf']}" if as_of else ""
            raise not_found(f"no robot {code} in registry {self.registry}{when}")
        if as_of is not None:
            return json_response(await self.run(self._record, record))
        etag = {"ETag": f'"{record.head.hash}"'}
        if _matches(request.headers.get("if-none-match"), record.head.hash):
            return Response(status_code=304, headers=etag)
        return json_response(await self.run(self._record, record), headers=etag)

    async def batch_get(self, request: Request) -> Response:
        await authorize(request, self.verifier, READ)
        inputs.known_parameters(request, ())
        body = await inputs.json_object(request, ("codes", "asOf"), ("codes",))
        codes = body["codes"]
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise bad_request("codes must be a list of robot code strings")
        if len(codes) > MAX_BATCH:
            raise Problem(
                400,
                "TOO_MANY_CODES",
                f"at most {MAX_BATCH} codes per batch, got {len(codes)}",
                limit=MAX_BATCH,
            )
        as_of = inputs.time(body.get("asOf"), "asOf")
        wanted = list(
            dict.fromkeys(inputs.robot_code(c, f"codes[{i}]") for i, c in enumerate(codes))
        )

        def read() -> tuple[list[dict[str, Any]], list[str]]:
            if as_of is None:
                stored = self.store.records(wanted)
            else:
                stored = {c: r for c in wanted if (r := self.store.record(c, as_of)) is not None}
            found = [self._record(stored[c]) for c in wanted if c in stored]
            return found, [c for c in wanted if c not in stored]

        found, missing = await self.run(read)
        return json_response({"robots": found, "missing": missing})

    async def robots(self, request: Request) -> Response:
        await authorize(request, self.verifier, READ)
        params = inputs.known_parameters(request, (*inputs.FILTERS, "first", "after"))
        where = inputs.robot_filter(params)
        count = inputs.first(params)
        after = params.get("after") or None
        try:
            page = await self.run(self.store.page, where, count, after)
        except CursorError as exc:
            raise bad_request(f"after: {exc}") from None
        robots = await self.run(self._records, page.items)
        return json_response(
            {"robots": robots, "cursors": page.cursors, "hasNextPage": page.has_next_page}
        )

    async def count(self, request: Request) -> Response:
        await authorize(request, self.verifier, READ)
        where = inputs.robot_filter(inputs.known_parameters(request, inputs.FILTERS))
        return json_response({"count": await self.run(self.store.count, where)})

    async def events(self, request: Request) -> Response:
        await authorize(request, self.verifier, READ)
        params = inputs.known_parameters(request, ("after", "first", "until"))
        code = inputs.robot_code(request.path_params["code"])
        after = inputs.integer(params, "after", 0, 0, MAX_POSITION)
        count = inputs.first(params)
        until = inputs.time(params.get("until"), "until")
        events = await self.run(
            lambda: self.store.events(code, after=after, limit=count + 1, until=until)
        )
        if not events and await self.run(self.store.head, code) is None:
            raise not_found(f"no robot {code} in registry {self.registry}")
        return json_response(
            {"events": [event_json(e) for e in events[:count]], "hasNextPage": len(events) > count}
        )

    async def integrity(self, request: Request) -> Response:
        await authorize(request, self.verifier, READ)
        params = inputs.known_parameters(request, ("through",))
        code = inputs.robot_code(request.path_params["code"])
        through = inputs.integer(params, "through", 0, 1, inputs.MAX_THROUGH) or None
        try:
            report = await self.run(self.store.verify_chain, code, through)
        except UnknownRobot:
            raise not_found(f"no robot {code} in registry {self.registry}") from None
        return json_response(integrity_json(report))

    async def changes(self, request: Request) -> Response:
        """The feed after a position; with `waitMs`, an empty answer is held until the feed
        moves (the store's one watcher, LISTEN/NOTIFY on PostgreSQL) or the wait ends, and
        `waitedMs` says how long after the request the last read began: a follower knows the
        feed was at its end at least that late (`gateway.federation.freshness`)."""
        await authorize(request, self.verifier, READ)
        names = ("after", "first", "owner", "owner_id", "waitMs")
        params = inputs.known_parameters(request, names)
        after = inputs.integer(params, "after", 0, 0, MAX_POSITION)
        count = inputs.first(params)
        wait = inputs.integer(params, "waitMs", 0, 0, MAX_WAIT_MS) / 1000
        where = inputs.robot_filter(
            {"owner": params.get("owner", ""), "owner_id": params.get("owner_id", "")}
        )
        bell = self.store.feed_bell
        follower = TailFollower(self.store, where, after)  # wakes share one read (feedtail)
        start, woken = monotonic(), None
        while True:
            mark = bell.mark() if wait else None
            read_at = monotonic() - start
            changes, _ = await self.guarded(follower.next(count, woken))
            left = wait - (monotonic() - start)
            if changes or mark is None or left <= 0:
                break
            await bell.wait(mark, left)  # then read again: the answer is as of that read
            woken = mark
        last = changes[-1].position if changes else after
        body: dict[str, Any] = {"changes": [change_json(c) for c in changes], "lastPosition": last}
        if wait:
            body["waitedMs"] = int(read_at * 1000)  # rounded down: never later than it was
        return json_response(body)

    # -- writes -------------------------------------------------------------

    async def append(self, request: Request) -> Response:
        await authorize(request, self.verifier, WRITE)
        inputs.known_parameters(request, ())
        code = inputs.robot_code(request.path_params["code"])
        key = inputs.idempotency_key(request)
        body = await inputs.json_object(
            request, ("type", "at", "payload"), ("type", "at", "payload")
        )
        try:
            kind = EventType(body["type"])
        except (ValueError, TypeError):
            raise bad_request(f"type must be one of {EVENT_TYPES}") from None
        at = inputs.time(body["at"], "at")
        if at is None:
            raise bad_request("at must be an ISO 8601 time with a UTC offset")
        payload = body["payload"]
        if not isinstance(payload, dict):
            raise bad_request("payload must be a JSON object")
        try:
            typed = decode_payload(kind, payload)
        except (EventError, ValueError, TypeError, KeyError) as exc:
            raise Problem(422, "EVENT_REJECTED", f"{kind.value} payload: {exc}") from None

        def check(passport: Passport) -> None:
            """The gateway's write rules again, under the robot's lock: any caller, same rules."""
            check_event(passport, kind, typed, datetime.now(UTC))

        earlier = await self.run(self.store.event_by_key, key)
        try:
            event = await self.run(
                lambda: self.store.append(code, kind, payload, at, idempotency_key=key, check=check)
            )
        except WriteRejected as exc:
            raise Problem(422, "EVENT_REJECTED", str(exc), rule=exc.rule, field=exc.field) from None
        except UnknownRobot:
            raise not_found(f"no robot {code} in registry {self.registry}") from None
        except IdempotencyConflict as exc:
            raise Problem(409, "IDEMPOTENCY_CONFLICT", str(exc)) from None
        except EventRejected as exc:
            raise Problem(422, "EVENT_REJECTED", f"{kind.value} does not apply: {exc}") from None
        if earlier is not None:
            return json_response(
                {"event": event_json(event)}, headers={"Idempotent-Replayed": "true"}
            )
        return json_response({"event": event_json(event)}, status=201)

    async def links(self, request: Request) -> Response:
        await authorize(request, self.verifier, READ)
        params = inputs.known_parameters(request, ("after", "first"))
        after = inputs.robot_code(params["after"], "after") if params.get("after") else None
        count = inputs.first(params)
        links = await self.run(self.store.links, after, count + 1)
        return json_response(
            {"links": [link_json(x) for x in links[:count]], "hasNextPage": len(links) > count}
        )

    async def put_link(self, request: Request) -> Response:
        await authorize(request, self.verifier, WRITE)
        inputs.known_parameters(request, ())
        code = inputs.robot_code(request.path_params["code"])
        body = await inputs.json_object(request, ("home", "since"), ("home", "since"))
        home = inputs.registry_id(body["home"], "home")
        if home == self.registry:
            raise bad_request(f"home must be another registry than this one ({self.registry})")
        since = inputs.time(body["since"], "since")
        if since is None:
            raise bad_request("since must be an ISO 8601 time with a UTC offset")
        await self.run(self.store.put_link, code, home, since)
        return json_response({"link": {"code": code, "home": home, "since": body["since"]}})

    async def delete_link(self, request: Request) -> Response:
        await authorize(request, self.verifier, WRITE)
        inputs.known_parameters(request, ())
        code = inputs.robot_code(request.path_params["code"])
        if not await self.run(self.store.delete_link, code):
            raise not_found(f"no link of robot {code} in registry {self.registry}")
        return Response(status_code=204)

    # -- probes -------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        return json_response({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        await self.run(self.store.codes, 1)
        return json_response({"status": "ready"})

    def routes(self) -> list[Route]:
        return [
            Route("/robots:batchGet", self.batch_get, methods=["POST"]),
            Route("/robots:count", self.count, methods=["GET"]),
            Route("/robots", self.robots, methods=["GET"]),
            Route("/robots/{code}", self.robot, methods=["GET"]),
            Route("/robots/{code}/events", self.events, methods=["GET"]),
            Route("/robots/{code}/events", self.append, methods=["POST"]),
            Route("/robots/{code}/integrity", self.integrity, methods=["GET"]),
            Route("/changes", self.changes, methods=["GET"]),
            Route("/links", self.links, methods=["GET"]),
            Route("/links/{code}", self.put_link, methods=["PUT"]),
            Route("/links/{code}", self.delete_link, methods=["DELETE"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
        ]


def _matches(if_none_match: str | None, head_hash: str) -> bool:
    """RFC 9110 weak comparison of an If-None-Match list against the current head."""
    if if_none_match is None:
        return False
    for tag in if_none_match.split(","):
        tag = tag.strip().removeprefix("W/")
        if tag == "*" or tag == f'"{head_hash}"':
            return True
    return False
