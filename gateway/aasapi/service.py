"""The AAS HTTP API (IDTA-01002 Part 2 V3.0): the read profiles of the AAS Repository and the
Submodel Repository service specifications, over every robot the gateway's source serves.

Each robot's environment is the AAS adapter's output for the caller's view, exactly as
`/robots/{code}/export/aas` serves it, so a withheld field is absent here too. Only the
submodels a response carries are exported with the recording view (a shell carries all
of them, since its references say which exist), and one audit record per robot is
appended before the response is sent. Identifiers map to robot codes by their form
(`adapters.aas.code_of_shell`, `submodel_of`), never by a scan. A robot whose code the
caller may not see has no shell here: its ids would show the code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Container
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from adapters import aas
from gateway.service.export import export_document
from schema.code import RobotCode, RobotCodeError
from schema.graphql.objects import EVERYTHING
from schema.source import CursorError, RobotFilter, RobotRecord

from .content import (
    BadPath,
    at_level,
    content_of,
    element_at,
    element_key,
    element_paths,
    metadata,
    paths_under,
    reference,
    shell_reference,
    submodel_view,
    value_only,
)
from .query import (
    ApiError,
    asset_ids,
    cursor_key,
    decode_id,
    flag,
    index_of,
    limit_of,
    modifiers,
    new_cursor,
    next_index,
    position_cursor,
    position_of,
)

if TYPE_CHECKING:
    from gateway.service.context import RequestContext

__all__ = ["PROFILES", "AasApi", "result_error"]

JSON = dict[str, Any]
PROFILES = [
    "https://admin-shell.io/aas/API/3/0/AssetAdministrationShellRepositoryServiceSpecification/SSP-002",
    "https://admin-shell.io/aas/API/3/0/SubmodelRepositoryServiceSpecification/SSP-002",
]
READ = frozenset({"GET", "HEAD"})
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
"""Routed so that a write is answered 405 in the Result shape, not as plain text."""
BATCH = 100
"""Robots asked of the source at once while filling a page."""
CONTENTS = ("", "/$metadata", "/$value", "/$reference", "/$path")
HEADERS = {"Cache-Control": "private, no-store", "Vary": "Authorization, Cookie"}


def result_error(status: int, text: str) -> Response:
    """The specification's `Result`: one error `Message`."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    message = {"code": str(status), "messageType": "Error", "text": text, "timestamp": now}
    return Response(
        orjson.dumps({"messages": [message]}),
        status_code=status,
        media_type="application/json",
        headers=HEADERS,
    )


class _Scoped:
    """A view narrowed to the paths of some submodels: only those are checked, and recorded."""

    __slots__ = ("paths", "view")

    def __init__(self, view: Container[str], paths: frozenset[str]) -> None:
        self.view = view
        self.paths = paths

    def __contains__(self, path: object) -> bool:
        return path in self.paths and path in self.view


@cache
def _scope(names: frozenset[str]) -> frozenset[str]:
    return frozenset().union(*(aas.submodel_paths(n) for n in names))


@dataclass(slots=True)
class Call:
    request: Request
    context: RequestContext

    @property
    def params(self) -> Any:
        return self.request.query_params

    def path(self, name: str) -> str:
        return self.request.path_params[name]


Handler = Callable[[Call], Awaitable[Any]]


