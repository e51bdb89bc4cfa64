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
- `POST /log/proof/inclusions` with `{"size": N, "leaves": [{"code", "sequence"}...]}`
  (at most 500): the proofs of many events against one tree size, in the order
  asked, `{"size", "proofs": [{"code", "sequence", "index", "commitment", "hashes"}]}`;
  an event not in the tree has `"index": null`. A gateway checks a page of robots
  with one call. Needs `registry:read`.
- `GET /log/tile/<L>/<N>[.p/<W>]`: a Merkle tree tile, C2SP tlog-tiles (the log's
  prefix is `/log`, so `/log/checkpoint` is the layout's checkpoint too), bytes,
  immutable. Public: hashes only.
- `GET /log/tile/entries/<N>[.p/<W>]`: an entry bundle, the leaf data of 256
  events (or W), each length-prefixed; gzip-encoded for a client that accepts it,
  as the layout asks. Needs `registry:read`: entries name robots.
  A path that names no tile, or a tile the log is too small to hold, is 404.

Errors are the node's problem details; a store whose events cannot form a log
(unsalted events not yet re-committed) answers 503 LOG_UNAVAILABLE.
"""

from __future__ import annotations

import base64
import gzip
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
from schema.tlog.tiles import BadTilePath, parse_tile_path

from . import inputs
from .auth import READ, authorize
from .problems import Problem, bad_request, not_found
from .routes import MAX_BATCH, json_response

__all__ = ["log_routes"]

NOTE_TYPE = "text/plain; charset=utf-8"
TILE_TYPE = "application/octet-stream"
TILE_PREFIX = "/log/tile/"
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}


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

    async def inclusions(request: Request) -> Response:
        await authorize(request, verifier, READ)
        inputs.known_parameters(request, ())
        body = await inputs.json_object(request, ("size", "leaves"), ("leaves",))
        keys = _leaf_keys(body["leaves"])
        size = _whole(body.get("size", 0))
        if size is None or not 0 <= size <= MAX_POSITION:
            raise bad_request(f"size must be an integer from 0 to {MAX_POSITION}")
        size, proofs = await _run(log.inclusions, keys, size or None)
        items = [
            {
                "code": code,
                "sequence": sequence,
                "index": proof.index if proof is not None else None,
                "commitment": proof.commitment if proof is not None else None,
                "hashes": _b64(proof.hashes) if proof is not None else [],
            }
            for (code, sequence), proof in zip(keys, proofs, strict=True)
        ]
        return json_response({"size": size, "proofs": items})

    async def tile(request: Request) -> Response:
        # the routes only sort requests; the path is read whole, as the layout spells it
        path = request.scope["path"].removeprefix(TILE_PREFIX)
        try:
            ref = parse_tile_path(path)
        except BadTilePath as exc:
            raise not_found(f"no such tile: {exc}") from None
        if ref.level is None:
            await authorize(request, verifier, READ)
        inputs.known_parameters(request, ())
        if ref.level is not None:
            content = await _run(log.tile, ref)
            return Response(content, media_type=TILE_TYPE, headers=IMMUTABLE)
        content = await _run(log.entries, ref)
        headers = {**IMMUTABLE, "Vary": "Accept-Encoding"}
        if _accepts_gzip(request.headers.get("accept-encoding", "")):
            # the layout asks bundles to be compressed; hash tiles would not shrink
            content = await run_in_threadpool(gzip.compress, content, 6, mtime=0)
            headers["Content-Encoding"] = "gzip"
        return Response(content, media_type=TILE_TYPE, headers=headers)

    return [
        Route("/log/checkpoint", checkpoint, methods=["GET"]),
        Route("/log/key", key, methods=["GET"]),
        Route("/log/proof/consistency", consistency, methods=["GET"]),
        Route("/log/proof/inclusion", inclusion, methods=["GET"]),
        Route("/log/proof/inclusions", inclusions, methods=["POST"]),
        # entries before the hash tiles, partial before full: the first match wins
        Route(TILE_PREFIX + "entries/{index:path}.p/{width:int}", tile, methods=["GET"]),
        Route(TILE_PREFIX + "entries/{index:path}", tile, methods=["GET"]),
        Route(TILE_PREFIX + "{level:int}/{index:path}.p/{width:int}", tile, methods=["GET"]),
        Route(TILE_PREFIX + "{level:int}/{index:path}", tile, methods=["GET"]),
    ]


def _leaf_keys(leaves: Any) -> list[tuple[str, int]]:
    """The (code, sequence) pairs of a batch request, each checked; one clear refusal."""
    if not isinstance(leaves, list):
        raise bad_request("leaves must be a list of {code, sequence} objects")
    if len(leaves) > MAX_BATCH:
        raise Problem(
            400,
            "TOO_MANY_CODES",
            f"at most {MAX_BATCH} leaves per request, got {len(leaves)}",
            limit=MAX_BATCH,
        )
    keys: list[tuple[str, int]] = []
    for i, leaf in enumerate(leaves):
        if not isinstance(leaf, dict) or set(leaf) != {"code", "sequence"}:
            raise bad_request(f"leaves[{i}] must be an object with exactly code and sequence")
        sequence = _whole(leaf["sequence"])
        if sequence is None:
            raise bad_request(f"leaves[{i}].sequence must be an integer")
        if not 1 <= sequence <= MAX_POSITION:
            raise bad_request(f"leaves[{i}].sequence must be from 1 to {MAX_POSITION}")
        if not isinstance(leaf["code"], str):
            raise bad_request(f"leaves[{i}].code must be a robot code string")
        keys.append((inputs.robot_code(leaf["code"], f"leaves[{i}].code"), sequence))
    return keys


def _accepts_gzip(header: str) -> bool:
    """Does an Accept-Encoding header take gzip (named, or `*`, and not with q=0)?"""
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            q = params.strip().lower().removeprefix("q=").strip()
            return q not in ("0", "0.0", "0.00", "0.000")
    return False


def _whole(value: Any) -> int | None:
    """A JSON integer (JSON Schema counts 3.0 as one), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
