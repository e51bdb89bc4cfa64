"""Compiled execution against strawberry: the same bytes for the same caller, always.

The differential test draws operations from the leak test's generator
(`tests/support/operations.py`) and callers from the leak oracle's principals
(the demo parties, past owners and operators, made-up ones), and answers each
through strawberry and through its compiled plan over the same real store with
the demo policies: the JSON must be byte-identical and the paths the audit log
would record as served and denied the same. Most operations are drawn from a
writer narrowed to what the compiler covers (one `robot` root, passport
fields, aliases, fragments, `asOf`); the rest from the full generator, where a
document the compiler leaves alone must get no plan at all. The queries the test
files write out by hand (`tests/support/suite_operations.py`) are answered both
ways too, as written and over this fleet's robots. Over HTTP, two apps
(compiled on and off) served on loopback answer the same requests with a real
token alike.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.routing import Route
from strawberry.http import process_result

from gateway.config.settings import load_config
from gateway.endpoint.compiled import compile_plan, run_plan
from gateway.endpoint.http import is_request_error
from gateway.endpoint.options import GraphQLOptions
from gateway.endpoint.view import passport_schema
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from gateway.web.app import create_app
from gateway.web.serving import graphql_options
from policies import PUBLIC, AuditLog, Principal, Role, TokenVerifier, TrustedIssuer
from schema.events import Event, fold
from schema.passport import Passport
from schema.source import RobotFilter
from tests.support.leaks import CLIENTS, POLICY, moments, principals
from tests.support.loopback import serving
from tests.support.operations import queries
from tests.support.suite_operations import suite_queries, variables_of, with_code

SCHEMA = passport_schema(GraphQLOptions())
UNCOVERED = ("history", "export", "integrity", "conditionHistory", "codeSegments", "campaigns")
NARROW = {"roots": ("robot", "robots"), "max_roots": 1, "skip": UNCOVERED}


@pytest.fixture(scope="module")
def histories() -> list[list[Event]]:
    return list(synthetic_fleet(16, seed=23))


@pytest.fixture(scope="module")
def passports(histories) -> list[Passport]:
    return [fold(h) for h in histories]


@pytest.fixture(scope="module")
def pages(passports, services) -> dict[str, list[str]]:
    """Filter values the fleet has and some it lacks, and cursors the store gave and one
    it did not: the arguments of the differential test's `robots` pages."""
    page = asyncio.run(services.source.robots(RobotFilter(), 100, None))
    owners = [p.current_owner for p in passports if p.current_owner]
    return {
        "manufacturer": [*sorted({p.manufacturer.name for p in passports}), "Nobody"],
        "category": sorted({str(p.model.category) for p in passports}),
        "status": [*sorted({p.identity.status.value for p in passports}), "LOST"],
        "registry": sorted({p.identity.home_registry for p in passports}),
        "ownerId": sorted({o.owner_id for o in owners if o.owner_id})[:4],
        "owner": [owners[0].owner],
        "after": [*page.cursors[::3], "not-a-cursor"],
    }


@pytest.fixture(scope="module")
def services(tmp_path_factory, histories) -> Iterator[Services]:
    folder = tmp_path_factory.mktemp("compiled")
    store = SqliteStore(folder / "registry.db")
    store.import_histories(histories)
    log = AuditLog(folder / "audit.db")
    yield Services(LocalSource(store), POLICY, audit=log)
    log.close()
    store.close()


def both(
    services: Services, principal: Principal, query: str, variables: dict | None = None
) -> tuple | None:
    """(strawberry's answer, the plan's answer), each as bytes with the audit's paths;
    None when the endpoint would leave the document to strawberry: a request error
    (over a limit), or a document the compiler does not cover. A plan declines a page
    only where strawberry's answer is null, with its error (`DECLINED`)."""

    async def answers() -> tuple | None:
        reference = services.context(principal, batched=True)
        expected = await SCHEMA.execute(query, variable_values=variables, context_value=reference)
        if is_request_error(expected):
            return None
        plan = compile_plan(SCHEMA, query, None)
        if plan is None:
            return None
        compiled = services.context(principal, batched=True)
        got = await run_plan(plan, SCHEMA, compiled, variables)
        if got is None:
            assert plan.listed and expected.data is None and expected.errors, query
            return DECLINED
        return (body(expected), audited(reference)), (body(got), audited(compiled))

    return asyncio.run(answers())


DECLINED = ("declined",)


def body(result) -> bytes:
    return orjson.dumps(process_result(result))


def audited(context) -> dict:
    return {key: (sorted(v.served), sorted(v.denied)) for key, v in context.views.items()}