class AasApi:
    """ASGI app of the API; `context` resolves the caller as every other route does."""

    def __init__(self, context: Callable[[Request], Awaitable[RequestContext]]) -> None:
        self.context = context
        routes = [
            ("/description", self.description),
            ("/shells", self.shells),
            ("/shells/$reference", self.shell_references),
            ("/shells/{aas}", self.shell),
            ("/shells/{aas}/$reference", self.shell_reference),
            ("/shells/{aas}/asset-information", self.asset_information),
            ("/shells/{aas}/asset-information/thumbnail", self.thumbnail),
            ("/shells/{aas}/submodel-refs", self.submodel_refs),
            ("/submodels", self.submodels),
            ("/serialization", self.serialization),
        ]
        for content in CONTENTS[1:]:
            routes.append((f"/submodels{content}", self.submodels))
        for prefix in ("/shells/{aas}/submodels/{sm}", "/submodels/{sm}"):
            # Fixed segments first: `$value` must not be taken for an idShortPath.
            routes += [(prefix + c, self.submodel) for c in CONTENTS]
            routes += [(f"{prefix}/submodel-elements{c}", self.elements) for c in CONTENTS]
            routes += [(f"{prefix}/submodel-elements/{{path}}{c}", self.element) for c in CONTENTS]
            routes.append((f"{prefix}/submodel-elements/{{path}}/attachment", self.attachment))
        self.router = Router(
            [Route(p, self._endpoint(h), methods=METHODS) for p, h in routes]
            + [Route("/{rest:path}", self._unknown)]
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.router(scope, receive, send)

    def _endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if request.method not in READ:
                response = result_error(405, "this API is read-only: GET and HEAD only")
                response.headers["Allow"] = "GET, HEAD"
                return response
            context = await self.context(request)
            try:
                body = await handler(Call(request, context))
            except ApiError as exc:
                await context.record_disclosures(answered=False)
                return result_error(exc.status, exc.text)
            await context.record_disclosures()
            return Response(orjson.dumps(body), media_type="application/json", headers=HEADERS)

        return endpoint

    async def _unknown(self, request: Request) -> Response:
        return result_error(404, f"no operation of this API at {request.url.path}")

    # ---- robots and their environments -----------------------------------------------

    def _environment(
        self, context: RequestContext, record: RobotRecord, names: frozenset[str] | None, *, audit
    ) -> JSON | None:
        """The robot's environment for this caller, narrowed to submodels `names` (None: all).

        None when the caller may not see the code. `audit` False reads with the plain mask,
        for looking ahead past what a page will serve.
        """
        if not _named(context, record):
            return None
        view = context.view(record) if audit else _quiet_view(context, record)
        mask: Container[str] = view if names is None else _Scoped(view, _scope(names))
        return export_document(record.passport, "aas", None if mask is EVERYTHING else mask)

    async def _record(self, call: Call, code: str | None, what: str, identifier: str):
        """The robot a well-formed identifier names; 404 for any other."""
        if code is not None:
            try:
                valid = RobotCode.parse(code).value == code
            except RobotCodeError:
                valid = False
            if valid:
                record = await call.context.source.robot(code)
                if record is not None:
                    return record
        raise ApiError(404, f"no {what} with id {identifier!r}")

    async def _shell_env(self, call: Call) -> JSON:
        identifier = decode_id(call.path("aas"), "aasIdentifier")
        record = await self._record(call, aas.code_of_shell(identifier), "shell", identifier)
        env = self._environment(call.context, record, None, audit=True)
        if env is None:
            raise ApiError(404, f"no shell with id {identifier!r}")
        return env

    async def _submodel(self, call: Call) -> JSON:
        identifier = decode_id(call.path("sm"), "submodelIdentifier")
        named = aas.submodel_of(identifier)
        name, code = named if named is not None else (None, None)
        if "aas" in call.request.path_params:
            shell_id = decode_id(call.path("aas"), "aasIdentifier")
            shell_code = aas.code_of_shell(shell_id)
            await self._record(call, shell_code, "shell", shell_id)
            if code != shell_code:
                raise ApiError(404, f"shell {shell_id!r} has no submodel {identifier!r}")
        record = await self._record(call, code, "submodel", identifier)
        # A submodel with no name has no code either: `_record` has answered 404 for it.
        names = frozenset() if name is None else frozenset({name})
        env = self._environment(call.context, record, names, audit=True) or {}
        for submodel in env.get("submodels", ()):
            if submodel["id"] == identifier:
                return submodel
        raise ApiError(404, f"no submodel with id {identifier!r}")

    async def _walk(
        self, context: RequestContext, after: str | None
    ) -> AsyncIterator[tuple[RobotRecord, str | None, str]]:
        """Every robot after a source cursor: (record, the cursor before it, its own).

        The source cursor came inside one of this listing's cursors, from the caller:
        one the source refuses is a 400 like the outer one.
        """
        while True:
            try:
                page = await context.source.robots(RobotFilter(), BATCH, after)
            except CursorError:
                raise ApiError(400, "cursor was not issued by this listing") from None
            for record, cursor in zip(page.items, page.cursors, strict=True):
                yield record, after, cursor
                after = cursor
            if not page.has_next_page:
                return

    # ---- service description ----------------------------------------------------------

    async def description(self, call: Call) -> JSON:
        return {"profiles": PROFILES}

    # ---- AAS repository ---------------------------------------------------------------

    async def _shell_page(self, call: Call) -> tuple[list[JSON], str | None]:
        limit = limit_of(call.params)
        after = cursor_key(call.params, "shells")
        wanted = asset_ids(call.params)
        id_short = call.params.get("idShort")
        if id_short is not None and id_short != aas.SHELL_ID_SHORT:
            return [], None
        if wanted:
            return await self._shells_of_assets(call, wanted), None
        shells: list[JSON] = []
        last = ""  # the cursor of the last shell kept: set before the page can be full (limit >= 1)
        async for record, _, cursor in self._walk(call.context, after):
            if len(shells) == limit:
                if _named(call.context, record):
                    return shells, new_cursor("shells", last)
                continue
            env = self._environment(call.context, record, None, audit=True)
            if env is not None:
                shells.append(env["assetAdministrationShells"][0])
                last = cursor
        return shells, None

    async def _shells_of_assets(self, call: Call, wanted: list[tuple[str, str]]) -> list[JSON]:
        """Shells whose asset has every id asked for: the robot is read straight from it."""
        codes = {aas.code_of_asset(v) if n == "globalAssetId" else None for n, v in wanted}
        if len(codes) != 1 or None in codes:
            return []
        code = codes.pop()
        try:
            record = await self._record(call, code, "asset", code or "")
        except ApiError:
            return []
        env = self._environment(call.context, record, None, audit=True)
        return [] if env is None else [env["assetAdministrationShells"][0]]

    async def shells(self, call: Call) -> JSON:
        shells, cursor = await self._shell_page(call)
        return _paged(shells, cursor)

    async def shell_references(self, call: Call) -> JSON:
        shells, cursor = await self._shell_page(call)
        return _paged([shell_reference(s) for s in shells], cursor)

    async def shell(self, call: Call) -> JSON:
        return (await self._shell_env(call))["assetAdministrationShells"][0]

    async def shell_reference(self, call: Call) -> JSON:
        return shell_reference((await self._shell_env(call))["assetAdministrationShells"][0])

    async def asset_information(self, call: Call) -> JSON:
        return (await self._shell_env(call))["assetAdministrationShells"][0]["assetInformation"]

    async def thumbnail(self, call: Call) -> JSON:
        await self._shell_env(call)
        raise ApiError(404, "robot shells carry no thumbnail")

    async def submodel_refs(self, call: Call) -> JSON:
        limit = limit_of(call.params)
        start = index_of(cursor_key(call.params, "refs"))
        refs = (await self._shell_env(call))["assetAdministrationShells"][0].get("submodels", [])
        return _paged(refs[start : start + limit], next_index("refs", start, limit, len(refs)))

    # ---- submodel repository ----------------------------------------------------------

    async def submodels(self, call: Call) -> JSON:
        """Every submodel of every robot the caller may see, robot by robot, in order."""
        content = content_of(call.request.url.path)
        limit = limit_of(call.params)
        mods = modifiers(call.params)
        names = self._submodel_names(call)
        key = cursor_key(call.params, "submodels")
        after, resume, done = position_of(key)
        chosen: list[tuple[RobotRecord, str, str | None, int]] = []
        more = False
        async for record, before, _ in self._walk(call.context, after):
            if not names:
                break
            env = self._environment(call.context, record, names, audit=False)
            for submodel in (env or {}).get("submodels", ()):
                if submodel["idShort"] not in names:
                    continue  # another submodel written from the same fields (the code)
                index = aas.SUBMODEL_NAMES.index(submodel["idShort"])
                if record.passport.code == resume and index <= done:
                    continue
                if len(chosen) == limit:
                    more = True
                    break
                chosen.append((record, submodel["idShort"], before, index))
            if more:
                break
        items = []
        for record, group in _by_robot(chosen):
            env = self._environment(call.context, record, frozenset(group), audit=True) or {}
            items += [s for s in env.get("submodels", ()) if s["idShort"] in group]
        cursor = None
        if more:
            record, _, before, index = chosen[-1]
            cursor = position_cursor(before, record.passport.code, index)
        if content == "/$path":  # one entry a submodel, as paging counts submodels: its idShort
            return _paged([s["idShort"] for s in items], cursor)
        return _paged([submodel_view(s, content, mods.core) for s in items], cursor)

    def _submodel_names(self, call: Call) -> frozenset[str]:
        names = frozenset(aas.SUBMODEL_NAMES)
        id_short = call.params.get("idShort")
        if id_short is not None:
            names &= {id_short}
        encoded = call.params.get("semanticId")
        if encoded is not None:
            semantic = decode_id(encoded, "semanticId")
            names &= {n for n in names if aas.semantic_id_of(n) == semantic}
        return names

    async def submodel(self, call: Call) -> Any:
        submodel = await self._submodel(call)
        content = content_of(call.request.url.path)
        return submodel_view(submodel, content, modifiers(call.params).core)

    async def elements(self, call: Call) -> JSON:
        limit = limit_of(call.params)
        start = index_of(cursor_key(call.params, "elements"))
        mods = modifiers(call.params)
        submodel = await self._submodel(call)
        content = content_of(call.request.url.path)
        elements = submodel.get("submodelElements") or []
        page = elements[start : start + limit]
        sm_id = submodel["id"]
        if content == "/$metadata":
            result: list[Any] = [metadata(e) for e in page]
        elif content == "/$value":
            result = [{e["idShort"]: value_only(at_level(e, mods.core))} for e in page]
        elif content == "/$reference":
            result = [reference(sm_id, [element_key(e)]) for e in page]
        elif content == "/$path":
            result = paths_under(page, mods.core)
        else:
            result = [at_level(e, True) if mods.core else e for e in page]
        return _paged(result, next_index("elements", start, limit, len(elements)))

    async def element(self, call: Call) -> Any:
        mods = modifiers(call.params)
        path = call.path("path")
        submodel, element, keys = await self._element(call, path)
        content = content_of(call.request.url.path)
        if content == "/$metadata":
            return metadata(element)
        if content == "/$value":
            value = value_only(at_level(element, mods.core))
            return {element["idShort"]: value} if "idShort" in element else value
        if content == "/$reference":
            return reference(submodel["id"], keys)
        if content == "/$path":
            if element["modelType"] not in ("SubmodelElementCollection", "SubmodelElementList"):
                raise ApiError(
                    400,
                    f"$path applies to collections and lists; {path} is a {element['modelType']}",
                )
            return element_paths(element, path, mods.core)
        return at_level(element, mods.core)

    async def attachment(self, call: Call) -> Any:
        path = call.path("path")
        _, element, _ = await self._element(call, path)
        raise ApiError(400, f"{path} is a {element['modelType']}, not a File or Blob")

    async def _element(self, call: Call, path: str) -> tuple[JSON, JSON, list[JSON]]:
        submodel = await self._submodel(call)
        try:
            found = element_at(submodel.get("submodelElements") or [], path)
        except BadPath as exc:
            raise ApiError(400, str(exc)) from None
        if found is None:
            raise ApiError(404, f"no submodel element at {path!r} in {submodel['id']!r}")
        return submodel, *found

    # ---- serialization ----------------------------------------------------------------

    async def serialization(self, call: Call) -> JSON:
        """An environment of exactly the shells and submodels named; none named, none served."""
        flag(call.params, "includeConceptDescriptions")  # no concept descriptions are kept
        shells, submodels = [], []
        for encoded in call.params.getlist("aasIds"):
            identifier = decode_id(encoded, "aasIds entry")
            record = await self._record(call, aas.code_of_shell(identifier), "shell", identifier)
            env = self._environment(call.context, record, None, audit=True)
            if env is None:
                raise ApiError(404, f"no shell with id {identifier!r}")
            shells.append(env["assetAdministrationShells"][0])
        for encoded in call.params.getlist("submodelIds"):
            identifier = decode_id(encoded, "submodelIds entry")
            named = aas.submodel_of(identifier)
            record = await self._record(call, named and named[1], "submodel", identifier)
            names = frozenset({named[0]}) if named else None
            env = self._environment(call.context, record, names, audit=True) or {}
            found = [s for s in env.get("submodels", ()) if s["id"] == identifier]
            if not found:
                raise ApiError(404, f"no submodel with id {identifier!r}")
            submodels += found
        out: JSON = {}
        if shells:
            out["assetAdministrationShells"] = shells
        if submodels:
            out["submodels"] = submodels
        return out


def _quiet_view(context: RequestContext, record: RobotRecord) -> Container[str]:
    """The caller's mask without recording: for looking ahead, never for what is sent."""
    decision = context.decision(record)
    return EVERYTHING if decision is None else decision.mask


def _named(context: RequestContext, record: RobotRecord) -> bool:
    """Whether the caller may see the robot's code, which every id of its shell holds."""
    decision = context.decision(record)
    return decision is None or "identity.code" in decision.mask


def _paged(result: list[Any], cursor: str | None) -> JSON:
    return {"paging_metadata": {"cursor": cursor} if cursor else {}, "result": result}


def _by_robot(
    chosen: list[tuple[RobotRecord, str, str | None, int]],
) -> list[tuple[RobotRecord, list[str]]]:
    groups: list[tuple[RobotRecord, list[str]]] = []
    for record, name, _, _ in chosen:
        if groups and groups[-1][0] is record:
            groups[-1][1].append(name)
        else:
            groups.append((record, [name]))
    return groups
