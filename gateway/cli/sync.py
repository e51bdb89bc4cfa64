"""`robopass sync`: mirror the caller's view of a fleet into a local SQLite file.

A first run takes the feed's head (`fleetFeed`), then copies every robot the
caller may list (`robots`, a page at a time), then follows `fleetChanges` from
that head; later runs follow the feed from where the last one stopped. Each
page's rows and the cursor that follows them commit in one transaction, so a
run killed at any point resumes where it stopped and ends with the same mirror.
A changed robot is fetched whole, as the caller may see it now: the mirror
holds views, never events it would have to fold.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from gateway.cli.defaults import configured
from schema.graphql.objects import DENIED_CODE
from schema.parties import PARTY_ID_SYNTAX, is_party_id

ROBOT_VIEW = "code version export(format: CANONICAL)"
NOT_A_PARTY_ID = (
    f"--owner must be a party identifier ({PARTY_ID_SYNTAX}), not a name;"
    " leave it out to mirror your own organisation's robots (your token's org_id)"
)
FEED = """query ($owner: String) { fleetFeed(ownerId: $owner) { ownerId headCursor } }"""
ROBOTS = f"""query ($owner: String, $first: Int!, $after: String) {{
  robots(filter: {{ownerId: $owner}}, first: $first, after: $after) {{
    totalCount edges {{ node {{ {ROBOT_VIEW} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
CODES = """query ($owner: String, $after: String) {
  fleetCodes(ownerId: $owner, first: 5000, after: $after) {
    codes pageInfo { hasNextPage endCursor } } }"""
CHANGES = f"""query ($owner: String, $first: Int!, $after: String) {{
  fleetChanges(ownerId: $owner, first: $first, after: $after) {{
    edges {{ node {{ code robot {{ {ROBOT_VIEW} }} }} }}
    pageInfo {{ hasNextPage endCursor }} }} }}"""

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sync_state (key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE IF NOT EXISTS robots ("
    " code TEXT PRIMARY KEY, version INTEGER NOT NULL, document TEXT NOT NULL)",
)
COPYING, FOLLOWING = "copy", "follow"


class SyncError(Exception):
    """The gateway refused or the mirror belongs to another gateway or owner.

    `code` is the gateway's error code (`extensions.code`) when it refused.
    """

    def __init__(self, message: str, code: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class SyncResult:
    copied: int
    changes: int
    robots: int
    pruned: int


class Gateway:
    """GraphQL over HTTP with a bearer token; a client-credentials token is renewed on 401."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        client: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.client = client
        self.client_secret = client_secret
        self.http = httpx.Client(timeout=60)
        self.token = token or (self._client_token() if client else None)

    def close(self) -> None:
        self.http.close()

    def _client_token(self) -> str:
        """A token of a client of the gateway's demo authorization server (`/auth`)."""
        assert self.client is not None
        secret = self.client_secret
        if secret is None:  # the demo clients' secrets follow one pattern
            secret = f"dev-secret-{self.client}"
        response = self.http.post(
            f"{self.url}/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(self.client, secret),
        )
        if response.status_code != 200:
            raise SyncError(f"no token for client {self.client!r}: {response.text[:200]}")
        return response.json()["access_token"]

    def ask(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        for attempt in (1, 2):
            headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
            response = self.http.post(
                f"{self.url}/graphql",
                content=orjson.dumps({"query": query, "variables": variables}),
                headers={**headers, "content-type": "application/json"},
            )
            if response.status_code == 401 and self.client and attempt == 1:
                self.token = self._client_token()
                continue
            break
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise SyncError(f"gateway answered {response.status_code}: not JSON") from None
        if body.get("errors") or response.status_code != 200:
            error = (body.get("errors") or [{}])[0]
            code = (error.get("extensions") or {}).get("code", response.status_code)
            message = error.get("message", response.text)
            raise SyncError(f"gateway refused ({code}): {message}", code)
        return body["data"]


class Mirror:
    """The local SQLite file: robots' views and where the sync stands."""

    def __init__(self, path: str | Path) -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        for statement in SCHEMA:
            self.db.execute(statement)

    def close(self) -> None:
        self.db.close()

    def state(self) -> dict[str, str | None]:
        return dict(self.db.execute("SELECT key, value FROM sync_state").fetchall())

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def save(self, robots: list[dict[str, Any]], **state: str | None) -> None:
        """Rows and the state that follows them, together or not at all."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO robots (code, version, document) VALUES (?, ?, ?)"
                " ON CONFLICT (code) DO UPDATE SET version = excluded.version,"
                " document = excluded.document",
                [(r["code"], r["version"], orjson.dumps(r["export"]).decode()) for r in robots],
            )
            db.executemany(
                "INSERT INTO sync_state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                list(state.items()),
            )

    def keep_only(self, codes: set[str]) -> int:
        """Delete every robot not in `codes`; how many went."""
        with self.transaction() as db:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS listed (code TEXT PRIMARY KEY)")
            db.execute("DELETE FROM listed")
            db.executemany("INSERT INTO listed (code) VALUES (?)", ((c,) for c in codes))
            gone = db.execute("DELETE FROM robots WHERE code NOT IN (SELECT code FROM listed)")
            return gone.rowcount

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM robots").fetchone()[0]


def sync(
    gateway: Gateway,
    mirror: Mirror,
    *,
    owner: str | None = None,
    page_size: int = 50,
    quiet: bool = False,
    prune: bool = True,
) -> SyncResult:
    """Bring `mirror` up to date with the caller's view of the fleet.

    `owner` is the owner's party identifier (schema/parties.py), the caller's
    own when None. The feed matches robots by their owner now, so a robot that
    left the fleet (sold, say) never shows up in it again; `prune` lists the
    fleet's codes after following the feed and drops the robots that are no
    longer in it.
    """
    from tqdm import tqdm

    if owner is not None and not is_party_id(owner):
        raise SyncError(NOT_A_PARTY_ID)
    state = mirror.state()
    asked = owner or ""
    if not state:
        feed = gateway.ask(FEED, {"owner": owner})["fleetFeed"]
        state = {
            "gateway": gateway.url,
            "asked_owner": asked,
            "owner": feed["ownerId"],
            "phase": COPYING,
            "list_cursor": None,
            "feed_cursor": feed["headCursor"],
        }
        mirror.save([], **state)
    elif state["owner"] is not None and not is_party_id(state["owner"]):
        raise SyncError(
            "the mirror was made when owners were matched by name; use another --out file"
        )
    elif (state["gateway"], state["asked_owner"]) != (gateway.url, asked):
        raise SyncError(
            f"the mirror follows {state['gateway']} for owner {state['asked_owner'] or '(own)'};"
            " use another --out file"
        )
    copied = changes = 0
    if state["phase"] == COPYING:
        after = state["list_cursor"]
        with tqdm(desc="copying", unit="robot", disable=quiet, file=sys.stderr) as bar:
            bar.update(mirror.count())
            while True:
                variables = {"owner": state["owner"], "first": page_size, "after": after}
                page = gateway.ask(ROBOTS, variables)["robots"]
                bar.total = page["totalCount"]
                robots = [edge["node"] for edge in page["edges"]]
                after = page["pageInfo"]["endCursor"] or after
                done = not page["pageInfo"]["hasNextPage"]
                mirror.save(robots, list_cursor=after, phase=FOLLOWING if done else COPYING)
                copied += len(robots)
                bar.update(len(robots))
                if done:
                    break
    after = state["feed_cursor"]
    with tqdm(desc="following", unit="change", disable=quiet, file=sys.stderr) as bar:
        while True:
            variables = {"owner": owner, "first": page_size, "after": after}
            page = gateway.ask(CHANGES, variables)["fleetChanges"]
            latest = {}
            for edge in page["edges"]:
                robot = edge["node"]["robot"]
                if robot is not None:
                    latest[robot["code"]] = robot
            after = page["pageInfo"]["endCursor"] or after
            mirror.save(list(latest.values()), feed_cursor=after)
            changes += len(page["edges"])
            bar.update(len(page["edges"]))
            if not page["pageInfo"]["hasNextPage"]:
                break
    pruned = mirror.keep_only(set(_codes(gateway, owner))) if prune else 0
    return SyncResult(copied, changes, mirror.count(), pruned)


def _codes(gateway: Gateway, owner: str | None) -> Iterator[str]:
    after = None
    while True:
        page = gateway.ask(CODES, {"owner": owner, "after": after})["fleetCodes"]
        yield from page["codes"]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            return


def register(sub: argparse._SubParsersAction) -> None:
    """Add `sync` to the `robopass` commands."""
    cmd = sub.add_parser(
        "sync", help="mirror the caller's view of a fleet into a SQLite file, incrementally"
    )
    cmd.add_argument("--gateway", required=True, help="base URL, e.g. http://127.0.0.1:8000")
    who = cmd.add_mutually_exclusive_group()
    who.add_argument(
        "--token-client",
        help="a client of the gateway's /auth server (secret: ROBOPASS_CLIENT_SECRET)",
    )
    who.add_argument("--token", help="a bearer token (or ROBOPASS_TOKEN)")
    cmd.add_argument("--out", required=True, help="the mirror's SQLite file")
    cmd.add_argument(
        "--owner",
        help="whose robots, by party identifier, e.g. uscc:... (default: the caller's own)",
    )
    cmd.add_argument(
        "--page-size",
        type=int,
        default=50,
        help="robots or changes a call (1-100; the client's memory grows with it)",
    )
    cmd.add_argument("--quiet", action="store_true", help="no progress bars")
    cmd.add_argument(
        "--prune",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="drop robots that left the fleet (lists the fleet's codes; default on)",
    )
    cmd.set_defaults(func=cmd_sync)


def failure(exc: Exception, gateway: str, owner: str | None = None) -> str:
    """The one line for a sync that failed: what went wrong and what to check."""
    if isinstance(exc, SyncError) and exc.code == DENIED_CODE and owner:
        return (
            f"{exc}; a token may mirror only its own organisation's robots: leave --owner"
            f" out, or use a token whose org_id is {owner}"
        )
    if isinstance(exc, httpx.ConnectError):
        return (
            f"cannot reach the gateway at {gateway} ({exc}): is `robopass serve` running"
            " there? Check --gateway"
        )
    if isinstance(exc, httpx.TimeoutException):
        return f"the gateway at {gateway} did not answer in time; try again, or check --gateway"
    if isinstance(exc, httpx.HTTPError):
        return f"talking to the gateway at {gateway}: {exc or type(exc).__name__}"
    return str(exc)


def cmd_sync(args: argparse.Namespace) -> int:
    """Mirror the caller's view of a fleet into a SQLite file, incrementally."""
    if args.page_size < 1 or args.page_size > 100:
        raise SystemExit("robopass: --page-size must be between 1 and 100")
    if args.owner is not None and not is_party_id(args.owner):
        raise SystemExit(f"robopass: {NOT_A_PARTY_ID}")
    configured_sync = configured().sync
    token = args.token or configured_sync.token
    if not token and not args.token_client:
        raise SystemExit("robopass: sync needs --token-client CLIENT or --token (ROBOPASS_TOKEN)")
    try:
        gateway = Gateway(
            args.gateway,
            token=token,
            client=args.token_client,
            client_secret=configured_sync.client_secret,
        )
    except (SyncError, httpx.HTTPError) as exc:
        raise SystemExit(f"robopass: {failure(exc, args.gateway)}") from None
    out = Path(args.out)
    fresh = not out.exists()
    mirror = Mirror(out)
    refused, untouched = None, False
    try:
        result = sync(
            gateway,
            mirror,
            owner=args.owner,
            page_size=args.page_size,
            quiet=args.quiet,
            prune=args.prune,
        )
    except (SyncError, httpx.HTTPError) as exc:
        refused = failure(exc, args.gateway, args.owner)
        untouched = fresh and not mirror.state()
    finally:
        mirror.close()
        gateway.close()
    if refused is not None:
        if untouched:  # the first call failed: leave no empty mirror behind a refusal
            for leftover in (out, Path(f"{out}-wal"), Path(f"{out}-shm")):
                leftover.unlink(missing_ok=True)
        raise SystemExit(f"robopass: {refused}")
    print(
        f"{args.out}: {result.robots} robots; {result.copied} copied, "
        f"{result.changes} changes followed, {result.pruned} no longer in the fleet removed"
    )
    return 0
