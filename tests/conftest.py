"""Shared fixtures: seeded stores, an in-process GraphQL client, a real server.

Helpers that are not fixtures live in `tests/support/`; tests/README.md explains the layout
and the markers.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from gateway.web.app import create_app
from schema.events import Event
from tests.support.processes import robopass_server
from tests.support.seeded import SeededTemplates, fresh_schema
from tests.support.stores import PG_SERVER


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker more than the cores.

    A worker often waits rather than computes: on PostgreSQL's server process (whose CPU
    is not its own), on a long poll it holds on purpose, on a child process. Measured on 2
    idle cores, the inner loop (1,285 tests): 60 s with 2 workers, 52 s with 3, 53 s with 4.
    """
    return (os.cpu_count() or 1) + 1


def pytest_collection_finish(session: pytest.Session) -> None:
    """Tune the heap collector for a test session (in each xdist worker); tests/README.md.

    Collection imports every test module and the code under test: about 190,000 objects
    that live as long as the session. `gc.freeze` moves them out of the collector's sight,
    so a full collection walks only what the tests made.

    Most tests build an app and its GraphQL schema (thousands of objects in reference
    cycles) and drop it tens of milliseconds later. With the default threshold (a young
    collection every 700 new objects) the app outlives several young collections while it
    is built and used, is promoted to the oldest generation, and only a full collection
    frees it: dozens a worker, a tenth of a second each. A young generation of 20,000
    objects lets most of it die young. Measured on tests/gateway/service,
    tests/gateway/aasapi and tests/schema/test_mutations.py (serial, process CPU): the
    collector's time 6.0 s with only the freeze, 2.1 s with both.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


@pytest.fixture(scope="session")
def fleet() -> list[list[Event]]:
    """A 60-robot synthetic fleet, generated once per test session."""
    return list(synthetic_fleet(60, seed=7))


@pytest.fixture(scope="session")
def seeded(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[SeededTemplates]:
    """Stores filled by copying a template imported once per session, not by importing
    (tests/support/seeded.py): `seeded.fill(new_store, histories)`."""
    templates = SeededTemplates(
        tmp_path_factory.mktemp("seeded"), lambda: request.getfixturevalue("pg_server")
    )
    yield templates
    templates.close()


@pytest.fixture
def store(
    tmp_path: Path, fleet: list[list[Event]], seeded: SeededTemplates
) -> Iterator[SqliteStore]:
    """A SQLite store of the test's own holding the 60-robot `fleet`."""
    s = SqliteStore(tmp_path / "registry.db")
    seeded.fill(s, fleet)
    yield s
    s.close()


@pytest.fixture
def graphql(store: SqliteStore):
    """POST a query to the app in process; returns the decoded JSON body."""
    transport = httpx.ASGITransport(app=create_app(Services(LocalSource(store), policy=None)))

    async def post(body: dict) -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/graphql", json=body)

    def run(query: str, variables: dict | None = None) -> dict:
        response = asyncio.run(post({"query": query, "variables": variables}))
        assert response.headers["content-type"].startswith("application/json")
        return response.json()

    return run


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL server the tests use (`ROBOPASS_TEST_POSTGRES`).

    Without a server the PostgreSQL tests skip, saying why; CI sets
    ROBOPASS_REQUIRE_POSTGRES=1 so that a missing server fails instead.
    """
    import psycopg

    try:
        psycopg.connect(PG_SERVER, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        reason = f"no PostgreSQL server reachable at {PG_SERVER}: {str(exc).strip()}"
        if os.environ.get("ROBOPASS_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    return PG_SERVER


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A URL of the test server whose search_path is a fresh schema, dropped afterwards."""
    with fresh_schema(pg_server) as url:
        yield url


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """`robopass serve` as a real process, its data under `tmp_path / "data"`."""
    with robopass_server(tmp_path / "data") as base:
        yield base


@pytest.fixture(scope="module")
def served_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One real `robopass serve` shared by a test module: (base URL, data directory)."""
    data_dir = tmp_path_factory.mktemp("served") / "data"
    with robopass_server(data_dir) as base:
        yield base, data_dir


# Markers a test earns by the fixtures it uses, so that `-m "not postgres"` or
# `-m "not process"` can never keep a test that needs the server it names.
POSTGRES_FIXTURES = {"pg_server", "pg_url"}
PROCESS_FIXTURES = {"served", "served_module"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        if fixtures & POSTGRES_FIXTURES or "postgresql" in params.values():
            item.add_marker(pytest.mark.postgres)
        if "redis_url" in fixtures:
            item.add_marker(pytest.mark.redis)
        if fixtures & PROCESS_FIXTURES:
            item.add_marker(pytest.mark.process)
