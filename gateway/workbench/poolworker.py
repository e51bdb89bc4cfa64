"""A mapping pool worker (`gateway.workbench.pool`): reads requests on stdin, answers on stdout.

The first frame (b"S") carries the served programs and the memory cap; the worker then
caps its address space at its size plus that cap and answers one request at a time (b"Q":
the document's id, a NUL, then each redacted passport as its JSON's length and the JSON).
For each passport in order it names each rule before it runs (b"R") and ends with the
output as JSON (b"O"), a rule's failure (b"E") or, for a Python allocation over the cap,
b"M". An allocation over the cap in Rust aborts the process, which the parent reports.
The worker exits when its input closes.
"""

from __future__ import annotations

import os
import pickle
import resource
import struct
import sys
from typing import IO

from adapters.mapengine import Program, RuleFailed
from gateway.workbench.frames import read_frame, write_frame


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


_LENGTH = struct.Struct("!I")


def _documents(body: bytes) -> list[str]:
    """The passports of a request, each its JSON text (a length, then the JSON)."""
    texts, at = [], 0
    while at < len(body):
        (size,) = _LENGTH.unpack_from(body, at)
        at += _LENGTH.size
        texts.append(body[at : at + size].decode())
        at += size
    return texts


def serve(inp: IO[bytes], out: IO[bytes]) -> None:
    kind, payload = read_frame(inp)
    if kind != b"S":
        return  # not started by a pool: nothing to serve
    programs: dict[str, Program]
    programs, memory_mb = pickle.loads(payload)  # our own parent's frame
    for program in programs.values():
        for step in program.rules:
            step.expr()  # compiled before the cap: the cap is for the evaluations
    cap = _address_space() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an abort over the cap dumps nothing
    while True:
        try:
            kind, payload = read_frame(inp)
        except EOFError:
            return
        mapping_id, _, docs = payload.partition(b"\0")
        program = programs[mapping_id.decode()]
        for doc in _documents(docs):
            try:
                output = program.run_json(doc, lambda i: write_frame(out, b"R", str(i).encode()))
                write_frame(out, b"O", output)
            except RuleFailed as exc:
                write_frame(out, b"E", exc.reason.encode())
            except MemoryError:
                write_frame(out, b"M", b"")


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
