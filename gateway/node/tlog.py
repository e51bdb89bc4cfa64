"""The node's transparency log over HTTP: checkpoint, log key and proofs.

- `GET /log/checkpoint`: the current signed checkpoint (C2SP tlog-checkpoint in
  a signed note, `text/plain`) with the cosignature lines of the witnesses the
  node submits it to (`--witness`). Public: witnesses and auditors hold no token.
- `GET /log/key`: the log's verifier key, `<origin>+<key ID>+<base64 key>`. Public.
- `GET /log/proof/consistency?from=M&to=N`: the RFC 9162 consistency proof,
  `{"from", "to", "hashes": [base64...]}`. Public: hashes only.
- `GET /log/proof/inclusion?code=C&sequence=S&size=N`: where event C#S is and
  its RFC 9162 inclusion proof in the tree of N leaves (default: now),
  `{"index", "size", "leafHash", "commitment", "hashes"}` (the leaf is
  `schema.tlog.leaves.event_leaf` of the event). Needs `registry:read`: it names a robot.

Errors are the node's problem details; a store whose events cannot form a log
(unsalted events not yet re-committed) answers 503 LOG_UNAVAILABLE.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.service.transparency import EventLog, LogBroken, UnknownLeaf
from gateway.service.witnessing import WitnessedLog
from gateway.store.cursors import MAX_POSITION
from policies import TokenVerifier

from . import inputs
from .auth import READ, authorize
from .problems import Problem, bad_request, not_found
from .routes import json_response

__all__ = ["log_routes"]

NOTE_TYPE = "text/plain; charset=utf-8"


def _b64(values: list[bytes]) -> list[str]:
    return [base64.b64encode(v).decode() for v in values]


async def _run(work: Callable[..., Any], *args: Any) -> Any:
    try:
        return await run_in_threadpool(work, *args)
    except LogBroken as exc:
        detail = f"the transparency log cannot be read: {exc}"
        raise Problem(503, "LOG_UNAVAILABLE", detail) from None
    except UnknownLeaf as exc:
        raise not_found(str(exc)) from None


def log_routes(
    log: EventLog, verifier: TokenVerifier, witnessed: WitnessedLog | None = None
) -> list[Route]:
    """The routes above, over `log`; checkpoints carry the cosignatures of `witnessed`."""

    async def checkpoint(request: Request) -> Response:
        inputs.known_parameters(request, ())
        note = await _run(witnessed.checkpoint if witnessed is not None else log.checkpoint)
        return Response(note, media_type=NOTE_TYPE, headers={"Cache-Control": "no-store"})

    async def key(request: Request) -> Response:
        inputs.known_parameters(request, ())
        return Response(log.signer.verifier.vkey() + "\n", media_type=NOTE_TYPE)

    async def consistency(request: Request) -> Response:
        params = inputs.known_parameters(request, ("from", "to"))
        old = inputs.integer(params, "from", 0, 0, MAX_POSITION)
        new = inputs.integer(params, "to", 0, 0, MAX_POSITION)
        hashes = await _run(log.consistency, old, new)
        return json_response({"from": old, "to": new, "hashes": _b64(hashes)})

    async def inclusion(request: Request) -> Response:
        await authorize(request, verifier, READ)
        params = inputs.known_parameters(request, ("code", "sequence", "size"))
        code = inputs.robot_code(params.get("code", ""))
        if not params.get("sequence"):
            raise bad_request("sequence is required: the event's position in the robot's chain")
        sequence = inputs.integer(params, "sequence", 0, 1, MAX_POSITION)
        size = inputs.integer(params, "size", 0, 0, MAX_POSITION) or None
        proof = await _run(log.inclusion, code, sequence, size)
        return json_response(
            {
                "index": proof.index,
                "size": proof.size,
                "leafHash": base64.b64encode(proof.leaf_hash).decode(),
                "commitment": proof.commitment,
                "hashes": _b64(proof.hashes),
            }
        )

    return [
        Route("/log/checkpoint", checkpoint, methods=["GET"]),
        Route("/log/key", key, methods=["GET"]),
        Route("/log/proof/consistency", consistency, methods=["GET"]),
        Route("/log/proof/inclusion", inclusion, methods=["GET"]),
    ]
