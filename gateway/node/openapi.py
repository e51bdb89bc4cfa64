"""The node's contract (docs/registry-api.md) as an OpenAPI 3.1 document, written as data.

Schemas are JSON Schema 2020-12, as OpenAPI 3.1 has them, so a test can check
real answers against the very document the node publishes.

Over 500 lines because it is data: the published contract, path by path.
"""

from __future__ import annotations

from typing import Any

from gateway.store.cursors import MAX_CURSOR_CHARS, MAX_POSITION
from schema.events import SCHEMES, EventType
from schema.passport import RobotStatus

from .auth import READ, WRITE
from .campaigns import openapi_paths as campaign_paths
from .inputs import COUNTRY_LIST, MAX_FILTER, MAX_PAGE, MAX_THROUGH, STORED_STATES_LIST
from .oas import JSON, operation, problems, query
from .problems import CODES
from .routes import MAX_BATCH, MAX_WAIT_MS
from .telemetry import openapi_path as conditions_path
from .webhooks import openapi_paths as webhook_paths

PROBLEM = "application/problem+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _graphql(description: str) -> dict[str, Any]:
    """A GraphQL over HTTP answer: `{"data", "errors"}` in either media type the spec has."""
    schema = {"type": "object"}
    types = ("application/graphql-response+json", JSON)
    return {"description": description, "content": {t: {"schema": schema} for t in types}}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required if required is not None else list(properties),
    }


FIRST = {"$ref": "#/components/parameters/first"}
CODE = {"$ref": "#/components/parameters/code"}
FILTERS = [
    query("manufacturer", {"type": "string", "maxLength": 200}, "manufacturer name"),
    query("category", {"type": "string", "maxLength": 200}, "model category"),
    query("status", {"enum": ["", *(s.value for s in RobotStatus)]}, "lifecycle status"),
    query("owner", {"type": "string", "maxLength": 200}, "current owner's name"),
    query("owner_id", {"type": "string", "maxLength": 200}, "current owner's party identifier"),
    query(
        "campaign",
        {"type": "string", "pattern": "^[A-Z0-9][A-Z0-9._-]{2,63}$", "maxLength": 64},
        "robots this campaign reached",
    ),
    query(
        "campaign_states",
        {"type": "string", "pattern": STORED_STATES_LIST, "maxLength": MAX_FILTER},
        "their stored states under it (without campaign: under any)",
    ),
    query(
        "campaign_countries",
        {"type": "string", "pattern": COUNTRY_LIST, "maxLength": MAX_FILTER},
        "their owners' countries under it (without campaign: under any)",
    ),
]
STANDARD = problems(400, 401, 403, 503)
POSITION = {"type": "integer", "minimum": 0, "maximum": MAX_POSITION}
ROBOT_CODE_FORMAT = "robot-code"
CURSOR_FORMAT = "robopass-cursor"  # issued by this node: a client cannot make one up
CURSOR = {
    "type": "string",
    "pattern": "^[A-Za-z0-9_-]+$",
    "minLength": 1,
    "maxLength": MAX_CURSOR_CHARS,
    "format": CURSOR_FORMAT,
    "description": "opaque: exactly as a `cursors` entry of an earlier page gave it; any"
    " other value is a 400",
}
GRAPHQL_TEXT = {"type": "string", "minLength": 1, "maxLength": 1 << 20}
GRAPHQL_REQUEST = {
    "type": "object",
    "properties": {
        "query": GRAPHQL_TEXT,
        "operationName": {"type": ["string", "null"]},
        "variables": {"type": ["object", "null"]},
        "extensions": {"type": ["object", "null"]},
    },
    "required": ["query"],
}


