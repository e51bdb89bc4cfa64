"""Answers to single-robot queries, kept by version and view, replayed with their audit.

Executing ~45 fields costs more CPU than anything else a federated lookup
does. When the same query (document, operation, variables, media type, deny
mode, class of caller) asks again for a robot whose version the source still
vouches for without asking the node, the answer is the same bytes, so they
are sent again. Why that cannot leak or go stale:

- Only documents whose one root field is `robot(code:)` (no `asOf`) and
  whose selection reaches no field that reads beyond the passport (the
  resolvers that take the request context: history, integrity, condition
  history) are kept; anything else is executed every time.
- An entry stores, per robot read, its head hash and the policy decision the
  caller got. A hit needs every head still vouched for by the source (the
  federation's change feed, within its freshness bound) and the caller's
  decision, computed afresh (agreements in force now), equal to the stored
  one: a caller whose view differs never gets the bytes.
- Only answers whose errors are all FIELD_DENIED are kept (no outage, limit
  or not-found answer is replayed).
- A hit writes the same audit records as the uncached request (the paths
  served and denied, stored with the entry, for the caller of this request)
  and counts the same error metrics; rate limits and request metrics are
  middleware and apply either way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
)

from policies import Decision, Principal
from schema.graphql.objects import RecordingView
from schema.source import RobotRecord, Vouching

PURE_RESOLVERS = frozenset({"export"})
"""Fields whose resolver takes the context but reads only the passport and the mask."""


@dataclass(frozen=True, slots=True)
class Read:
    """One robot an answer read: its version, the caller's decision, what was disclosed."""

    code: str
    head_hash: str
    decision: Decision
    served: frozenset[str]
    denied: frozenset[str]


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole HTTP answer and what its request recorded."""

    body: bytes
    status: int
    reads: tuple[Read, ...]
    answered: bool
    error_codes: tuple[str, ...]

    def views(self) -> dict[tuple[str, Decision], RecordingView]:
        """The audit views the uncached request left, to be recorded again."""
        views = {}
        for read in self.reads:
            view = RecordingView(read.decision.mask.visible)
            view.served.update(read.served)
            view.denied.update(read.denied)
            views[(read.code, read.decision)] = view
        return views


def context_fields(schema: Any) -> frozenset[str]:
    """Names of the non-root fields whose resolvers take the request context."""
    from strawberry.types.base import StrawberryObjectDefinition

    names = set()
    converter = schema.config.name_converter
    roots = {"Query", "Mutation", "Subscription"}
    for type_name, item in schema.schema_converter.type_map.items():
        definition = item.definition
        if type_name in roots or not isinstance(definition, StrawberryObjectDefinition):
            continue
        for f in definition.fields:
            resolver = f.base_resolver
            if resolver is not None and resolver.info_parameter is not None:
                names.add(converter.get_graphql_name(f))
    return frozenset(names - PURE_RESOLVERS)


class ResponseCache:
    """A bounded LRU of answers to single-robot queries."""

    def __init__(self, impure: frozenset[str], size: int = 1024) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[tuple[Any, ...], Answer] = OrderedDict()
        self._shape = lru_cache(maxsize=512)(lambda query: single_robot(query, impure))

    def key(
        self, query: str, params: Mapping[str, Any], media: str, rejects: bool, caller: Principal
    ) -> tuple[Any, ...] | None:
        """The entry a request would use; None when its answer is never kept."""
        if not self._shape(query):
            return None
        try:
            variables = orjson.dumps(params.get("variables"), option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return None
        who = (
            caller.issuer,
            caller.role,
            caller.jurisdiction,
            caller.organisation,
            caller.organisation_id,  # relationships follow the identifier, not the name
        )
        return (
            query,
            params.get("operationName"),
            variables,
            media,
            rejects,
            *who,
            caller.purposes,
        )

    def lookup(
        self,
        key: tuple[Any, ...],
        source: Vouching,
        decide: Callable[[RobotRecord], Decision | None],
    ) -> Answer | None:
        """The kept answer, if every robot it read is current and seen as before."""
        answer = self._items.get(key)
        if answer is not None and all(_still(read, source, decide) for read in answer.reads):
            self._items.move_to_end(key)
            self.hits += 1
            return answer
        self.misses += 1
        return None

    def keep(
        self,
        key: tuple[Any, ...],
        answer: Answer,
        heads: Mapping[str, str],
    ) -> None:
        """Keep `answer` if it read robots, each once, each at a version in `heads`."""
        codes = [r.code for r in answer.reads]
        if not codes or len(set(codes)) != len(codes) or set(codes) != set(heads):
            return
        self._items[key] = answer
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


def reads_of(
    views: Mapping[tuple[str, Decision], RecordingView], heads: Mapping[str, str]
) -> tuple[Read, ...] | None:
    """What a request read, from its audit views and the versions its source loaded."""
    reads = []
    for (code, decision), view in views.items():
        head_hash = heads.get(code)
        if head_hash is None:
            return None
        reads.append(
            Read(code, head_hash, decision, frozenset(view.served), frozenset(view.denied))
        )
    return tuple(reads)


def _still(read: Read, source: Vouching, decide: Callable[[RobotRecord], Any]) -> bool:
    current = source.vouched(read.code)
    if current is None or current[0].hash != read.head_hash:
        return False
    return decide(RobotRecord(current[1], current[0])) == read.decision


def single_robot(query: str, impure: Iterable[str]) -> bool:
    """One query operation whose one root field is `robot(code:)`, reading only the passport."""
    try:
        document = parse(query)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return False
    roots = operations[0].selection_set.selections
    if len(roots) != 1 or not isinstance(roots[0], FieldNode):
        return False
    root = roots[0]
    if root.name.value != "robot" or root.directives:
        return False
    if [a.name.value for a in root.arguments or ()] != ["code"]:
        return False
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return _pure(root.selection_set, fragments, frozenset(impure), set())


def _pure(
    selections: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    impure: frozenset[str],
    seen: set[str],
) -> bool:
    if selections is None:
        return True
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value in impure:
                return False
            if not _pure(selection.selection_set, fragments, impure, seen):
                return False
        elif isinstance(selection, InlineFragmentNode):
            if not _pure(selection.selection_set, fragments, impure, seen):
                return False
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None:
                return False
            if name not in seen:
                seen.add(name)
                if not _pure(fragment.selection_set, fragments, impure, seen):
                    return False
    return True
