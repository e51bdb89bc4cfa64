"""A registry node as an Apollo Federation v2 subgraph: `Robot @key(fields: "code")`.

A supergraph router (robopass, Apollo Router, Hive Gateway) composes the nodes'
SDLs and asks each for robots by code through `_entities`. The subgraph serves a
registry's whole records to trusted service callers: no policy mask applies here,
since the router in front applies access control, and the node's bearer-token
check decides who is a service caller at all.

Every node serves the same types, so every object type is `@shareable`: a
supergraph of a Chinese and an EU node composes without conflicts. The field
types are the gateway's own (`schema.graphql.objects`), built a second time with
the federation directive, so the two schemas cannot drift apart; so are the
resolvers of the fields both have, the robot code's parsing, the schema's
configuration and caches and the turning of a page into a connection
(`schema.graphql.robot`, `.query`, `.pages`). What is the subgraph's own is
what differs: shareable connection types and history events shown whole.

`Robot.history` gives the log as stored, every event with its hash scheme,
commitment and salt: a service caller behind the router may see every
payload, so it gets every salt too and can verify each commitment; the
router's own mask decides what its callers see.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import orjson
import strawberry
from graphql import GraphQLError
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from gateway.endpoint.http import GraphQLOverHTTP
from gateway.endpoint.limits import Limits, limit_extensions
from gateway.node.auth import READ, authorize
from gateway.node.problems import Problem
from gateway.service.local import LocalSource
from gateway.store import Store
from policies import TokenVerifier
from schema.events import Event, EventType
from schema.graphql.objects import EVERYTHING, Node, object_type
from schema.graphql.pages import Total, check_first, edges, page_info, read_page, selects
from schema.graphql.query import (
    MAX_PAGE,
    PAGE_ARGUMENTS,
    RobotFilterInput,
    robot_filter,
    schema_caches,
    schema_config,
    unexpected_errors,
)
from schema.graphql.robot import (
    AS_OF,
    CONDITION_WINDOW,
    HISTORY_PAGE,
    LATEST_CONDITION,
    VERSION,
    RobotCodeScalar,
    RobotNode,
    latest_condition,
    parse_robot_code,
    robot_as_of,
    robot_code,
    robot_node,
    robot_not_found,
    robot_version,
)
from schema.passport import ConditionSnapshot, Passport
from schema.source import PassportSource, RobotRecord

if TYPE_CHECKING:
    # Built at import from the dataclasses (`object_type`): no static type describes them.
    _Condition: TypeAlias = Any
    _PassportFields: TypeAlias = Any
else:
    _Condition = object_type(ConditionSnapshot, "conditions.", shareable=True)
    _PassportFields = object_type(Passport, "", "PassportFields", ("conditions",), shareable=True)


@dataclass(slots=True)
class SubgraphContext:
    """Per request: the source and one loader, so every robot asked for is read once."""

    source: PassportSource
    loader: DataLoader[str, RobotRecord | None] = field(init=False)

    def __post_init__(self) -> None:
        self.loader = DataLoader(self._load)

    async def _load(self, codes: list[str]) -> Sequence[RobotRecord | None]:
        return await asyncio.gather(*(self.source.robot(code) for code in codes))


@strawberry.federation.type(name="PageInfo", shareable=True, description="Where a page ends.")
class SubgraphPageInfo:
    has_next_page: bool = strawberry.field(description="Whether items follow this page.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")


@strawberry.federation.type(
    name="HistoryEvent",
    shareable=True,
    description="One event of a robot's log as stored, with its salt (service callers only).",
)
class SubgraphHistoryEvent:
    sequence: int = strawberry.field(description="Position in the robot's log, from 1.")
    hash: str = strawberry.field(description="SHA-256 chaining this event to the previous.")
    prev_hash: str = strawberry.field(description="Hash of the previous event.")
    scheme: int = strawberry.field(description="Hash scheme: 2 (salted) or 1 (legacy).")
    commitment: str | None = strawberry.field(
        description="SHA-256(salt || canonical {at, type, payload}); null for scheme 1."
    )
    salt: str | None = strawberry.field(description="The commitment's salt; null for scheme 1.")
    at: datetime | None = strawberry.field(description="When it happened (UTC).")
    type: EventType | None = strawberry.field(description="What happened.")
    payload: JSON | None = strawberry.field(description="The event's canonical content.")

    @classmethod
    def of(cls, e: Event) -> SubgraphHistoryEvent:
        return cls(
            sequence=e.sequence,
            hash=e.hash,
            prev_hash=e.prev_hash,
            scheme=e.scheme,
            commitment=e.commitment,
            salt=e.salt,
            at=e.at,
            type=e.type,
            payload=JSON(e.payload),
        )


@strawberry.federation.type(name="HistoryEdge", shareable=True, description="An event and cursor.")
class SubgraphHistoryEdge:
    cursor: str = strawberry.field(description="Opaque position of this event.")
    node: SubgraphHistoryEvent = strawberry.field(description="The event.")


@strawberry.federation.type(
    name="HistoryConnection", shareable=True, description="A page of a robot's log, oldest first."
)
class SubgraphHistoryConnection:
    edges: list[SubgraphHistoryEdge] = strawberry.field(description="The events of this page.")
    page_info: SubgraphPageInfo = strawberry.field(description="Where the page ends.")


@strawberry.federation.type(
    name="Robot",
    keys=["code"],
    shareable=True,
    description="A robot's whole passport as its registry holds it.",
)
class SubgraphRobot(_PassportFields):
    code = strawberry.field(resolver=robot_code, description="The robot code: the entity key.")
    version = strawberry.field(resolver=robot_version, description=VERSION)
    as_of = strawberry.field(resolver=robot_as_of, description=AS_OF)
    condition = strawberry.field(
        resolver=latest_condition, graphql_type=_Condition | None, description=LATEST_CONDITION
    )

    @strawberry.field(description="Condition snapshots, oldest first, within a time window.")
    def condition_history(
        self,
        root: strawberry.Parent[RobotNode],
        since: datetime | None = None,
        until: datetime | None = None,
        last: int = 100,
    ) -> list[_Condition]:
        check_first(last, CONDITION_WINDOW)
        snapshots = [
            s
            for s in root.record.passport.conditions
            if (since is None or s.at >= since) and (until is None or s.at <= until)
        ]
        return [Node(s, EVERYTHING) for s in snapshots[-last:] if last]

    @strawberry.field(description="The robot's event log as stored, oldest first.")
    async def history(
        self,
        root: strawberry.Parent[RobotNode],
        info: strawberry.Info,
        first: int = 20,
        after: str | None = None,
    ) -> SubgraphHistoryConnection:
        check_first(first, HISTORY_PAGE)
        page = await read_page(info.context.source.history(root.record.passport.code, first, after))
        return SubgraphHistoryConnection(
            edges=edges(page, SubgraphHistoryEdge, SubgraphHistoryEvent.of),
            page_info=page_info(page, SubgraphPageInfo),
        )

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, RobotNode)

    @classmethod
    async def resolve_reference(cls, info: strawberry.Info, code: Any) -> RobotNode | None:
        """One entity of `_entities`: null for a robot this registry does not hold."""
        record = await info.context.loader.load(parse_robot_code(code))
        return None if record is None else robot_node(record, EVERYTHING)


@strawberry.federation.type(name="RobotEdge", shareable=True, description="A robot and cursor.")
class SubgraphRobotEdge:
    cursor: str = strawberry.field(description="Opaque position of this robot.")
    node: SubgraphRobot = strawberry.field(description="The robot.")


@strawberry.federation.type(
    name="RobotConnection", shareable=True, description="A page of robots ordered by code."
)
class SubgraphRobotConnection:
    edges: list[SubgraphRobotEdge] = strawberry.field(description="The robots of this page.")
    page_info: SubgraphPageInfo = strawberry.field(description="Where the page ends.")
    _total: strawberry.Private[Total]

    @strawberry.field(description="Robots matching the filter.")
    async def total_count(self) -> int:
        return await self._total.value()


@strawberry.type(description="Reads of this registry's robots, for trusted service callers.")
class SubgraphQuery:
    @strawberry.federation.field(
        shareable=True, description="One robot by code, or null with NOT_FOUND."
    )
    async def robot(self, info: strawberry.Info, code: RobotCodeScalar) -> SubgraphRobot | None:
        record = await info.context.loader.load(code)
        if record is None:
            raise robot_not_found(code)
        return robot_node(record, EVERYTHING)  # type: ignore[return-value]  # a root for SubgraphRobot's resolvers

    @strawberry.federation.field(
        shareable=True, description="This registry's robots ordered by code, a page at a time."
    )
    async def robots(
        self,
        info: strawberry.Info,
        filter: RobotFilterInput | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> SubgraphRobotConnection:
        check_first(first, MAX_PAGE)
        where = robot_filter(filter)
        source = info.context.source
        # Counted only when the caller (the gateway, for its own caller) selects it.
        total = Total(partial(source.count, where), selects(info, "totalCount", "RobotConnection"))
        try:
            page = await read_page(source.robots(where, first, after))
        except BaseException:
            total.cancel()
            raise
        return SubgraphRobotConnection(
            edges=edges(page, SubgraphRobotEdge, lambda record: robot_node(record, EVERYTHING)),
            page_info=page_info(page, SubgraphPageInfo),
            _total=total,
        )


# The federation version the SDL's @link names. Every directive used (@key, @shareable)
# exists since v2.0; v2.9 is the newest that both Apollo's composer and The Guild's
# (@theguild/federation-composition) accept, where strawberry's default (v2.11) is
# refused by The Guild's as newer than it knows.
FEDERATION_VERSION: Literal["2.9"] = "2.9"


class SubgraphSchema(strawberry.federation.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Log only our own failures, as the gateway's schema does: a NOT_FOUND is an answer."""
        super().process_errors(unexpected_errors(errors), execution_context)