def _schemas(fmt: str) -> dict[str, Any]:
    time = {"type": "string", "format": "date-time"}
    # `format: robot-code` names the rule a pattern cannot: the check character at
    # position 29 (docs/robot-code.md); a client (or a fuzzer) that knows it sends only
    # codes the node accepts.
    code = {
        "type": "string",
        "minLength": 29,
        "maxLength": 29,
        "pattern": "^[0-9A-Z]{29}$",
        "format": ROBOT_CODE_FORMAT,
    }
    return {
        "RobotCode": code,
        "Head": _object(
            {"sequence": {"type": "integer", "minimum": 1}, "hash": {"type": "string"}}
        ),
        "Record": _object(
            {
                "code": _ref("RobotCode"),
                "registry": {"type": "string"},
                "format": {"const": fmt},
                "head": _ref("Head"),
                "document": {
                    "type": "object",
                    "description": f"the passport in this node's native format ({fmt})",
                },
            }
        ),
        "Event": _object(
            {
                "code": _ref("RobotCode"),
                "sequence": {"type": "integer", "minimum": 1},
                "at": time,
                "type": {"enum": [t.value for t in EventType]},
                "payload": {"type": "object"},
                "prevHash": {"type": "string"},
                "hash": {"type": "string"},
                "scheme": {
                    "enum": list(SCHEMES),
                    "description": "hash scheme: 2 salted commitments, 1 legacy",
                },
                "salt": {
                    "type": ["string", "null"],
                    "pattern": "^[0-9a-f]{32}$",
                    "description": "scheme 2: the commitment's 128-bit salt; a secret as"
                    " sensitive as the payload (service callers only)",
                },
                "commitment": {
                    "type": ["string", "null"],
                    "pattern": "^[0-9a-f]{64}$",
                    "description": "scheme 2: SHA-256(salt || canonical {at, type, payload})",
                },
            }
        ),
        "NewEvent": {
            **_object(
                {
                    "type": {"enum": [t.value for t in EventType]},
                    "at": time,
                    "payload": {"type": "object", "description": "canonical event payload"},
                }
            ),
            "additionalProperties": False,
        },
        "Change": _object({"position": {"type": "integer", "minimum": 1}, "event": _ref("Event")}),
        "Integrity": _object(
            {
                "length": {"type": "integer", "minimum": 0},
                "headHash": {"type": "string"},
                "verified": {"type": "boolean"},
                "firstBad": {"type": ["integer", "null"]},
                "reason": {"type": ["string", "null"]},
            }
        ),
        "Link": _object({"code": _ref("RobotCode"), "home": {"type": "string"}, "since": time}),
        "NewLink": {
            **_object(
                {"home": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"}, "since": time}
            ),
            "additionalProperties": False,
        },
        "BatchGet": {
            **_object(
                {
                    "codes": {"type": "array", "items": _ref("RobotCode"), "maxItems": MAX_BATCH},
                    "asOf": {"type": ["string", "null"], "format": "date-time"},
                },
                ["codes"],
            ),
            "additionalProperties": False,
        },
        "Problem": {
            **_object(
                {
                    "type": {"type": "string", "format": "uri"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "code": {"enum": list(CODES)},
                    "rule": {"type": "string", "description": "BAD_ROBOT_CODE: the rule broken"},
                    "position": {"type": ["integer", "null"]},
                    "limit": {"type": "integer"},
                },
                ["type", "title", "status", "detail", "code"],
            )
        },
    }


def _paths() -> dict[str, Any]:
    ok = "OK"
    robot_404 = problems(404)
    return {
        "/robots/{code}": {
            "get": operation(
                "One robot now, or as it stood at asOf",
                READ,
                {
                    "200": {
                        **_json(_ref("Record"), "the record"),
                        "headers": {
                            "ETag": {
                                "description": "the head hash, quoted; absent with asOf",
                                "schema": {"type": "string"},
                            }
                        },
                    },
                    "304": {"description": "If-None-Match named the current head"},
                    **STANDARD,
                    **robot_404,
                },
                [
                    CODE,
                    query("asOf", {"type": "string", "format": "date-time"}, "a past time"),
                    {
                        "name": "If-None-Match",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                ],
            )
        },
        "/robots:batchGet": {
            "post": operation(
                f"Up to {MAX_BATCH} robots at once; duplicates answered once",
                READ,
                {
                    "200": _json(
                        _object(
                            {
                                "robots": {"type": "array", "items": _ref("Record")},
                                "missing": {"type": "array", "items": _ref("RobotCode")},
                            }
                        ),
                        ok,
                    ),
                    **STANDARD,
                },
                body=_ref("BatchGet"),
            )
        },
        "/robots": {
            "get": operation(
                "Robots ordered by code, a page after a cursor",
                READ,
                {
                    "200": _json(
                        _object(
                            {
                                "robots": {"type": "array", "items": _ref("Record")},
                                "cursors": {"type": "array", "items": {"type": "string"}},
                                "hasNextPage": {"type": "boolean"},
                            }
                        ),
                        ok,
                    ),
                    **STANDARD,
                },
                [
                    *FILTERS,
                    FIRST,
                    query("after", CURSOR, "a cursor of an earlier page"),
                ],
            )
        },
        "/robots:count": {
            "get": operation(
                "How many robots match the filters",
                READ,
                {
                    "200": _json(_object({"count": {"type": "integer", "minimum": 0}}), ok),
                    **STANDARD,
                },
                FILTERS,
            )
        },
        "/robots/{code}/events": {
            "get": operation(
                "A page of the robot's hash-chained log",
                READ,
                {
                    "200": _json(
                        _object(
                            {
                                "events": {"type": "array", "items": _ref("Event")},
                                "hasNextPage": {"type": "boolean"},
                            }
                        ),
                        ok,
                    ),
                    **STANDARD,
                    **robot_404,
                },
                [
                    CODE,
                    query("after", POSITION, "a sequence"),
                    FIRST,
                    query(
                        "until",
                        {"type": "string", "format": "date-time"},
                        "only events at or before this time (a past view's log)",
                    ),
                ],
            ),
            "post": operation(
                "Append one event, idempotently by key",
                WRITE,
                {
                    "201": _json(_object({"event": _ref("Event")}), "appended"),
                    "200": {
                        **_json(_object({"event": _ref("Event")}), "the key was used before"),
                        "headers": {"Idempotent-Replayed": {"schema": {"const": "true"}}},
                    },
                    **STANDARD,
                    **robot_404,
                    **problems(409, 422),
                },
                [
                    CODE,
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"},
                    },
                ],
                body=_ref("NewEvent"),
            ),
        },
        "/robots/{code}/integrity": {
            "get": operation(
                "Re-hash the stored log",
                READ,
                {"200": _json(_ref("Integrity"), ok), **STANDARD, **robot_404},
                [
                    CODE,
                    query(
                        "through",
                        {"type": "integer", "minimum": 1, "maximum": MAX_THROUGH},
                        "re-hash only up to this sequence (a past view's version)",
                    ),
                ],
            )
        },
        "/changes": {
            "get": operation(
                "Events of the whole registry after a feed position, oldest first",
                READ,
                {
                    "200": _json(
                        _object(
                            {
                                "changes": {"type": "array", "items": _ref("Change")},
                                "lastPosition": {"type": "integer", "minimum": 0},
                                "waitedMs": {
                                    "type": "integer",
                                    "minimum": 0,
                                    "description": (
                                        "with waitMs: how long after the request the read"
                                        " answered began (the feed was at its end then)"
                                    ),
                                },
                            },
                            ["changes", "lastPosition"],
                        ),
                        ok,
                    ),
                    **STANDARD,
                },
                [
                    query("after", POSITION, "a feed position"),
                    FIRST,
                    FILTERS[3],
                    FILTERS[4],
                    query(
                        "waitMs",
                        {"type": "integer", "minimum": 0, "maximum": MAX_WAIT_MS},
                        "hold an empty answer until a change arrives, at most this long",
                    ),
                ],
            )
        },
        "/links": {
            "get": operation(
                "Robots of other registries now in this jurisdiction",
                READ,
                {
                    "200": _json(
                        _object(
                            {
                                "links": {"type": "array", "items": _ref("Link")},
                                "hasNextPage": {"type": "boolean"},
                            }
                        ),
                        ok,
                    ),
                    **STANDARD,
                },
                [query("after", _ref("RobotCode"), "the last code seen"), FIRST],
            )
        },
        "/robots:conditions": conditions_path(),
        **campaign_paths(READ, WRITE),
        **webhook_paths(READ, WRITE),
        "/links/{code}": {
            "put": operation(
                "Record or update a link",
                WRITE,
                {"200": _json(_object({"link": _ref("Link")}), ok), **STANDARD},
                [CODE],
                body=_ref("NewLink"),
            ),
            "delete": operation(
                "Forget a link",
                WRITE,
                {"204": {"description": "forgotten"}, **STANDARD, **robot_404},
                [CODE],
            ),
        },
        "/healthz": {
            "get": operation(
                "Liveness", None, {"200": _json(_object({"status": {"const": "ok"}}), ok)}
            )
        },
        "/readyz": {
            "get": operation(
                "The store answers",
                None,
                {"200": _json(_object({"status": {"const": "ready"}}), ok), **problems(503)},
            )
        },
        "/openapi.json": {
            "get": operation("This document", None, {"200": _json({"type": "object"}, ok)})
        },
        "/graphql": {
            method: operation(
                "The node as an Apollo Federation v2 subgraph (GraphQL over HTTP):"
                ' `Robot @key(fields: "code")`, `_service { sdl }`, `_entities`',
                READ,
                {
                    "200": _graphql("a GraphQL response"),
                    "400": _graphql("no operation, or one that is not valid: GraphQL errors"),
                    **problems(401, 403),
                    **({"415": _graphql("a body that is not JSON")} if method == "post" else {}),
                },
                [{**query("query", GRAPHQL_TEXT, "the operation"), "required": True}]
                if method == "get"
                else None,
                body=GRAPHQL_REQUEST if method == "post" else None,
            )
            for method in ("get", "post")
        },
        "/metrics": {
            "get": operation(
                "Prometheus metrics",
                None,
                {
                    "200": {
                        "description": "text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            )
        },
    }


NOTE = "text/plain"
B64_HASH = {
    "type": "string",
    "pattern": "^[A-Za-z0-9+/]{43}=$",
    "description": "a SHA-256 hash, base64",
}


def _note(description: str) -> dict[str, Any]:
    return {"description": description, "content": {NOTE: {"schema": {"type": "string"}}}}


TILE_INDEX = {
    "type": "string",
    "pattern": "^(x[0-9]{3}/)*[0-9]{3}$",
    "maxLength": 27,
    "description": "the tile's index in zero-padded three-digit groups, all but the last"
    " led by x (1234067 is x001/x234/067)",
}


def _tile(entries: bool, partial: bool) -> dict[str, Any]:
    """One of the tlog-tiles routes: a hash tile or an entry bundle, full or partial."""
    parameters = [
        {"name": "index", "in": "path", "required": True, "schema": TILE_INDEX},
    ]
    if not entries:
        level = {"type": "integer", "minimum": 0, "maximum": 63}
        parameters.insert(0, {"name": "level", "in": "path", "required": True, "schema": level})
    if partial:
        width = {"type": "integer", "minimum": 1, "maximum": 255}
        parameters.append({"name": "width", "in": "path", "required": True, "schema": width})
    what = (
        "entry bundle (big-endian uint16 length-prefixed leaf data;"
        " Content-Encoding gzip when accepted)"
        if entries
        else ("Merkle tree tile (concatenated SHA-256 hashes)")
    )
    ok = {
        "description": f"the {what}",
        "headers": {"Cache-Control": {"schema": {"type": "string"}}},
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
    errors = {**STANDARD, **problems(404)} if entries else problems(400, 404, 503)
    return operation(
        f"A {'partial ' if partial else ''}{what}, C2SP tlog-tiles under the prefix /log;"
        " 404 while the log is too small to hold it",
        READ if entries else None,
        {"200": ok, **errors},
        parameters,
    )


def _tile_paths() -> dict[str, Any]:
    return {
        "/log/tile/{level}/{index}": {"get": _tile(entries=False, partial=False)},
        "/log/tile/{level}/{index}.p/{width}": {"get": _tile(entries=False, partial=True)},
        "/log/tile/entries/{index}": {"get": _tile(entries=True, partial=False)},
        "/log/tile/entries/{index}.p/{width}": {"get": _tile(entries=True, partial=True)},
    }


def _log_paths() -> dict[str, Any]:
    """The transparency log's routes (gateway/node/tlog.py); public but for inclusion."""
    size = {"type": "integer", "minimum": 0, "maximum": MAX_POSITION}
    hashes = {"type": "array", "items": B64_HASH}
    return {
        "/log/checkpoint": {
            "get": operation(
                "The current signed checkpoint (C2SP tlog-checkpoint in a signed note),"
                " with the cosignatures of the node's witnesses",
                None,
                {
                    "200": {
                        **_note("the signed note"),
                        "headers": {
                            "Cache-Control": {"schema": {"const": "no-store"}},
                        },
                    },
                    **problems(400, 503),
                },
            )
        },
        "/log/key": {
            "get": operation(
                "The log's verifier key, `<origin>+<key ID>+<base64 key>`",
                None,
                {"200": _note("the verifier key, one line"), **problems(400)},
            )
        },
        "/log/proof/consistency": {
            "get": operation(
                "The RFC 9162 consistency proof from the tree of `from` leaves to that of `to`",
                None,
                {
                    "200": _json(_object({"from": size, "to": size, "hashes": hashes}), "OK"),
                    **problems(400, 404, 503),
                },
                [
                    query("from", size, "the older tree size (default 0)"),
                    query("to", size, "the newer tree size, at most the log's (default 0)"),
                ],
            )
        },
        "/log/proof/inclusion": {
            "get": operation(
                "Where one event is in the log, and its RFC 9162 inclusion proof",
                READ,
                {
                    "200": _json(
                        _object(
                            {
                                "index": size,
                                "size": {**size, "minimum": 1},
                                "leafHash": B64_HASH,
                                "commitment": {
                                    "type": ["string", "null"],
                                    "pattern": "^[0-9a-f]{64}$",
                                },
                                "hashes": hashes,
                            }
                        ),
                        "OK",
                    ),
                    **STANDARD,
                    **problems(404),
                },
                [
                    {**query("code", _ref("RobotCode"), "the robot"), "required": True},
                    {
                        **query(
                            "sequence",
                            {"type": "integer", "minimum": 1, "maximum": MAX_POSITION},
                            "the event's sequence in the robot's chain",
                        ),
                        "required": True,
                    },
                    query("size", size, "the tree size to prove against (0 or absent: now)"),
                ],
            )
        },
        **_tile_paths(),
        "/log/proof/inclusions": {
            "post": operation(
                f"The inclusion proofs of up to {MAX_BATCH} events against one tree size,"
                " in the order asked; an event not in that tree has a null index",
                READ,
                {
                    "200": _json(
                        _object(
                            {
                                "size": {**size, "minimum": 1},
                                "proofs": {
                                    "type": "array",
                                    "items": _object(
                                        {
                                            "code": _ref("RobotCode"),
                                            "sequence": {"type": "integer", "minimum": 1},
                                            "index": {"type": ["integer", "null"], "minimum": 0},
                                            "commitment": {
                                                "type": ["string", "null"],
                                                "pattern": "^[0-9a-f]{64}$",
                                            },
                                            "hashes": hashes,
                                        }
                                    ),
                                },
                            }
                        ),
                        "OK",
                    ),
                    **STANDARD,
                    **problems(404),
                },
                body={
                    **_object(
                        {
                            "size": {**size, "description": "0 or absent: the log now"},
                            "leaves": {
                                "type": "array",
                                "maxItems": MAX_BATCH,
                                "items": {
                                    **_object(
                                        {
                                            "code": _ref("RobotCode"),
                                            "sequence": {
                                                "type": "integer",
                                                "minimum": 1,
                                                "maximum": MAX_POSITION,
                                            },
                                        }
                                    ),
                                    "additionalProperties": False,
                                },
                            },
                        },
                        ["leaves"],
                    ),
                    "additionalProperties": False,
                },
            )
        },
    }


def openapi_document(registry: str, fmt: str, *, log: bool = False) -> dict[str, Any]:
    """The contract of a node keeping `registry` in format `fmt`; `log`: it serves /log."""
    problem_responses = {
        f"Problem{status}": {
            "description": description,
            "content": {PROBLEM: {"schema": _ref("Problem")}},
        }
        for status, description in [
            (400, "bad input: the detail names the rule broken"),
            (401, "no token, or one that does not verify"),
            (403, "the token lacks the scope"),
            (404, "no such robot, link, or log entry or tree size"),
            (409, "the idempotency key was used for another request"),
            (413, "the body is larger than 1 MiB"),
            (422, "the event does not apply to the passport"),
            (503, "the store does not answer"),
        ]
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"robopass registry node {registry}",
            "version": "1.0.0",
            "description": (
                f"One jurisdiction's robots ({registry}), passports in {fmt}. Callers are "
                "services: records are returned whole; field policies are the gateway's job."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": {**_paths(), **(_log_paths() if log else {})},
        "components": {
            "schemas": _schemas(fmt),
            "parameters": {
                "code": {
                    "name": "code",
                    "in": "path",
                    "required": True,
                    "schema": _ref("RobotCode"),
                    "description": "a 29-character robot code (the node also takes it with"
                    " spaces or hyphens, which it ignores)",
                },
                "first": query(
                    "first", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "page size"
                ),
            },
            "responses": problem_responses,
            "securitySchemes": {
                "serviceToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": (
                        "RFC 9068 access token (client credentials) of a trusted issuer; "
                        f"scopes {READ} and {WRITE}"
                    ),
                }
            },
        },
    }
