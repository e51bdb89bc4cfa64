"""A slow PostgreSQL query holds one pooled connection of one request, nothing else.

Issue 15's acceptance, on a real `robopass serve` over PostgreSQL: one robot
is made slow to read (its row goes through a view whose condition calls
`pg_sleep` for that code only), a request for it is sent, and while that query
sleeps in the database `/healthz` and a lookup of another robot answer. The
slow request then ends at its deadline (`--timeout`, 504), and the database
stops the query too: the request's deadline is the statement's timeout.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import psycopg
import pytest

from gateway.store.open import open_store
from tests.support.processes import running_server

pytestmark = pytest.mark.process

SLEEP_SECONDS = 60
TIMEOUT_SECONDS = 3

SLOW_VIEW = (
    "ALTER TABLE robots RENAME TO robots_data",
    # Only the read of that one robot sleeps: whatever plan a listing gets, it stays fast.
    "CREATE FUNCTION slow(wanted TEXT) RETURNS BOOLEAN LANGUAGE plpgsql AS $$ BEGIN"
    " IF wanted = '{code}' AND current_query() LIKE '%FROM robots WHERE code = %'"
    " THEN PERFORM pg_sleep({seconds}); END IF; RETURN TRUE; END $$",
    "CREATE VIEW robots AS SELECT * FROM robots_data WHERE slow(code)",
)
SLEEPING = (
    "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
    " AND datname = current_database() AND query LIKE '%FROM robots WHERE code%'"
)


def lookup(code: str) -> dict:
    return {"query": f'{{ robot(code: "{code}") {{ code }} }}'}


def run(url: str, statement: str) -> list[tuple]:
    """SQL with no parameters (its `%` are literal) on a connection of its own."""
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def sleeping(url: str) -> int:
    return run(url, SLEEPING)[0][0]


def test_slow_query_delays_neither_healthz_nor_another_lookup_and_ends_with_the_request(
    pg_url, tmp_path, fleet
):
    store = open_store(pg_url)
    store.import_histories(fleet[:8])
    codes = sorted(store.codes())
    slow, other = codes[-1], codes[0]
    store.close()
    for statement in SLOW_VIEW:
        run(pg_url, statement.format(code=slow, seconds=SLEEP_SECONDS))

    async def scenario(base: str) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            started = time.monotonic()
            slow_request = asyncio.create_task(client.post("/graphql", json=lookup(slow)))
            while sleeping(pg_url) == 0:
                assert time.monotonic() - started < 20, "the slow query never reached PostgreSQL"
                await asyncio.sleep(0.05)
            health = await client.get("/healthz")
            found = await client.post("/graphql", json=lookup(other))
            assert not slow_request.done(), "the slow request ended before the others answered"
            assert health.status_code == 200
            assert found.status_code == 200
            assert found.json()["data"]["robot"]["code"] == other

            answer = await slow_request
            assert answer.status_code == 504
            assert answer.json()["errors"][0]["extensions"]["code"] == "OPERATION_TIMEOUT"
            # The database gives up when the request does, not after pg_sleep's minute.
            while sleeping(pg_url) > 0:
                assert time.monotonic() - started < SLEEP_SECONDS / 2, "the query outlived it"
                await asyncio.sleep(0.1)

    with running_server(
        tmp_path / "data", "--db", pg_url, "--timeout", str(TIMEOUT_SECONDS)
    ) as base:
        asyncio.run(scenario(base))