@pytest.mark.slow
def test_compiled_answers_are_byte_identical_to_strawberry(passports, histories, services, pages):
    absent = fold(next(iter(synthetic_fleet(1, seed=99, country="DE", registry="de-kba")))).code
    codes = [p.code for p in passports] + [absent]  # NOT_FOUND too
    times = {p.code: moments(h) for p, h in zip(passports, histories, strict=True)}
    compared = {"narrow": 0, "full": 0, "fallback": 0, "pages": 0, "declined": 0}

    @settings(
        max_examples=2800,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        principal=principals(passports),
        narrow=st.sampled_from((True,) * 9 + (False,)),
        data=st.data(),
    )
    def check(principal: Principal, narrow: bool, data: st.DataObject) -> None:
        query = data.draw(queries(codes, times, **({**NARROW, "pages": pages} if narrow else {})))
        answers = both(services, principal, query)
        if answers is None:
            assert not narrow, f"the compiler should cover:\n{query}"
            compared["fallback"] += 1
            return
        if answers is DECLINED:
            compared["declined"] += 1
            return
        expected, got = answers
        assert got[0] == expected[0], query
        assert got[1] == expected[1], query
        compared["narrow" if narrow else "full"] += 1
        compared["pages"] += "robots(" in query

    check()
    assert compared["narrow"] + compared["full"] >= 2000, compared
    assert compared["full"] > 0 and compared["fallback"] > 0, compared
    assert compared["pages"] >= 500 and compared["declined"] > 0, compared


@pytest.mark.slow
def test_the_suites_own_queries_are_answered_alike(passports, histories, services):
    """Every query the test files write out (tests/support/suite_operations.py), as
    written and asking this fleet's robots, for the public, each demo party and the
    robot's owner: where a plan answers, the same bytes and audited paths as strawberry."""
    documents = suite_queries(SCHEMA._schema)
    planned = {q: f for q, f in documents.items() if compile_plan(SCHEMA, q, None) is not None}
    assert len(documents) >= 100 and len(planned) >= 50, (len(documents), len(planned))
    assert {"gateway/endpoint/test_limits.py", "schema/test_graphql.py"} <= {*planned.values()}
    demo = [
        Principal("http://127.0.0.1/auth", c["client_id"], role=Role(c["role"]),
                  client_id=c["client_id"], organisation=c["organisation"],
                  jurisdiction=c["jurisdiction"], purposes=frozenset(c["purposes"]),
                  organisation_id=c.get("organisation_id"))
        for c in CLIENTS
    ]  # fmt: skip
    compared, declined, unfilled, answered = 0, 0, [], set()
    for query, where in planned.items():
        for passport, history in [(None, None), *zip(passports[:3], histories[:3], strict=True)]:
            code = passports[0].code if passport is None else passport.code
            asked = query if passport is None else with_code(query, code)
            at = moments(history or histories[0])[1]
            owner = (passport or passports[0]).current_owner
            home = (passport or passports[0]).identity.home_registry
            values = {"RobotCode": code, "DateTime": at.isoformat()}  # by type, else by name
            named = {"registry": home, "owner": owner.owner_id, "c": "CN-RC-1"}
            needed = [
                (n, values.get(kind, named.get(n)), req) for n, kind, req in variables_of(asked)
            ]
            if any(required and value is None for _, value, required in needed):
                unfilled.append(where)
                break
            variables = {name: value for name, value, _ in needed} or None
            callers = [*demo, PUBLIC, Principal(
                "http://127.0.0.1/auth", "owner", role=Role.OWNER, organisation=owner.owner,
                organisation_id=owner.owner_id, jurisdiction="CN")]  # fmt: skip
            for caller in callers:
                answers = both(services, caller, asked, variables)
                if answers is None:  # over a limit of this endpoint: a request error
                    continue
                if answers is DECLINED:
                    declined += 1
                    continue
                expected, got = answers
                assert got == expected, (where, asked, variables, caller.role)
                compared += 1
                answered.add(query)
    assert not unfilled, unfilled  # a required variable the test cannot fill
    # A plan declines only a page strawberry refuses (`both` checks it): a size out of
    # range, a cursor not given, a campaign's filter. Most documents are answered by plans.
    assert compared >= 1000 and len(answered) >= 0.8 * len(planned), (compared, declined)


