"""What one party can see of a gateway, gathered as an outside attacker would.

The dictionary-attack test (tests/security/test_dictionary_attack.py) asks the real app,
with the party's real signed token (or none), for everything a client can ask
about a sample of robots: each robot's history (hashes, commitments, cursors),
its exports over REST (headers included, for any ETag), the party's change feed
and, where the party may read it, each robot's audit trail. Every 64-hex string
anywhere in the answers (cursors decoded too) is a digest the attacker may try
to match; every value shown is knowledge it may build candidates from.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx
import orjson

from schema.graphql.query import build_schema

HEX64 = re.compile(r"[0-9a-f]{64}")
CURSOR = re.compile(r'"\w*[cC]ursor":"([^"]{1,400})"')
"""A cursor (opaque, base64 here): decoded and searched too."""
EXPORT_FORMATS = ("canonical", "cn-miit", "aas", "untp-dpp")
SALTED_FIELDS = ("scheme", "commitment", "salt")
"""History fields of the salted scheme; asked for only where the schema has them."""


@cache
def history_fields() -> str:
    """The fields of a history event this gateway's schema offers, hashes and all."""
    fields = build_schema()._schema.type_map["HistoryEvent"].fields  # type: ignore[attr-defined]
    names = ["sequence", "hash", "prevHash", "at", "type", "payload"]
    return " ".join(names + [f for f in SALTED_FIELDS if f in fields])


AUDIT_FIELDS = """id at role issuer subject organisation tokenId served denied purposes
  agreements policyVersion action hash prevHash"""


@cache
def audit_fields() -> str:
    fields = build_schema()._schema.type_map["AuditEntry"].fields  # type: ignore[attr-defined]
    return AUDIT_FIELDS + "".join(f" {f}" for f in ("commitment", "salt") if f in fields)


@dataclass(frozen=True, slots=True)
class Row:
    """One event of a robot's log as the party was shown it; None where denied."""

    sequence: int
    hash: str
    prev_hash: str
    at: str | None
    type: str | None
    payload: dict[str, Any] | None
    scheme: int | None = None
    commitment: str | None = None
    salt: str | None = None

    @property
    def hidden(self) -> bool:
        return self.payload is None

    @classmethod
    def of(cls, node: dict[str, Any]) -> Row:
        return cls(
            node["sequence"],
            node["hash"],
            node["prevHash"],
            node.get("at"),
            node.get("type"),
            node.get("payload"),
            node.get("scheme"),
            node.get("commitment"),
            node.get("salt"),
        )


@dataclass(slots=True)
class Sight:
    """Everything one party was shown about one robot."""

    code: str
    rows: dict[int, Row] = field(default_factory=dict)
    view: dict[str, Any] = field(default_factory=dict)
    """The canonical export: the passport as the party may see it."""
    audit: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Knowledge:
    """One party's haul: per robot what it saw, and every digest it received."""

    party: str
    sights: dict[str, Sight]
    digests: set[str] = field(default_factory=set)
    etags: list[str] = field(default_factory=list)

    def harvest(self, value: Any) -> None:
        """Every 64-hex string inside `value`, and inside any base64 text (cursors)."""
        text = orjson.dumps(value).decode()
        self.digests.update(HEX64.findall(text.lower()))
        for token in CURSOR.findall(text):
            decoded = _unbase64(token)
            if decoded:
                self.digests.update(HEX64.findall(decoded.lower()))


def _unbase64(text: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw.decode("latin-1")


ROBOT = """query($code: RobotCode!, $after: String) { robot(code: $code) {
  history(first: 100, after: $after) { edges { cursor node { %s } }
    pageInfo { hasNextPage endCursor } } } }"""
FEED = """query($after: String) { fleetFeed { ownerId headCursor }
  fleetChanges(first: 500, after: $after) { edges { cursor node { code %s } }
    pageInfo { hasNextPage endCursor } } }"""
TRAIL = """query($code: RobotCode!, $after: String) { auditTrail(code: $code, first: 100,
  after: $after) { edges { cursor node { %s } } pageInfo { hasNextPage endCursor } } }"""


class Spy:
    """One party's client of the app: asks, harvests and keeps what it was shown."""

    def __init__(self, client: httpx.AsyncClient, party: str, bearer: str | None) -> None:
        self.client = client
        self.headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
        self.history = history_fields()
        self.known = Knowledge(party, {})

    async def ask(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=self.headers
        )
        self._headers(response)
        body = response.json()
        self.known.harvest(body)
        return body.get("data") or {}

    def _headers(self, response: httpx.Response) -> None:
        etag = response.headers.get("etag")
        if etag:
            self.known.etags.append(etag)
        self.known.harvest(dict(response.headers))

    async def robot(self, code: str) -> None:
        """History (every page) and every export of one robot."""
        sight = self.known.sights.setdefault(code, Sight(code))
        after = None
        while True:
            data = await self.ask(ROBOT % self.history, {"code": code, "after": after})
            page = (data.get("robot") or {}).get("history")
            if not page:
                break
            for edge in page["edges"]:
                row = Row.of(edge["node"])
                sight.rows[row.sequence] = row
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        for fmt in EXPORT_FORMATS:
            response = await self.client.get(f"/robots/{code}/export/{fmt}", headers=self.headers)
            self._headers(response)
            if response.status_code == 200:
                body = response.json()
                self.known.harvest(body)
                if fmt == "canonical":
                    sight.view = body

    async def feed(self, codes: frozenset[str]) -> None:
        """The party's change feed to its end; rows of sampled robots join their sights."""
        after = None
        while True:
            data = await self.ask(FEED % self.history, {"after": after})
            page = data.get("fleetChanges")
            if not page:
                return
            for edge in page["edges"]:
                node = edge["node"]
                if node["code"] in codes:
                    sight = self.known.sights.setdefault(node["code"], Sight(node["code"]))
                    sight.rows.setdefault(node["sequence"], Row.of(node))
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]

    async def trail(self, code: str) -> None:
        """The robot's audit trail, where the party may read it (owners, the authority)."""
        sight = self.known.sights.setdefault(code, Sight(code))
        after = None
        while True:
            data = await self.ask(TRAIL % audit_fields(), {"code": code, "after": after})
            page = data.get("auditTrail")
            if not page:
                return
            sight.audit.extend(edge["node"] for edge in page["edges"])
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]