def build_subgraph_schema(extensions: Sequence[Any] = ()) -> strawberry.federation.Schema:
    """The subgraph schema, federation v2, with parse and validation caches on."""
    return SubgraphSchema(
        query=SubgraphQuery,
        federation_version=FEDERATION_VERSION,
        config=schema_config(),
        extensions=[*schema_caches(), *extensions],
    )


def subgraph_sdl() -> str:
    """What `_service { sdl }` answers: the SDL a composer reads."""
    return strawberry.federation.schema.print_schema(build_subgraph_schema())


class SubgraphGraphQL(GraphQLOverHTTP[SubgraphContext]):
    """The subgraph over HTTP: GraphQL over HTTP as the gateway speaks it, no console."""

    def __init__(self, source: PassportSource, limits: Limits) -> None:
        schema = build_subgraph_schema(limit_extensions(limits, PAGE_ARGUMENTS))
        super().__init__(schema, limits=limits, persisted=None, console=False)
        self.source = source

    async def get_context(self, request: Any, response: Any = None) -> SubgraphContext:
        return SubgraphContext(self.source)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def create_subgraph_app(source: PassportSource, limits: Limits | None = None) -> SubgraphGraphQL:
    """An ASGI app serving the subgraph at whatever path it is mounted on (the node: `/graphql`).

    It authenticates no one: mount it behind the node's service-token check.
    """
    return SubgraphGraphQL(source, limits or Limits())


class ServiceCallersOnly:
    """The node's rule for every route but the probes: a service token with `registry:read`.

    A refusal is the node's problem document (401 or 403 with `WWW-Authenticate`),
    so a composer or router sees the same answer as from the REST routes.
    """

    def __init__(self, app: ASGIApp, verifier: TokenVerifier) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                await authorize(Request(scope, receive), self.verifier, READ)
            except Problem as problem:
                await problem.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


def subgraph_routes(store: Store, verifier: TokenVerifier) -> list[Route]:
    """`/graphql` of a registry node: the subgraph over its store, for service callers."""
    app = ServiceCallersOnly(create_subgraph_app(LocalSource(store)), verifier)
    return [Route("/graphql", app, methods=["GET", "POST"])]
