"""Shared fixtures: seeded stores, an in-process GraphQL client, a real server."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from pathlib import Path

import httpx
import pytest

from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from gateway.web.app import create_app
from schema.code import RobotCode
from schema.codec import to_plain
from schema.events import GENESIS, Event, EventType, chain, fold


@pytest.fixture(scope="session")
def fleet() -> list[list[Event]]:
    """A 60-robot synthetic fleet, generated once per test session."""
    return list(synthetic_fleet(60, seed=7))


@pytest.fixture
def store(tmp_path: Path, fleet: list[list[Event]]) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "registry.db")
    s.import_histories(fleet)
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


def clones(template: list[Event], count: int, *, start: int = 0) -> Iterator[list[Event]]:
    """Cheap one-event histories with distinct valid codes, for volume tests."""
    registered = fold(template[:1])
    assert registered is not None
    for i in range(start, start + count):
        code = RobotCode.generate("CN", "HD01", "H10001", date(2025, 3, 1), "1", i).value
        passport = copy.deepcopy(registered)
        passport.identity = dataclasses.replace(passport.identity, code=code)
        payload = to_plain(passport)
        yield [chain(code, 1, template[0].at, EventType.REGISTERED, payload, GENESIS)]


PG_SERVER = os.environ.get("ROBOPASS_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")


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
    import psycopg

    schema = f"robopass_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in pg_server else "?"
    yield f"{pg_server}{joiner}options=-csearch_path%3D{schema}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def outside(store, sql: str, params: tuple = ()) -> list[tuple]:
    """Run SQL on a store's database over a connection of its own, as a hand edit would."""
    if isinstance(store, SqliteStore):
        db = sqlite3.connect(store.path)
        try:
            rows = db.execute(sql, params).fetchall()
            db.commit()
            return rows
        finally:
            db.close()
    import psycopg

    with psycopg.connect(store.url, autocommit=True) as conn:
        cursor = conn.execute(sql.replace("?", "%s"), params)
        return cursor.fetchall() if cursor.description else []


def node_tool(folder: Path, package: str) -> str:
    """Node.js, with the pinned npm packages of a test tool in `folder` installed.

    `npm ci` runs on first use (the npm registry is reachable wherever the tests
    are), so the README's test command needs no extra step. Skips without Node.js.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(f"Node.js is not installed: {folder.name} runs on Node.js")
    if not (folder / "node_modules" / package).is_dir():
        run = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(folder)],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            pytest.fail(f"npm ci in {folder} failed:\n{run.stderr[-2000:]}")
    return node


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(data_dir: Path, *args: str, env: dict | None = None) -> Iterator[str]:
    """`robopass serve ARGS` as a real process on loopback; yields its base URL.

    Its output goes to a file, not a pipe nobody reads: a pipe's buffer fills
    with access log lines and then blocks the server mid-request.
    """
    port = free_port()
    environment = {**os.environ, "ROBOPASS_DATA_DIR": str(data_dir), **(env or {})}
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"serve-{port}.log"
    with log.open("w") as output:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), *args],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise RuntimeError(log.read_text()) from None
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError(f"server did not start: {log.read_text()}")
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """`robopass serve` as a real process, its data under `tmp_path / "data"`."""
    with robopass_server(tmp_path / "data") as base:
        yield base


def robopass_server(data_dir: Path) -> AbstractContextManager[str]:
    """`robopass serve` with a small demo fleet of 200 robots in `data_dir`."""
    return running_server(data_dir, "--robots", "200")


@pytest.fixture(scope="module")
def served_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One real `robopass serve` shared by a test module: (base URL, data directory)."""
    data_dir = tmp_path_factory.mktemp("served") / "data"
    with robopass_server(data_dir) as base:
        yield base, data_dir
