"""The parse and validation caches: each schema's own, effective in production too."""

from __future__ import annotations

import gc
import weakref

import pytest

import schema.graphql.query as query_module
from schema.graphql.query import build_schema

QUERY = '{ robot(code: "x") { nope } }'


@pytest.mark.parametrize("suggestions", [True, False])
def test_a_document_is_validated_once_per_schema(
    suggestions: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The production schema (no suggestions) caches too: its extension is made again for
    every request, so a cache of the extension's own would never be hit."""
    calls: list[object] = []
    validate = query_module.validate

    def counting(*args, **kwargs):
        calls.append(args[1])
        return validate(*args, **kwargs)

    monkeypatch.setattr(query_module, "validate", counting)
    schema = build_schema(suggestions=suggestions)
    answers = [schema.execute_sync(QUERY) for _ in range(3)]
    assert len(calls) == 1
    assert all(a.errors for a in answers)
    other = build_schema(suggestions=suggestions)
    other.execute_sync(QUERY)
    assert len(calls) == 2, "another schema validates against itself, not from the first's cache"


def test_a_schema_dropped_after_answering_is_freed() -> None:
    """No process-wide cache keeps a schema that answered: a process (a test session)
    that builds hundreds would keep them all for the collector to walk."""
    schema = build_schema(suggestions=True)
    assert schema.execute_sync(QUERY).errors
    gone = weakref.ref(schema._schema)
    del schema
    gc.collect()
    assert gone() is None
