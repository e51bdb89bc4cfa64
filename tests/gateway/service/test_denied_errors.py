"""Hidden fields answer with errors that hold no traceback, so a request's graph is freed at once.

A traceback would pin the frames the error passed through, and with them the
request's passports, in a reference cycle only a full garbage collection
frees: that alone cost a third more CPU on a 100-robot list (BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import gc

from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import SqliteStore
from policies import PUBLIC, PolicySet
from schema.graphql.query import build_schema

QUERY = "{ robots(first: 5) { edges { node { code condition { batteryHealthPct } } } } }"


def test_denied_field_errors_carry_no_traceback(store: SqliteStore) -> None:
    context = Services(LocalSource(store), PolicySet.demo()).context(PUBLIC)
    result = asyncio.run(build_schema().execute(QUERY, context_value=context))
    assert result.errors and len(result.errors) == 5
    for error in result.errors:
        assert error.extensions["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
        assert error.path[-1] == "condition"
        assert error.__traceback__ is None and error.original_error is None
        assert error.locations and error.locations[0].line == 1


def test_no_garbage_cycle_is_left_behind(store: SqliteStore) -> None:
    schema = build_schema()
    context = Services(LocalSource(store), PolicySet.demo()).context(PUBLIC)
    asyncio.run(schema.execute(QUERY, context_value=context))
    gc.collect()
    gc.disable()
    try:
        asyncio.run(schema.execute(QUERY, context_value=context))
        assert gc.collect() < 200, "a request's objects were held in reference cycles"
    finally:
        gc.enable()


def test_unexpected_errors_keep_their_traceback_for_the_log(store: SqliteStore) -> None:
    class Broken(LocalSource):
        async def robots(self, *args, **kwargs):
            raise RuntimeError("registry down")

    context = Services(Broken(store), PolicySet.demo()).context(PUBLIC)
    result = asyncio.run(build_schema().execute(QUERY, context_value=context))
    assert result.errors and result.errors[0].original_error.__traceback__ is not None
