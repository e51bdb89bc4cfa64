"""Rows as lines of PostgreSQL's `COPY ... FROM STDIN` text format: how checked events and
robots travel from `registry import`'s workers to the process that stores them.

Why this form: handing back rows as tuples cost the storing process, per
event, unpickling a tuple of ten values and then psycopg formatting and
escaping each value again for `COPY` (`write_row`, about 8 us an event, most
of it the 1.2 kB payload; 0.1 ms for a robot's snapshot); that process is the
one part of an import that does not spread over cores. A line of `COPY` text
is made once, where the event was checked, pickles as one bytes object, and
goes to PostgreSQL as it is; the storing process only appends what it alone
knows (the time recorded and the feed position: `numbered`, `stamped`).
SQLite, which has no `COPY`, splits the lines back into rows (`row_of`) for
its prepared statement.

The format (PostgreSQL's text format, the default of `COPY`): columns
separated by a tab, NULL as `\\N`, and a backslash, tab, newline or carriage
return inside a value written as a backslash sequence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import count
from typing import Any

from gateway.store.sql import ROBOT_ROW
from schema.codec import format_datetime
from schema.events import Event

NULL = "\\N"
EVENT_LINE = (
    "code",
    "sequence",
    "at",
    "type",
    "payload",
    "prev_hash",
    "hash",
    "scheme",
    "salt",
    "commitment",
    "idempotency_key",
    "owner",
    "owner_id",
)
"""A worker's line of an event: the event (`sql.EVENT_COLUMNS`), then the columns its robot
gives every one of its events; the store appends `recorded_at` and `position` (`numbered`)."""
EVENT_COLUMNS = (*EVENT_LINE, "recorded_at", "position")
ROBOT_LINE = tuple(column for column in ROBOT_ROW if column != "updated_at")
"""A worker's line of a robot (`sql.robot_row` without `updated_at`, which the store
appends: `stamped`)."""
ROBOT_COLUMNS = (*ROBOT_LINE, "updated_at")
INTEGERS = frozenset({"sequence", "scheme", "position", "head_sequence"})

_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_TABLE = str.maketrans(_ESCAPES)
_UNESCAPES = {v[1].encode(): k.encode() for k, v in _ESCAPES.items()}
_ESCAPED = re.compile(rb"\\(.)")


def field(value: str | None) -> str:
    """One text value as `COPY` text: NULL, or the value with its special characters escaped."""
    if value is None:
        return NULL
    if value.isprintable() and "\\" not in value:  # every code, hash, salt and time
        return value
    return value.translate(_TABLE)


def line(values: Iterable[str | int | None]) -> bytes:
    """Values (text, whole numbers, NULL) as one line, without its newline."""
    return "\t".join(field(v) if not isinstance(v, int) else str(v) for v in values).encode()


def robot_columns(owner: str | None, owner_id: str | None) -> bytes:
    """The line's last columns, the same for each of a robot's events: no idempotency key
    (an imported event was not a request), the robot's current owner and owner id."""
    return f"\t{NULL}\t{field(owner)}\t{field(owner_id)}".encode()


def event_line(event: Event, payload: bytes, robot: bytes) -> bytes:
    """An event as a line of EVENT_LINE, without its newline.

    `payload` is its canonical JSON, the text hashed and stored: JSON has no
    raw tab, newline or carriage return (not between tokens in canonical form,
    not inside strings, where they are escaped), so only its backslashes are
    doubled. `robot` is `robot_columns` of the robot the event belongs to.
    """
    hashes = f"{event.prev_hash}{event.hash}{event.salt or ''}{event.commitment or ''}"
    if hashes.isprintable() and "\\" not in hashes:
        salt = NULL if event.salt is None else event.salt
        commitment = NULL if event.commitment is None else event.commitment
        rest = f"\t{event.prev_hash}\t{event.hash}\t{event.scheme}\t{salt}\t{commitment}"
    else:  # not what a chain that verifies holds, but escaped like any text all the same
        rest = f"\t{field(event.prev_hash)}\t{field(event.hash)}\t{event.scheme}"
        rest += f"\t{field(event.salt)}\t{field(event.commitment)}"
    head = f"{field(event.code)}\t{event.sequence}\t{format_datetime(event.at)}"
    head += f"\t{event.type.value}\t"
    return b"".join((head.encode(), payload.replace(b"\\", b"\\\\"), rest.encode(), robot))


def numbered(lines: Iterable[bytes], recorded: str, first: int) -> list[bytes]:
    """Whole lines of EVENT_COLUMNS: each line with the time recorded and the feed
    position, counting from `first`, appended; newline-terminated, ready for `COPY`."""
    suffix = b"%b\t" + field(recorded).encode().replace(b"%", b"%%") + b"\t%d\n"
    return list(map(suffix.__mod__, zip(lines, count(first))))


def stamped(lines: Iterable[bytes], recorded: str) -> list[bytes]:
    """Whole lines of ROBOT_COLUMNS: each robot's line with the time recorded appended."""
    suffix = b"\t" + field(recorded).encode() + b"\n"
    return [line + suffix for line in lines]


def row_of(text: bytes, columns: Sequence[str]) -> tuple[Any, ...]:
    """A line of `columns` back as the values it was made from (`None` for NULL, whole
    numbers as int)."""
    values: list[Any] = []
    for column, raw in zip(columns, text.rstrip(b"\n").split(b"\t"), strict=True):
        if raw == b"\\N":
            values.append(None)
            continue
        if b"\\" in raw:
            raw = _ESCAPED.sub(lambda m: _UNESCAPES.get(m[1], m[1]), raw)
        values.append(int(raw) if column in INTEGERS else raw.decode())
    return tuple(values)


def event_rows(lines: Sequence[bytes]) -> tuple[tuple[Any, ...], ...]:
    """The events of worker lines as rows of `sql.EVENT_COLUMNS`."""
    return tuple(row_of(line, EVENT_LINE)[:10] for line in lines)
