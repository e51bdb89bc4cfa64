"""Running an untrusted mapping document's rules in a child process with a memory cap.

jsonatapy bounds an evaluation's time, depth and sequence length, not its memory: a rule
doubling a string reaches hundreds of megabytes within its time budget. The workbench
runs documents nobody has tested yet, so it evaluates each one in a forked child whose
address space is capped (`RLIMIT_AS`). An allocation over the cap ends the child (Rust
aborts on a failed allocation); the parent reports it against the rule the child was in,
which the child names before each rule starts. Linux and macOS only (fork, rlimits).
"""

from __future__ import annotations

import faulthandler
import os
import resource
import struct
from typing import Any

import orjson

from adapters.mapengine import Program, RuleFailed

__all__ = ["run_capped"]

_FRAME = struct.Struct("!cI")


def _send(fd: int, kind: bytes, payload: bytes) -> None:
    data = _FRAME.pack(kind, len(payload)) + payload
    while data:
        data = data[os.write(fd, data) :]


def _frames(data: bytes) -> list[tuple[bytes, bytes]]:
    frames, at = [], 0
    while at + _FRAME.size <= len(data):
        kind, size = _FRAME.unpack_from(data, at)
        at += _FRAME.size
        if at + size > len(data):
            break
        frames.append((kind, data[at : at + size]))
        at += size
    return frames


def _address_space() -> int:
    """This process's virtual size in bytes (the child starts from it)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def run_capped(program: Program, doc: Any, memory_mb: int) -> Any:
    """`program.run(doc)` in a child that may grow by at most `memory_mb` megabytes.

    Raises `RuleFailed` as `run` does, and for a child that died, naming the rule it was in.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: cap, run, report, and leave without cleanup handlers
        os.close(read_end)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)  # Rust's report of a failed allocation is ours to word
        faulthandler.disable()  # and so is the abort it ends with
        code = 0
        try:
            cap = _address_space() + memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
            out = program.run(doc, lambda i: _send(write_end, b"R", str(i).encode()))
            _send(write_end, b"O", orjson.dumps(out))
        except RuleFailed as exc:
            _send(write_end, b"E", exc.reason.encode())
        except MemoryError:
            code = 3
        except BaseException:  # the child must never return into the caller
            code = 4
        os._exit(code)
    os.close(write_end)
    chunks = []
    with os.fdopen(read_end, "rb") as pipe:
        while chunk := pipe.read(65536):
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    frames = _frames(b"".join(chunks))
    current = 0
    for kind, payload in frames:
        if kind == b"R":
            current = int(payload)
        elif kind == b"O":
            return orjson.loads(payload)
        elif kind == b"E":
            raise RuleFailed(program.rules[current].rule, payload.decode())
    rule = program.rules[current].rule
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 4:
        raise RuleFailed(rule, "failed: the evaluation ended unexpectedly")
    raise RuleFailed(rule, f"stopped: needed more than {memory_mb} MB of memory")
