"""Campaigns across every federated registry node, as one `CampaignBackend`.

The gateway keeps no campaign of its own: it decides who may issue what and
narrows the selector (gateway/service/campaigns.py, policies/campaigns.py),
then sends the same campaign (id, terms, issuer, issue time) to every node's
campaign API (gateway/node/campaigns.py) under its service token. Each node
stores it and fans it out over its own robots; the same campaign again is a
replay there, so issuing is idempotent across nodes, and issuing again after
a node was unreachable completes the campaign on that node without touching
the others. A node picks up robots registered later itself, and finishes a
fan-out a stop left midway when it starts again.

Reads ask every node and combine: a record's progress is the sum of the
nodes' progress; counts are the nodes' rows together (each robot is counted
on its home node only); robots and campaigns are merged in code and id order:
a node goes on after a plain id or code, the same for every node, so the
gateway's opaque cursor holds just that and paging needs no composite cursor.
A node that does not answer fails the read with `RegistryUnavailable` naming it
rather than answering counts that are short.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from gateway.store import UnknownRobot
from gateway.store.campaigns import UnknownCampaign
from gateway.store.cursors import decode_code, decode_cursor, encode_cursor, owner_key_text
from gateway.store.errors import IdempotencyConflict
from schema.campaign_source import (
    CampaignFilter,
    CampaignRecord,
    CampaignRobot,
    Issued,
    OwnerRows,
    Progress,
    StateCount,
)
from schema.campaigns import Campaign, RobotState
from schema.codec import DecodeError, from_plain, to_plain
from schema.source import NotServed, Page, RegistryUnavailable
from schema.writes import WriteRejected

from .client import RegistryClient, on_every, problem_details


def _body(client: RegistryClient, response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise RegistryUnavailable(client.id, "answered with a body that is not JSON") from None


def _decoded(client: RegistryClient, cls: type[Any], data: Any) -> Any:
    try:
        return from_plain(cls, data)
    except DecodeError as exc:
        detail = f"sent a campaign record that does not parse: {exc}"
        raise RegistryUnavailable(client.id, detail) from None


def _summed(records: Sequence[CampaignRecord]) -> CampaignRecord:
    """One record whose progress is every node's together."""
    progress = Progress(
        sum(r.progress.scanned for r in records),
        sum(r.progress.reached for r in records),
        all(r.progress.done for r in records),
    )
    return CampaignRecord(records[0].campaign, progress)