def test_a_plan_never_crosses_views(passports, services):
    code = passports[0].code
    query = f"""{{ robot(code: "{code}") {{ code ownership {{ owner ownerId start }}
      manufacturer {{ name }} maintenance {{ performedBy kind }} incidents {{ findings }} }} }}"""
    plan = compile_plan(SCHEMA, query, None)
    assert plan is not None
    owner = passports[0].current_owner
    callers = [
        PUBLIC,
        Principal("http://127.0.0.1/auth", "kba", role=Role.REGULATOR, organisation="KBA",
                  jurisdiction="CN", purposes=frozenset({"incident_investigation"})),
        Principal("http://127.0.0.1/auth", "owner", role=Role.OWNER,
                  organisation=owner.owner, organisation_id=owner.owner_id, jurisdiction="CN"),
    ]  # fmt: skip
    seen = []
    for caller in callers:  # the one plan, caller after caller, and back to the first
        for _ in range(2):

            async def answers(who: Principal = caller) -> tuple[bytes, bytes]:
                expected = await SCHEMA.execute(query, context_value=services.context(who))
                got = await run_plan(plan, SCHEMA, services.context(who), None)
                return body(expected), body(got)

            expected, got = asyncio.run(answers())
            assert got == expected
            seen.append(got)
    assert len(set(seen)) >= 2  # the callers' views differ, and each got its own


def test_a_campaign_filter_is_left_to_strawberry(services):
    """The compiler knows the plain filters only: a campaign's needs the campaign and the
    caller's scope (schema/graphql/campaigns.py), so the plan declines and strawberry
    answers, here NOT_FOUND (no campaign registry behind these services)."""
    query = """{ robots(first: 3, filter: {campaign: "CN-RC-1", campaignState: PENDING}) {
      totalCount edges { node { code } } } }"""
    plan = compile_plan(SCHEMA, query, None)
    assert plan is not None and plan.listed
    caller = Principal("http://127.0.0.1/auth", "cac", role=Role.REGULATOR, jurisdiction="CN")
    assert both(services, caller, query) == DECLINED
    answer = asyncio.run(SCHEMA.execute(query, context_value=services.context(caller)))
    assert answer.errors[0].extensions["code"] == "NOT_FOUND"


def test_a_page_plan_answers_each_robot_through_its_own_view(passports, services):
    owner = passports[3].current_owner
    query = """{ p: robots(first: 16) { n: totalCount edges { node { code
      ownership { owner } hardware { battery { chemistry } } } } } }"""
    plan = compile_plan(SCHEMA, query, None)
    assert plan is not None and plan.listed
    caller = Principal("http://127.0.0.1/auth", "owner", role=Role.OWNER,
                       organisation=owner.owner, organisation_id=owner.owner_id,
                       jurisdiction="CN")  # fmt: skip

    async def answers(who: Principal) -> tuple:
        expected = await SCHEMA.execute(query, context_value=services.context(who))
        got = await run_plan(plan, SCHEMA, services.context(who), None)
        return expected, got

    for who in (caller, PUBLIC, caller):
        expected, got = asyncio.run(answers(who))
        assert body(got) == body(expected)
        owners = [e["node"]["ownership"] for e in got.data["p"]["edges"]]
        shown = [o for o in owners if o and any(x["owner"] for x in o)]
        if who is caller:  # its own robot's owners, nobody else's
            assert shown and all(x["owner"] == owner.owner for x in shown[0][-1:])
            assert len(shown) < len(owners)
        else:
            assert not shown
        denied = [e.path for e in got.errors or ()]
        assert denied and all(p[:2] == ["p", "edges"] and isinstance(p[2], int) for p in denied)


ISSUER = "https://as.compiled.example"
KEY = RSAKey.generate_key(2048, parameters={"kid": "compiled"}, private=True)
LOOKUP = """query ($code: RobotCode!) { robot(code: $code) { ...Seen code version
  manufacturer { name } ownership { owner start } condition { at batteryHealthPct } } }
fragment Seen on Robot { model { designation category } maintenance { at kind performedBy } }"""
PAST = """query ($code: RobotCode!, $at: DateTime) { robot(code: $code, asOf: $at) {
  code asOf version r: ownership { o: owner } } }"""
PAGE = """query ($after: String, $f: RobotFilterInput) { robots(first: 3, after: $after,
  filter: $f) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node {
  code ...Seen } } } }
fragment Seen on Robot { model { designation category } maintenance { at kind performedBy } }"""
SIZED = """query ($n: Int!) { robots(first: $n) { edges { node { code } } } }"""
UNCOMPILED = """{ robots(first: 2) { edges { node { code
  history(first: 1) { pageInfo { hasNextPage } } } } } }"""


