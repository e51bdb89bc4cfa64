"""Reading passport documents from files, stdin or NDJSON batches, and writing them out.

The only module of the workbench that touches files. Reading yields one `Item` per
document, carrying either the parsed value or why it could not be parsed, so a batch
can name the bad line and go on.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

__all__ = [
    "NDJSON_SUFFIXES",
    "Item",
    "dump",
    "is_ndjson",
    "line_count",
    "output",
    "read_items",
    "write_atomically",
]

NDJSON_SUFFIXES = (".ndjson", ".jsonl")


@dataclass(frozen=True, slots=True)
class Item:
    """One input document: `line` is its 1-based NDJSON line, None for a whole JSON file."""

    origin: str
    line: int | None
    value: Any = None
    error: str | None = None

    @property
    def label(self) -> str:
        return self.origin if self.line is None else f"{self.origin}:{self.line}"


def is_ndjson(name: str) -> bool:
    return name.lower().endswith(NDJSON_SUFFIXES)


def _binary(name: str) -> IO[bytes]:
    """The named file, or stdin for `-`; a missing file raises OSError for the caller."""
    return sys.stdin.buffer if name == "-" else open(name, "rb")


def _parse(raw: bytes) -> tuple[Any, str | None]:
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc}"


def read_items(name: str, ndjson: bool) -> Iterator[Item]:
    """Documents from a file or stdin (`-`): the whole input, or one per non-blank line."""
    origin = "<stdin>" if name == "-" else name
    stream = _binary(name)
    try:
        if not ndjson:
            value, error = _parse(stream.read())
            yield Item(origin, None, value, error)
            return
        for number, raw in enumerate(stream, start=1):
            if raw.strip():
                value, error = _parse(raw)
                yield Item(origin, number, value, error)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def line_count(name: str) -> int | None:
    """Non-blank lines of a file, for a progress bar's total; None for stdin."""
    if name == "-":
        return None
    with open(name, "rb") as f:
        return sum(1 for raw in f if raw.strip())


def dump(value: Any, *, pretty: bool) -> bytes:
    """UTF-8 JSON, Chinese text kept as is; pretty output ends with a newline."""
    if pretty:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n"
    return orjson.dumps(value)


@contextmanager
def output(name: str | None) -> Iterator[IO[bytes]]:
    """A binary stream to stdout (None or `-`) or to a file that appears only when complete.

    A file is written beside its destination and renamed into place at the end, so an
    error part-way leaves no half-written file behind.
    """
    if name is None or name == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    path = Path(name)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(tmp, _mode(path))
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _mode(path: Path) -> int:
    """Keep an existing file's permissions; a new file gets the usual ones (umask applied)."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step, creating its directory if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with output(str(path)) as f:
        f.write(data)