class FederatedCampaigns:
    """Campaigns issued to and read from every registry node; `homes` routes one robot."""

    def __init__(
        self, clients: Mapping[str, RegistryClient], homes: Mapping[str, RegistryClient]
    ) -> None:
        self.clients = list(clients.values())
        self.homes = homes

    async def _each(self, call: Any) -> list[Any]:
        """`call(client)` on every node at once; the first failure is raised, named."""
        return await on_every(self.clients, call)

    async def _get(
        self, client: RegistryClient, route: str, path: str, params: Mapping[str, Any] | None = None
    ) -> Any | None:
        """A read's body; None on 404."""
        response = await client.call("GET", route, path, idempotent=True, params=params)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            detail = problem_details(response).get("detail", f"HTTP {response.status_code}")
            raise RegistryUnavailable(client.id, f"answered {response.status_code}: {detail}")
        return _body(client, response)

    # -- issuing --------------------------------------------------------------

    async def issue(self, campaign: Campaign) -> Issued:
        body = {"campaign": to_plain(campaign)}
        path = f"/campaigns/{campaign.id}"

        async def put(client: RegistryClient) -> Issued:
            response = await client.call(
                "PUT", "PUT /campaigns/{id}", path, idempotent=True, json=body
            )
            status = response.status_code
            if status == 409:
                raise IdempotencyConflict(
                    problem_details(response).get("detail", "another campaign")
                )
            if status == 422:
                problem = problem_details(response)
                raise WriteRejected(
                    problem.get("rule"), problem.get("field"), problem.get("detail", "rejected")
                )
            if status not in (200, 201):
                detail = problem_details(response).get("detail", f"HTTP {status}")
                raise RegistryUnavailable(client.id, f"answered {status} to a campaign: {detail}")
            answer = _body(client, response)
            record = _decoded(client, CampaignRecord, answer.get("record"))
            progress = _decoded(client, Progress, answer.get("progress"))
            return Issued(record, bool(answer.get("created")), progress)

        parts: list[Issued] = await self._each(put)
        record = _summed([p.record for p in parts])
        progress = _summed([CampaignRecord(record.campaign, p.progress) for p in parts]).progress
        return Issued(record, any(p.created for p in parts), progress)

    async def resume(self, campaign_id: str) -> Progress:
        """Nodes finish their fan-outs themselves; this says how far they got."""
        record = await self.campaign(campaign_id)
        if record is None:
            raise UnknownCampaign(f"no campaign {campaign_id}")
        return record.progress

    # -- reads ----------------------------------------------------------------

    async def campaign(self, campaign_id: str) -> CampaignRecord | None:
        path = f"/campaigns/{campaign_id}"

        async def get(client: RegistryClient) -> CampaignRecord | None:
            body = await self._get(client, "GET /campaigns/{id}", path)
            return None if body is None else _decoded(client, CampaignRecord, body.get("record"))

        found = [r for r in await self._each(get) if r is not None]
        return _summed(found) if found else None

    async def campaigns(
        self, where: CampaignFilter, first: int, after: str | None = None
    ) -> Page[CampaignRecord]:
        """Every node's campaigns merged by id (the cursor is an id every node pages by)."""
        params = {"first": str(max(1, min(first, 500)))}
        if after:
            params["after"] = decode_cursor("cmp", after)  # refused before any call if not ours
        if where.kind:
            params["kind"] = where.kind
        if where.issuer_id:
            params["issuer"] = where.issuer_id

        async def get(client: RegistryClient) -> tuple[list[CampaignRecord], bool]:
            body = await self._get(client, "GET /campaigns", "/campaigns", params) or {}
            records = [_decoded(client, CampaignRecord, r) for r in body.get("records", [])]
            return records, bool(body.get("hasNextPage"))

        merged: dict[str, list[CampaignRecord]] = {}
        more = False
        for records, has_next in await self._each(get):
            more = more or has_next
            for record in records:
                merged.setdefault(record.campaign.id, []).append(record)
        shown = sorted(merged)[:first]
        items = [_summed(merged[i]) for i in shown]
        cursors = [encode_cursor("cmp", i) for i in shown]
        return Page(items, cursors, more or len(merged) > first)

    async def counts(self, campaign_id: str, owner_id: str | None = None) -> list[StateCount]:
        params = {"by": "owner", **({"owner_id": owner_id} if owner_id is not None else {})}
        return await self._counts(campaign_id, params)

    async def country_counts(self, campaign_id: str) -> list[StateCount]:
        return await self._counts(campaign_id, {"by": "country"})

    async def owner_counts(
        self,
        campaign_id: str,
        first: int,
        after: tuple[str, str] | None = None,
        owner_id: str | None = None,
        countries: tuple[str, ...] = (),
    ) -> OwnerRows:
        """Every node's page of owners merged by key, each shown owner's rows summed.

        An owner may hold robots on several nodes. Each node answers the rows of its
        first `first` owners after the key; the merged page is the first `first` keys
        of them all. Those are complete: a node that has more owners answered `first`
        keys up to its last, so the `first` smallest keys overall are at or before
        that last key, and the node gave every row of them. More follow if the union
        has more keys or any node has more.
        """
        path = f"/campaigns/{campaign_id}/owners"
        params = {"first": str(max(1, min(first, 500)))}
        if after is not None:
            params["after"] = owner_key_text(*after)
        if owner_id is not None:
            params["owner_id"] = owner_id
        if countries:
            params["countries"] = ",".join(countries)

        async def get(client: RegistryClient) -> tuple[list[StateCount], bool]:
            body = await self._get(client, "GET /campaigns/{id}/owners", path, params) or {}
            rows = [_decoded(client, StateCount, r) for r in body.get("counts", [])]
            return rows, bool(body.get("hasNextPage"))

        parts = await self._each(get)
        rows = [row for part, _ in parts for row in part]
        keys = sorted({(r.country, r.owner_id) for r in rows})
        shown = set(keys[:first])
        more = len(keys) > first or any(has_next for _, has_next in parts)
        return OwnerRows([r for r in rows if (r.country, r.owner_id) in shown], more)

    async def _counts(self, campaign_id: str, params: Mapping[str, str]) -> list[StateCount]:
        """Every node's rows together: a robot is counted on its home node only."""
        path = f"/campaigns/{campaign_id}/counts"

        async def get(client: RegistryClient) -> list[StateCount]:
            body = await self._get(client, "GET /campaigns/{id}/counts", path, params)
            rows = [] if body is None else body.get("counts", [])
            return [_decoded(client, StateCount, r) for r in rows]

        return [row for part in await self._each(get) for row in part]

    async def robots(
        self,
        campaign_id: str,
        first: int,
        after: str | None = None,
        states: tuple[RobotState, ...] = (),
        countries: tuple[str, ...] = (),
    ) -> Page[CampaignRobot]:
        """Every node's robots merged in code order (the cursor is a code)."""
        path = f"/campaigns/{campaign_id}/robots"
        params = {"first": str(max(1, min(first, 500)))}
        if after:
            params["after"] = decode_code("code", after)  # refused before any call if not ours
        if states:
            params["states"] = ",".join(s.value for s in states)
        if countries:
            params["countries"] = ",".join(countries)

        async def get(client: RegistryClient) -> tuple[list[CampaignRobot], bool]:
            body = await self._get(client, "GET /campaigns/{id}/robots", path, params) or {}
            robots = [_decoded(client, CampaignRobot, r) for r in body.get("robots", [])]
            return robots, bool(body.get("hasNextPage"))

        merged: list[CampaignRobot] = []
        more = False
        for robots, has_next in await self._each(get):
            more = more or has_next
            merged.extend(robots)
        merged.sort(key=lambda robot: robot.code)
        shown = merged[:first]
        cursors = [encode_cursor("code", r.code) for r in shown]
        return Page(shown, cursors, more or len(merged) > first)

    async def of_robot(self, code: str) -> list[tuple[Campaign, CampaignRobot]]:
        client = self.homes.get(code[:2])
        if client is None:
            return []
        body = await self._get(client, "GET /robots/{code}/campaigns", f"/robots/{code}/campaigns")
        rows = [] if body is None else body.get("campaigns", [])
        return [
            (
                _decoded(client, Campaign, r.get("campaign")),
                _decoded(client, CampaignRobot, r.get("robot")),
            )
            for r in rows
        ]

    async def exempt(self, campaign_id: str, code: str, reason: str) -> CampaignRobot:
        client = self.homes.get(code[:2])
        if client is None:
            raise UnknownRobot(str(NotServed(code)))
        response = await client.call(
            "POST",
            "POST /campaigns/{id}/exemptions",
            f"/campaigns/{campaign_id}/exemptions",
            idempotent=True,
            json={"code": code, "reason": reason},
        )
        if response.status_code == 404:
            raise UnknownRobot(problem_details(response).get("detail", f"robot {code} not found"))
        if response.status_code != 200:
            raise RegistryUnavailable(client.id, f"answered {response.status_code} to an exemption")
        return _decoded(client, CampaignRobot, _body(client, response).get("robot"))
