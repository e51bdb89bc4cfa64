"""The query root and the schema object.

Over 500 lines because the query root is one strawberry type (its fields cannot be
split across modules but by the mixins it already uses for campaigns, webhooks and
credentials) and the schema object is built beside it, from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator
from datetime import datetime
from functools import lru_cache, partial
from typing import Annotated, Any

import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    Node,
    SourceLocation,
    validate,
)
from graphql.execution.executor import to_nodes
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from ..campaigns import RobotState
from ..code import CodeProfile, RobotCode, RobotCodeError
from ..source import CursorError, Page, RobotFilter
from .audit import AuditConnection, audit_trail
from .campaigns import CampaignMutations, CampaignQueries, campaign_filter
from .context import DeniedHint, PartialAnswers
from .credentials import CredentialQuery
from .feed import (
    CODES_PAGE,
    FEED_PAGE,
    CodePage,
    FleetChange,
    FleetChangeConnection,
    FleetFeed,
    fleet_changes,
    fleet_codes,
    fleet_feed,
    passport_changed,
)
from .formats import PassportFormat, TranslationResult
from .mutation import Mutation
from .objects import DENIED_CODE, field_denied, graphql_enum
from .pages import PageInfo, Total, bad_input, check_first, edges, page_info, selects
from .registries import Registry, coded, registry_unavailable
from .robot import (
    CONDITION_WINDOW,
    HISTORY_PAGE,
    ROBOT_CODE,
    CodeSegment,
    Robot,
    RobotCodeScalar,
    robot_node,
    robot_not_found,
)
from .webhooks import WebhookMutations, WebhookQueries

graphql_enum(CodeProfile)

MAX_PAGE = 100

PAGE_ARGUMENTS: dict[str, tuple[str, int]] = {
    "Query.robots": ("first", MAX_PAGE),
    "Robot.history": ("first", HISTORY_PAGE),
    "Robot.conditionHistory": ("last", CONDITION_WINDOW),
    "Query.fleetChanges": ("first", FEED_PAGE),
    "Query.fleetCodes": ("first", CODES_PAGE),
}
"""Paged fields by schema coordinate: the size argument and its cap, for cost analysis."""


@strawberry.input(description="Equality filters on robots; unset fields match any.")
class RobotFilterInput:
    manufacturer: str | None = strawberry.field(default=None, description="Manufacturer name.")
    category: str | None = strawberry.field(default=None, description="e.g. BIPED_HUMANOID.")
    status: str | None = strawberry.field(default=None, description="e.g. ACTIVE.")
    owner: str | None = strawberry.field(
        default=None,
        description=(
            "Current owner's name; names are never matched for a caller under policies"
            " (UNAUTHORIZED_FIELD_OR_TYPE): use ownerId."
        ),
    )
    owner_id: str | None = strawberry.field(
        default=None,
        description="Current owner's party identifier; under policies only the caller's own.",
    )
    registry: str | None = strawberry.field(default=None, description="Home registry id.")
    campaign: str | None = strawberry.field(
        default=None,
        description=(
            "Robots this campaign reached; listed to whom Campaign.robots lists them"
            " (FORBIDDEN otherwise), a foreign authority its own country's."
        ),
    )
    campaign_state: RobotState | None = strawberry.field(
        default=None,
        description="With `campaign`: robots in this state under it (OVERDUE after the deadline).",
    )


PLAIN_FILTERS = ("manufacturer", "category", "status", "owner", "owner_id", "registry")


def robot_filter(given: RobotFilterInput | None) -> RobotFilter:
    """The source's filter from the `filter` argument's plain fields; unset fields match
    any. The campaign fields need the campaign and the caller (`campaign_filter`): a
    registry node's subgraph, which has neither, refuses them."""
    if given is not None and (given.campaign is not None or given.campaign_state is not None):
        raise bad_input("filter.campaign is answered by the gateway, not here")
    return plain_filter(given)


def plain_filter(given: RobotFilterInput | None) -> RobotFilter:
    if given is None:
        return RobotFilter()
    return RobotFilter(**{name: getattr(given, name) for name in PLAIN_FILTERS})


async def _none() -> int:
    """A total known without asking: no robot can match."""
    return 0


@strawberry.type(description="A robot with its cursor.")
class RobotEdge:
    cursor: str = strawberry.field(description="Opaque position of this robot.")
    node: Robot = strawberry.field(description="The robot.")


@strawberry.type(description="A page of robots ordered by code (Relay pagination).")
class RobotConnection:
    edges: list[RobotEdge] = strawberry.field(description="The robots of this page.")
    page_info: PageInfo = strawberry.field(description="Where the page ends.")
    _total: strawberry.Private[Total]

    @strawberry.field(
        description=(
            "Robots matching the filter; null with REGISTRY_UNAVAILABLE when a registry"
            " could not count its own."
        )
    )
    async def total_count(self) -> int | None:
        return await self._total.value()


