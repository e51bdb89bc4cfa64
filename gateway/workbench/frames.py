"""Length-prefixed frames over a pipe: a kind byte, a 4-byte length, the payload.

The mapping pool's workers (`gateway.workbench.pool`) answer their parent this way: a frame
says which rule starts (b"R"), the output (b"O") or a rule's failure (b"E"), so a parent
whose child died knows which rule it died in.
"""

from __future__ import annotations

import struct
from typing import IO

__all__ = ["read_frame", "write_frame"]

_HEADER = struct.Struct("!cI")


def write_frame(pipe: IO[bytes], kind: bytes, payload: bytes) -> None:
    pipe.write(_HEADER.pack(kind, len(payload)) + payload)
    pipe.flush()


def _exactly(pipe: IO[bytes], size: int) -> bytes:
    data = pipe.read(size)
    if data is None or len(data) < size:
        raise EOFError("the other end closed the pipe")
    return data


def read_frame(pipe: IO[bytes]) -> tuple[bytes, bytes]:
    """The next (kind, payload); `EOFError` when the other end is gone."""
    kind, size = _HEADER.unpack(_exactly(pipe, _HEADER.size))
    return kind, _exactly(pipe, size) if size else b""
