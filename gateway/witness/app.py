"""The witness over HTTP.

- `POST /add-checkpoint`: C2SP tlog-witness; 200 with the cosignature line, or
  the spec's status with a one-line reason (409 carries exactly
  `Content-Type: text/x.tlog.size`, no charset).
- `GET /key`: the witness's verifier key (cosignature/v1, type 0x04).
- `GET /logs`: the origins it follows and the size it last cosigned for each.
"""

from __future__ import annotations

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .service import MAX_BODY, Refusal, Witness

__all__ = ["create_witness_app"]

SIZE_TYPE = "text/x.tlog.size"


def create_witness_app(witness: Witness) -> Starlette:
    async def add_checkpoint(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return PlainTextResponse(f"the request body is over {MAX_BODY} bytes\n", 400)
        try:
            line = await run_in_threadpool(witness.add_checkpoint, body)
        except Refusal as refusal:
            if refusal.status == 409 and refusal.size is not None:
                # exactly the spec's type: a `text/*` media type would gain a charset,
                # which strict tlog-witness clients refuse
                return Response(f"{refusal.size}\n", 409, headers={"Content-Type": SIZE_TYPE})
            return PlainTextResponse(refusal.reason + "\n", refusal.status)
        return PlainTextResponse(line)

    async def key(request: Request) -> Response:
        return PlainTextResponse(witness.signer.verifier.vkey() + "\n")

    async def logs(request: Request) -> Response:
        sizes = {}
        for origin in witness.logs:
            latest = await run_in_threadpool(witness.state.latest, origin)
            sizes[origin] = latest.size if latest else 0
        return Response(orjson.dumps({"logs": sizes}), media_type="application/json")

    return Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/key", key, methods=["GET"]),
            Route("/logs", logs, methods=["GET"]),
        ]
    )
