"""Opaque pagination cursors: `kind:key` in URL-safe base64, validated before any query.

A cursor comes back from the caller, so it is input like any other: it may be
edited, truncated, huge, or made up. Decoding bounds it completely before a
store sees it. The text is at most `MAX_CURSOR_CHARS`, strict base64url, UTF-8,
of the expected kind; a position (an event sequence, a feed position, a log id,
an index) is ASCII digits in 0..`MAX_POSITION`, the range of a signed 64-bit
SQL integer, so SQLite and PostgreSQL never see a number they cannot hold; a
robot code is upper-case letters and digits of bounded length, never a NUL or
other text a database rejects. Anything else is `CursorError`, which the
GraphQL layer answers as BAD_USER_INPUT and the REST APIs as a 400.
"""

from __future__ import annotations

import base64
import binascii
import re

from schema.source import CursorError

MAX_POSITION = 2**63 - 1
MAX_CURSOR_CHARS = 4096
MAX_CODE_CHARS = 64
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_DIGITS = re.compile(r"[0-9]{1,19}")
_CODE = re.compile(rf"[0-9A-Z]{{1,{MAX_CODE_CHARS}}}")


def encode_cursor(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> str:
    """The non-empty key inside a cursor of `kind`; anything else is a `CursorError`."""
    text = _text(cursor) if len(cursor) <= MAX_CURSOR_CHARS else None
    found, _, key = (text or "").partition(":")
    if found != kind or not key:
        raise not_issued(cursor)
    return key


MAX_OWNER_CHARS = 256
_OWNER_KEY = re.compile(rf"([A-Z]{{2}}|)\|([^\x00-\x1f\x7f]{{0,{MAX_OWNER_CHARS}}})")


def owner_key_text(country: str, owner_id: str) -> str:
    """A position among a campaign's owners, `CC|owner`: the owner's key only. A
    registry node's API takes it as it is (`after`), the gateway inside a cursor."""
    return f"{country}|{owner_id}"


def parse_owner_key(text: str) -> tuple[str, str] | None:
    """(country, owner) from `owner_key_text`: a country of two letters or none, an
    identifier of bounded length without control characters; None if not that."""
    match = _OWNER_KEY.fullmatch(text)
    return None if match is None else (match[1], match[2])


def encode_owner_key(kind: str, country: str, owner_id: str) -> str:
    return encode_cursor(kind, owner_key_text(country, owner_id))


def decode_owner_key(kind: str, cursor: str) -> tuple[str, str]:
    """The (country, owner) inside a cursor of `kind`, else `CursorError`."""
    key = parse_owner_key(decode_cursor(kind, cursor))
    if key is None:
        raise not_issued(cursor)
    return key


def encode_position(kind: str, position: int) -> str:
    return encode_cursor(kind, str(position))


def decode_position(kind: str, cursor: str) -> int:
    """The position in 0..MAX_POSITION inside a cursor of `kind`."""
    key = decode_cursor(kind, cursor)
    if not is_position_text(key):
        raise not_issued(cursor)
    return int(key)


def decode_code(kind: str, cursor: str) -> str:
    """The robot code inside a cursor of `kind`: letters A-Z and digits, bounded."""
    key = decode_cursor(kind, cursor)
    if not _CODE.fullmatch(key):
        raise not_issued(cursor)
    return key


def is_position_text(text: str) -> bool:
    """Whether `text` is ASCII digits naming a position in 0..MAX_POSITION."""
    return _DIGITS.fullmatch(text) is not None and int(text) <= MAX_POSITION


def is_position(value: object) -> bool:
    """Whether `value` is an int (not a bool) in 0..MAX_POSITION."""
    return type(value) is int and 0 <= value <= MAX_POSITION


def not_issued(cursor: str) -> CursorError:
    """The one error for every bad cursor; a long one is shown cut short.

    The cut is made on the quoted form: a character outside ASCII quotes as up to ten
    (`\\U0001f7ec`), so cutting the cursor itself could still echo hundreds.
    """
    shown = repr(cursor)
    if len(shown) > 66:
        shown = shown[:66] + "..."
    return CursorError(f"cursor {shown} is not one this API issued")


def _text(cursor: str) -> str | None:
    if not _BASE64URL.fullmatch(cursor) or len(cursor) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return raw.decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