@strawberry.type(description="The result of checking a robot code, valid or not.")
class RobotCodeDecoding:
    valid: bool = strawberry.field(description="Whether the code passes every rule.")
    code: str | None = strawberry.field(description="The canonical form, when valid.")
    grouped: str | None = strawberry.field(description="The code split into its groups.")
    rule: str | None = strawberry.field(
        description="The rule broken: length, alphabet, country, date or check."
    )
    position: int | None = strawberry.field(description="1-based position of the fault.")
    message: str | None = strawberry.field(description="What is wrong, for a person.")
    segments: list[CodeSegment] = strawberry.field(description="The decoded segments.")


@strawberry.type(description="Reads of robot passports.")
class Query(CredentialQuery, CampaignQueries, WebhookQueries):
    @strawberry.field(
        description=(
            "One robot by code, or null with NOT_FOUND. With `asOf`, the passport as it stood"
            " at that moment: the fold of its events up to then."
        )
    )
    async def robot(
        self, info: strawberry.Info, code: RobotCodeScalar, as_of: datetime | None = None
    ) -> Robot | None:
        if as_of is not None and as_of.tzinfo is None:
            raise bad_input("asOf must carry a UTC offset")
        record = await info.context.source.robot(code, as_of)
        if record is None:
            raise robot_not_found(code, " at that time" if as_of else "")
        return robot_node(record, info.context.view(record))  # type: ignore[return-value]  # a root for Robot's resolvers

    @strawberry.field(description="Robots ordered by code, filtered, a page at a time.")
    async def robots(
        self,
        info: strawberry.Info,
        filter: RobotFilterInput | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> RobotConnection:
        check_first(first, MAX_PAGE)
        campaign = filter.campaign if filter else None
        state = filter.campaign_state if filter else None
        where = plain_filter(filter)
        if state is not None and campaign is None:
            raise bad_input("filter.campaignState needs filter.campaign: the campaign it is under")
        if campaign is not None:
            narrowed = await campaign_filter(info.context, campaign, state)
            if narrowed is None:  # e.g. OVERDUE before the deadline: none can be
                empty: Page[Any] = Page([], [], False)
                none = Total(_none, now=False)
                return RobotConnection(edges=[], page_info=page_info(empty), _total=none)
            where = dataclasses.replace(
                where,
                campaign=narrowed.campaign,
                campaign_states=narrowed.campaign_states,
                campaign_countries=narrowed.campaign_countries,
            )
        if where.owner is not None and not info.context.may_filter_by_owner_name():
            raise field_denied("ownership.owner")
        if where.owner_id is not None and not info.context.may_filter_by_owner(where.owner_id):
            raise field_denied("ownership.owner_id")
        # Counted only when selected, and then while the page is read (`Total`).
        source = info.context.source
        counting = selects(info, "totalCount", "RobotConnection")
        total = Total(partial(source.count, where), now=counting)
        try:
            page = await source.robots(where, first, after)
        except CursorError as exc:
            total.cancel()
            raise bad_input(str(exc)) from None
        except BaseException:
            total.cancel()
            raise
        path = info.path.as_list()
        info.context.partial_errors.extend(registry_unavailable(e, path) for e in page.unavailable)
        return RobotConnection(
            edges=edges(page, RobotEdge, lambda r: robot_node(r, info.context.view(r))),
            page_info=page_info(page),
            _total=total,
        )

    @strawberry.field(
        description=(
            "The registry nodes this gateway federates, with the state of each; empty for a"
            " gateway serving one embedded registry."
        )
    )
    def registries(self, info: strawberry.Info) -> list[Registry]:
        return [Registry.of(status) for status in info.context.registries()]

    @strawberry.field(
        description=(
            "Where the change feed of a fleet stands now: whose robots it follows and a"
            " cursor at its head. `ownerId` (a party identifier) defaults to the caller's own;"
            " another owner gets UNAUTHORIZED_FIELD_OR_TYPE unless the policies allow it."
        )
    )
    async def fleet_feed(self, info: strawberry.Info, owner_id: str | None = None) -> FleetFeed:
        return await fleet_feed(info, owner_id)

    @strawberry.field(
        description=(
            "Changes to the robots of an owner, by its party identifier `ownerId` (by default"
            " the caller's own), oldest first, each masked as Robot.history masks events;"
            " resume after a cursor. Robots are matched by their owner now, not at the event."
            " A follower at the feed's end may pass `waitSeconds` (at most 10): an empty page"
            " is then held until a change arrives or the wait ends, instead of polling."
        )
    )
    async def fleet_changes(
        self,
        info: strawberry.Info,
        owner_id: str | None = None,
        after: str | None = None,
        first: int = 100,
        wait_seconds: float = 0.0,
    ) -> FleetChangeConnection:
        return await fleet_changes(info, owner_id, first, after, wait_seconds)

    @strawberry.field(
        description=(
            "The codes of an owner's robots now, by its party identifier `ownerId` (by default"
            " the caller's own), in code order: what a mirror keeps, so it can drop robots"
            " that left the fleet."
        )
    )
    async def fleet_codes(
        self,
        info: strawberry.Info,
        owner_id: str | None = None,
        after: str | None = None,
        first: int = 1000,
    ) -> CodePage:
        return await fleet_codes(info, owner_id, first, after)

    @strawberry.field(
        description=(
            "Who was shown which fields of a robot, oldest first, from the hash-chained audit"
            " log. For the registry's own regulator and the robot's current owner; anyone else"
            " gets UNAUTHORIZED_FIELD_OR_TYPE."
        )
    )
    async def audit_trail(
        self,
        info: strawberry.Info,
        code: RobotCodeScalar,
        first: int = 20,
        after: str | None = None,
    ) -> AuditConnection | None:
        return await audit_trail(info.context, code, first, after)

    @strawberry.field(description="Check a code a person typed and explain what is wrong.")
    def decode_robot_code(
        self, code: str, profile: CodeProfile = CodeProfile.RPC29
    ) -> RobotCodeDecoding:
        try:
            parsed = RobotCode.parse(code, profile)
        except RobotCodeError as exc:
            return RobotCodeDecoding(
                valid=False,
                code=None,
                grouped=None,
                rule=exc.rule,
                position=exc.position,
                message=str(exc),
                segments=[],
            )
        return RobotCodeDecoding(
            valid=True,
            code=parsed.value,
            grouped=parsed.grouped(),
            rule=None,
            position=None,
            message=None,
            segments=[CodeSegment(name=k, value=v) for k, v in parsed.segments().items()],
        )

    @strawberry.field(
        description=(
            "Translate a passport document between formats, with a report of every field"
            " lost. An invalid document yields INVALID_DOCUMENT listing each violation."
        )
    )
    def translate(
        self,
        info: strawberry.Info,
        document: JSON,
        from_: Annotated[PassportFormat, strawberry.argument(name="from")],
        to: PassportFormat,
    ) -> TranslationResult:
        return info.context.translate(document, from_.value, to.value)


@strawberry.type(description="Changes pushed to the client as they are written.")
class Subscription:
    @strawberry.subscription(
        description=(
            "Changes from the moment of subscribing to the robots of an owner, by its party"
            " identifier `ownerId` (by default the caller's own), optionally only those of"
            " `codes`; each masked as fleetChanges masks it. Over graphql-transport-ws at"
            " /graphql."
        )
    )
    async def passport_changed(
        self,
        info: strawberry.Info,
        owner_id: str | None = None,
        codes: list[RobotCodeScalar] | None = None,
    ) -> AsyncGenerator[FleetChange, None]:
        async for change in passport_changed(info, owner_id, codes):
            yield change


class _ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Expected errors (ours, carrying a code) are answers, and are made cheaply.

    A query over many robots with hidden fields raises one error per hidden field
    per robot, so their cost is the policies' cost (BENCHMARKS.md, policy
    overhead). An expected error drops its traceback: kept, it pins every frame
    it passed through, and with them the request's passports, in a cycle only a
    full garbage collection frees. It is located in place, with the source
    locations of each field node computed once per request, instead of being
    copied into a new located error.

    A federation's typed errors (a registry unavailable, a code no registry
    serves) become their coded GraphQL errors here, in one place; errors a
    resolver reported beside its data (`partial_errors` of the context: the
    registries missing from a list) join the response's errors at the end.
    """

    def handle_field_error(
        self,
        raw_error: Exception,
        return_type: Any,
        field_details_list: Any,
        path: Any,
    ) -> None:
        raw_error = coded(raw_error)
        if isinstance(raw_error, GraphQLError) and raw_error.extensions:
            raw_error.__traceback__ = None
            if raw_error.path is None:
                nodes: list[Node] = [*to_nodes(field_details_list)]
                raw_error.nodes = nodes
                raw_error.locations = self._locations(nodes)
                raw_error.path = path.as_list()
            if raw_error.extensions.get("code") == DENIED_CODE:
                raw_error.message = denied_message(raw_error, self.context_value)
        super().handle_field_error(raw_error, return_type, field_details_list, path)

    def build_response(self, data: Any) -> Any:
        result = super().build_response(data)
        context = self.context_value
        # Incremental results come only with @defer or @stream, which this schema lacks.
        partial = isinstance(context, PartialAnswers) and context.partial_errors
        if partial and isinstance(result, ExecutionResult):
            result.errors = [*(result.errors or ()), *context.partial_errors]
        return result

    def _locations(self, nodes: list[Any]) -> list[SourceLocation] | None:
        cache: dict[tuple[int, ...], Any] = self.__dict__.setdefault("_located", {})
        key = tuple(id(n) for n in nodes)
        if key not in cache:
            found = [n.loc.source.get_location(n.loc.start) for n in nodes if n.loc]
            cache[key] = found or None
        return cache[key]


def denied_message(error: GraphQLError, context: Any) -> str:
    """The refusal of a hidden field: the field asked for, what it would show, next step.

    The policy path (`extensions.field`) is a category of the passport, not
    always the field the query named (`condition` shows `conditions`), so both
    are said; the hint depends on the caller only, the same for every robot.
    Both executors (strawberry's and the gateway's compiled plans) word it here.
    """
    asked = next((p for p in reversed(error.path or ()) if isinstance(p, str)), None)
    shown = error.extensions.get("field") if error.extensions else None
    message = f"Unauthorized field: {asked or shown}"
    if asked and shown and shown.rsplit(".", 1)[-1] != asked:
        message += f" (it shows {shown}, which this caller may not see)"
    if isinstance(context, DeniedHint):
        message += f": {context.denied_hint()}"
    return message


def unexpected_errors(errors: list[GraphQLError]) -> list[GraphQLError]:
    """The errors worth a log line: raised by our code without a code of their own.

    A coded error (NOT_FOUND, BAD_ROBOT_CODE, a hidden field) is an answer to the
    caller, not an alert, and a validation error is the caller's mistake.
    """
    return [e for e in errors if e.original_error and not e.extensions]


class PassportSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context=None) -> None:
        """Log only what went wrong on our side: a caller's mistake is an answer, not an alert."""
        super().process_errors(unexpected_errors(errors), execution_context)


