"""Reading what an AAS API request asks: identifiers, paging, modifiers, filters.

Every bad input is an `ApiError` with a 4xx status and a message naming the rule broken;
the service turns it into the specification's `Result`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.datastructures import QueryParams

from gateway.store.cursors import decode_cursor, encode_cursor, is_position, is_position_text
from schema.source import CursorError

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "ApiError",
    "Modifiers",
    "asset_ids",
    "cursor_key",
    "decode_id",
    "encode_id",
    "flag",
    "index_of",
    "limit_of",
    "modifiers",
    "new_cursor",
    "next_index",
    "position_cursor",
    "position_of",
]

DEFAULT_LIMIT = 100
MAX_LIMIT = 100
"""A larger `limit` is served as this many (a limit is a maximum; the server may send
fewer): a page of robots costs one export and one audit record per robot."""


@dataclass
class ApiError(Exception):
    """A request the API refuses, with the HTTP status and the message for its Result."""

    status: int
    text: str


def encode_id(identifier: str) -> str:
    """base64url of the UTF-8 identifier without padding, as Part 2 puts ids in paths."""
    return base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")


def decode_id(encoded: str, what: str) -> str:
    """The identifier in a path segment; 400 unless it is base64url (padding optional)."""
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), b"-_", validate=True)
        identifier = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        raise ApiError(
            400, f"{what} {encoded!r} is not a base64url-encoded (RFC 4648 §5) UTF-8 identifier"
        ) from None
    if not identifier:
        raise ApiError(400, f"{what} is empty")
    return identifier


def limit_of(params: QueryParams) -> int:
    text = params.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    if not is_position_text(text) or int(text) < 1:
        raise ApiError(400, f"limit must be a positive integer, not {text[:64]!r}")
    return min(int(text), MAX_LIMIT)


def cursor_key(params: QueryParams, kind: str) -> str | None:
    """The key inside this listing's cursor; 400 for a cursor it did not issue."""
    cursor = params.get("cursor")
    if cursor is None:
        return None
    try:
        return decode_cursor(kind, cursor)
    except CursorError:
        raise ApiError(400, f"cursor {cursor[:64]!r} was not issued by this listing") from None


def new_cursor(kind: str, key: str) -> str:
    return encode_cursor(kind, key)


@dataclass(frozen=True, slots=True)
class Modifiers:
    core: bool
    """level=core: direct children only."""


LEVELS = {"deep": False, "core": True}
EXTENTS = ("withoutBlobValue", "withBlobValue")


def modifiers(params: QueryParams, *, extent: bool = True) -> Modifiers:
    """`level` and `extent`; extent changes nothing here, as no Blob is served."""
    level = params.get("level", "deep")
    if level not in LEVELS:
        raise ApiError(400, f"level must be one of deep, core, not {level!r}")
    if not extent and "extent" in params:
        raise ApiError(400, "extent does not apply to this operation")
    if params.get("extent", EXTENTS[0]) not in EXTENTS:
        raise ApiError(400, f"extent must be one of {', '.join(EXTENTS)}")
    return Modifiers(LEVELS[level])


def flag(params: QueryParams, name: str) -> bool:
    text = params.get(name)
    if text is None:
        return False
    if text.lower() not in ("true", "false"):
        raise ApiError(400, f"{name} must be true or false, not {text!r}")
    return text.lower() == "true"


def asset_ids(params: QueryParams) -> list[tuple[str, str]]:
    """The `assetIds` filter: each a base64url-encoded SpecificAssetId (`name`, `value`)."""
    out = []
    for encoded in params.getlist("assetIds"):
        text = decode_id(encoded, "assetIds entry")
        try:
            item: Any = orjson.loads(text)
        except orjson.JSONDecodeError:
            item = None
        if not (
            isinstance(item, dict)
            and isinstance(item.get("name"), str)
            and isinstance(item.get("value"), str)
        ):
            raise ApiError(
                400, "each assetIds entry must encode a JSON object with string name and value"
            )
        out.append((item["name"], item["value"]))
    return out


def index_of(key: str | None) -> int:
    """Where an index cursor resumes (a list inside one robot: references, elements)."""
    if key is None:
        return 0
    if not is_position_text(key):
        raise ApiError(400, "cursor was not issued by this listing")
    return int(key)


def next_index(kind: str, start: int, limit: int, total: int) -> str | None:
    """The cursor after a page of `limit` from `start`; None past the end."""
    return new_cursor(kind, str(start + limit)) if start + limit < total else None


def position_of(key: str | None) -> tuple[str | None, str | None, int]:
    """(source cursor before the robot, its code, last submodel index served) from a cursor."""
    if key is None:
        return None, None, -1
    try:
        before, code, index = orjson.loads(key)
        if isinstance(before, str) and isinstance(code, str) and is_position(index):
            return before or None, code, index
    except (orjson.JSONDecodeError, TypeError, ValueError):
        pass
    raise ApiError(400, "cursor was not issued by this listing")


def position_cursor(before: str | None, code: str, index: int) -> str:
    """A submodel listing's cursor: after submodel `index` of robot `code`, which the source
    yields right after its cursor `before`."""
    return new_cursor("submodels", orjson.dumps([before or "", code, index]).decode())
