"""NDJSON import files for `robopass registry import`, in both of its shapes.

A robot's history becomes one line: either a passport in a format (canonical
or cn-miit) with its later events, which the import chains afresh, or its
chained log with every hash, as a registry node serves it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from adapters.translate import FORMATS
from gateway.node.records import event_json
from schema.codec import format_datetime
from schema.events import Event

SHAPES = ("chained", "canonical", "cn-miit")


def chained_line(history: list[Event]) -> dict[str, Any]:
    """The log as a node serves it: every event with its hashes and salt."""
    return {"code": history[0].code, "events": [event_json(e) for e in history]}


def passport_line(history: list[Event], fmt: str) -> dict[str, Any]:
    """The registered passport in `fmt`, then the later events without hashes."""
    later = [
        {"at": format_datetime(e.at), "type": e.type.value, "payload": e.payload}
        for e in history[1:]
    ]
    return {"format": fmt, "passport": FORMATS[fmt].encode(history[0].payload), "events": later}


def line_of(history: list[Event], shape: str) -> dict[str, Any]:
    return chained_line(history) if shape == "chained" else passport_line(history, shape)


def mixed_lines(histories: Iterable[list[Event]]) -> list[bytes]:
    """One line per robot, the three shapes in turn."""
    return [
        orjson.dumps(line_of(history, SHAPES[n % len(SHAPES)]))
        for n, history in enumerate(histories)
    ]


def write_lines(path: Path, lines: Iterable[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path
