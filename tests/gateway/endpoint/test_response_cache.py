"""Which queries the response cache may keep (`gateway.endpoint.responses`), and what it keys on.

Hits, replayed audit records and staleness run end to end against real nodes in
tests/gateway/federation/test_process.py.
"""

from __future__ import annotations

from gateway.endpoint.responses import ResponseCache, context_fields, single_robot
from policies import PUBLIC, Principal, Role
from schema.graphql.query import build_schema

IMPURE = context_fields(build_schema([], suggestions=True))


def test_fields_that_read_beyond_the_passport_are_found_in_the_schema() -> None:
    assert {"history", "integrity", "conditionHistory"} <= IMPURE
    assert "export" not in IMPURE and "code" not in IMPURE


def test_only_one_robot_read_from_its_passport_is_kept() -> None:
    kept = [
        "query ($c: RobotCode!) { robot(code: $c) { code version } }",
        '{ r: robot(code: "X") { ...F } } fragment F on Robot { code condition { at } }',
        '{ robot(code: "X") { ... on Robot { code export(format: AAS) } } }',
    ]
    never = [
        '{ robot(code: "X", asOf: "2026-01-01T00:00:00Z") { code } }',
        '{ a: robot(code: "X") { code } b: robot(code: "Y") { code } }',
        '{ robot(code: "X") { history { edges { cursor } } } }',
        '{ robot(code: "X") { ...F } } fragment F on Robot { integrity { verified } }',
        '{ robot(code: "X") { ... on Robot { conditionHistory { at } } } }',
        '{ robot(code: "X") { ...Missing } }',
        '{ robot(code: "X") @include(if: true) { code } }',
        "{ robots(first: 1) { edges { node { code } } } }",
        'mutation { decommission(code: "X") { code } }',
        'query A { robot(code: "X") { code } } query B { robot(code: "X") { code } }',
        "{ robot(code: ",
    ]
    assert [single_robot(q, IMPURE) for q in kept] == [True] * len(kept)
    assert [single_robot(q, IMPURE) for q in never] == [False] * len(never)


def test_the_key_separates_variables_media_deny_mode_and_class_of_caller() -> None:
    cache = ResponseCache(IMPURE)
    query = "query ($c: RobotCode!) { robot(code: $c) { code } }"
    msa = Principal("https://auth", "alice", Role.MARKET_SURVEILLANCE, jurisdiction="DE")

    def key(variables: dict, media: str = "application/json", rejects: bool = False, who=msa):
        return cache.key(query, {"variables": variables}, media, rejects, who)

    base = key({"c": "A"})
    assert base is not None and key({"c": "A"}) == base
    assert key({"c": "B"}) != base
    assert key({"c": "A"}, media="application/graphql-response+json") != base
    assert key({"c": "A"}, rejects=True) != base
    assert key({"c": "A"}, who=PUBLIC) != base
    assert (
        cache.key("{ robots(first: 1) { totalCount } }", {}, "application/json", False, msa) is None
    )