def token(role: str, org: str) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER, "sub": role, "aud": "robopass", "iat": now - 5, "exp": now + 600,
        "jti": uuid.uuid4().hex, "scope": "robopass:read", "client_id": role,
        "jurisdiction": "CN", "role": role, "org": org,
    }  # fmt: skip
    header = {"alg": "RS256", "typ": "at+jwt", "kid": KEY.kid}
    return jwt.encode(header, claims, KEY, algorithms=["RS256"])


@pytest.fixture(scope="module")
def apps(tmp_path_factory, histories) -> Iterator[tuple[str, str, object]]:
    folder = tmp_path_factory.mktemp("compiled-http")
    store = SqliteStore(folder / "registry.db")
    store.import_histories(histories)
    issuer = TrustedIssuer(
        ISSUER, "robopass", frozenset({"CN", "DE"}), jwks={"keys": [KEY.as_dict(private=False)]}
    )
    logs = [AuditLog(folder / f"audit-{n}.db") for n in range(2)]
    made = [
        create_app(
            Services(LocalSource(store), POLICY, verifier=TokenVerifier([issuer]), audit=log),
            GraphQLOptions(compiled=compiled),
        )
        for log, compiled in zip(logs, (False, True), strict=True)
    ]
    graphql = next(r for r in made[1].routes if isinstance(r, Route) and r.path == "/graphql")
    with serving(made[0]) as plain, serving(made[1]) as compiled:
        yield plain, compiled, graphql.app.app  # the endpoint behind `Authenticated`
    for log in logs:
        log.close()
    store.close()


def test_over_http_the_compiled_endpoint_answers_byte_for_byte_alike(apps, passports, histories):
    plain, compiled, endpoint = apps
    bearers = [None, token("regulator", "CAC"), token("buyer", "Second Life Robots GmbH")]
    at = moments(histories[1])[1]
    requests = [(LOOKUP, {"code": p.code}) for p in passports[:4]] + [
        (PAST, {"code": passports[1].code, "at": at.isoformat()}),
        (PAST, {"code": passports[1].code, "at": "2026-01-01T00:00:00"}),  # no offset
        (LOOKUP, {"code": "not a code"}),
        (LOOKUP, {}),
        (PAGE, None),
        (PAGE, {"f": {"registry": passports[2].identity.home_registry}}),
        (PAGE, {"after": "not a cursor we gave"}),  # declined: strawberry says why
        (PAGE, {"f": {"ownerId": passports[0].current_owner.owner_id}}),  # others' robots
        (PAGE, {"f": {"campaign": "CN-RC-1", "campaignState": "OVERDUE"}}),  # strawberry's
        (SIZED, {"n": 2}),  # a page size by variable: the cost limit reads it
        (SIZED, {"n": 100}),
        (UNCOMPILED, None),
    ]

    async def ask(base: str, bearer: str | None) -> list[tuple[int, bytes]]:
        headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            out = []
            for _ in range(2):  # the first teaches the endpoint the document
                for query, variables in requests:
                    body = {"query": query, "variables": variables}
                    r = await client.post("/graphql", json=body, headers=headers)
                    out.append((r.status_code, r.content))
            return out

    for bearer in bearers:
        expected = asyncio.run(ask(plain, bearer))
        got = asyncio.run(ask(compiled, bearer))
        assert got == expected
    assert endpoint.plans is not None and endpoint.plans.answered >= 3 * (5 + 2)
    assert compile_plan(SCHEMA, SIZED, None) is None
    assert compile_plan(SCHEMA, UNCOMPILED, None) is None


def test_compiled_execution_is_on_by_default_from_the_configuration(tmp_path, histories):
    """The configuration's default reaches the endpoint `robopass serve` builds: the second
    request of a document is answered by its plan; `server.compiled = false` turns it off."""
    store = SqliteStore(tmp_path / "registry.db")
    store.import_histories(histories[:2])
    code = fold(histories[0]).code
    request = {"query": LOOKUP, "variables": {"code": code}}
    answered = []
    for environ in ({}, {"ROBOPASS_SERVER_COMPILED": "false"}):
        options = graphql_options(load_config(None, environ))
        app = create_app(Services(LocalSource(store), POLICY), options)
        route = next(r for r in app.routes if isinstance(r, Route) and r.path == "/graphql")
        endpoint = route.app.app
        with serving(app) as base:
            bodies = [httpx.post(f"{base}/graphql", json=request).content for _ in range(2)]
        assert bodies[0] == bodies[1] and b'"manufacturer"' in bodies[0]
        answered.append(None if endpoint.plans is None else endpoint.plans.answered)
    store.close()
    assert answered == [1, None]
