"""Export downloads over HTTP and the registry's public signing keys.

`GET /robots/{code}/export/{format}` answers the caller's redacted view as a
JSON file, or as a signed `vc+jwt` credential with `?signed=true` or
`Accept: application/vc+jwt`. It sits behind the same authentication as
/graphql, so a bad token is a 401 and the anonymous caller gets PUBLIC fields.
A response is one caller's view: it is never stored by shared caches.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gateway.credentials.sdvc import STATUS_TTL
from gateway.credentials.signing import MEDIA_TYPE, RegistrySigner, issue
from gateway.edge.auth import Authenticated
from gateway.service.export import EXPORT_FORMATS, ExportFailed, known_formats
from gateway.service.passport_vc import STATUS_PATH, current_status
from schema.code import RobotCode, RobotCodeError

if TYPE_CHECKING:
    from gateway.service.context import RequestContext
    from gateway.service.services import Services

__all__ = ["ExportDownload", "download_routes"]

TRUE = frozenset({"true", "1", "yes"})
FALSE = frozenset({"false", "0", "no"})


def download_routes(
    services: Services, context: Callable[[Request], Awaitable[RequestContext]]
) -> list[Route]:
    """The export download route, the JWKS route when this gateway signs, and the
    Token Status List of its SD-JWT VCs when it issues them.

    `context` makes each request's context (the app decides whose it is).
    """
    signer = services.signer
    routes = [
        Route(
            "/robots/{code}/export/{format}",
            Authenticated(ExportDownload(context, signer), services.verifier),
            methods=["GET", "HEAD"],
        )
    ]
    if signer is not None:
        published = orjson.dumps(signer.jwks)

        async def jwks(request: Request) -> Response:
            return Response(
                published,
                media_type="application/jwk-set+json",
                headers={"Cache-Control": "max-age=300"},
            )

        routes.append(Route("/.well-known/jwks.json", jwks))
    issuer = services.credentials
    if issuer is not None:

        async def status_list(request: Request) -> Response:
            token = await current_status(issuer, services.source)
            return Response(
                token,
                media_type="application/statuslist+jwt",
                headers={"Cache-Control": f"max-age={STATUS_TTL}"},
            )

        routes.append(Route(STATUS_PATH, status_list, methods=["GET"]))
    return routes


class ExportDownload:
    """ASGI endpoint: one robot in one format, as the caller may see it."""

    def __init__(
        self, context: Callable[[Request], Awaitable[RequestContext]], signer: RegistrySigner | None
    ) -> None:
        self.context = context
        self.signer = signer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.respond(Request(scope, receive))
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        try:
            code = RobotCode.parse(request.path_params["code"]).value
        except RobotCodeError as exc:
            return _error(400, "BAD_ROBOT_CODE", str(exc), rule=exc.rule, position=exc.position)
        fmt = request.path_params["format"]
        signed = _wants_signed(request)
        if signed is None:
            return _error(400, "BAD_USER_INPUT", "signed must be true or false")
        if signed and self.signer is None:
            return _error(501, "NOT_SUPPORTED", "this gateway has no signing key")
        context = await self.context(request)
        if fmt not in EXPORT_FORMATS and fmt not in context.mappings:
            known = known_formats(context.mappings)
            message = f"unknown export format {fmt!r}; known: {', '.join(known)}"
            return _error(400, "BAD_USER_INPUT", message, formats=known)
        record = await context.source.robot(code)
        if record is None:
            return _error(404, "NOT_FOUND", f"no robot {code}")
        try:
            document = context.export(record, fmt)
        except ExportFailed as exc:
            return _error(422, "EXPORT_FAILED", str(exc))
        await context.record_disclosures()
        headers = {"Cache-Control": "private, no-store", "Vary": "Authorization, Cookie, Accept"}
        if signed and self.signer is not None:
            headers["Content-Disposition"] = f'attachment; filename="{code}.{fmt}.vc.jwt"'
            token = issue(document, fmt, code, self.signer)
            return Response(token, media_type=MEDIA_TYPE, headers=headers)
        headers["Content-Disposition"] = f'attachment; filename="{code}.{fmt}.json"'
        return Response(orjson.dumps(document), media_type="application/json", headers=headers)


def _wants_signed(request: Request) -> bool | None:
    """`?signed=` decides when given; otherwise an Accept of `application/vc+jwt` does."""
    value = request.query_params.get("signed")
    if value is not None:
        value = value.strip().lower()
        if value in TRUE:
            return True
        return False if value in FALSE else None
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip().lower() == MEDIA_TYPE for part in accept.split(","))


def _error(status: int, code: str, message: str, **extensions: Any) -> JSONResponse:
    """The same error shape as GraphQL's, so one client handles both."""
    body = {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    return JSONResponse(body, status_code=status)