class SchemaValidationCache(ValidationCache):
    """Validation cached in the schema's own cache (`schema_caches`).

    strawberry's ValidationCache shares one module-level cache per size across every
    schema of the process, keyed by the schema: each schema a process builds stays alive
    until 512 newer validations push it out (a test session builds hundreds, and the
    collector then walks them all). A cache made per extension instance would cache
    nothing: the extension is made again for every request.
    """

    def __init__(self, validate: Any) -> None:
        super().__init__(CACHE_SIZE)
        self.cached_validate_document = validate


def _validate(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple, *, hide_suggestions: bool
) -> list[GraphQLError]:
    """strawberry's validation (its own rules added), with or without suggestions."""
    rules = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
    return validate(schema, document, rules, hide_suggestions=hide_suggestions)


class QuietExecutor(_ExecutionContext):
    """Execution whose variable coercion errors carry no suggestions either."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        return super().build(*args, **{**kwargs, "hide_suggestions": True})


@strawberry.type(
    name="Mutation", description="Writes to robot passports and campaigns; each appends events."
)
class RootMutation(Mutation, CampaignMutations, WebhookMutations):
    """Writes to passports and campaigns."""


def build_schema(extensions: list | tuple = (), *, suggestions: bool = True) -> strawberry.Schema:
    """The canonical GraphQL schema, with parse and validation caches on.

    `suggestions` False drops "Did you mean ...?" from every error (production).
    """
    return PassportSchema(
        query=Query,
        mutation=RootMutation,
        subscription=Subscription,
        config=schema_config(),
        execution_context_class=_ExecutionContext if suggestions else QuietExecutor,
        extensions=[
            *schema_caches(suggestions=suggestions),
            *extensions,
        ],
    )


CACHE_SIZE = 512
"""Documents parsed, and validated, kept per schema."""


def schema_caches(*, suggestions: bool = True) -> list[Any]:
    """The parse and validation caches every schema of ours runs with (extensions).

    Call it once per schema: the validation cache it makes is that schema's own, and goes
    with it. `suggestions` False validates without "Did you mean ...?".
    """
    validate_cached = lru_cache(CACHE_SIZE)(partial(_validate, hide_suggestions=not suggestions))
    return [
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: SchemaValidationCache(validate_cached),
    ]


def schema_config() -> StrawberryConfig:
    """Every schema of ours maps the robot code scalar, so it parses codes alike."""
    return StrawberryConfig(scalar_map={RobotCodeScalar: ROBOT_CODE})
