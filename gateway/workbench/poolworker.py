"""A mapping pool worker (`gateway.workbench.pool`): reads requests on stdin, answers on stdout.

The first frame (b"S") carries the served programs and the memory cap; the worker then
caps its address space at its size plus that cap and answers one request (b"Q": the
document's id, a NUL, the redacted passport as JSON) at a time, naming each rule before it
runs (b"R") and ending with the output (b"O"), a rule's failure (b"E") or, for a Python
allocation over the cap, b"M". An allocation over the cap in Rust aborts the process,
which the parent reports. The worker exits when its input closes.
"""

from __future__ import annotations

import os
import pickle
import resource
import sys
from typing import IO

import orjson

from adapters.mapengine import Program, RuleFailed
from gateway.workbench.frames import read_frame, write_frame


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def serve(inp: IO[bytes], out: IO[bytes]) -> None:
    kind, payload = read_frame(inp)
    if kind != b"S":
        raise SystemExit("mapping pool worker: expected the set-up frame first")
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
        mapping_id, _, doc = payload.partition(b"\0")
        program = programs[mapping_id.decode()]
        try:
            output = program.run(
                orjson.loads(doc), lambda i: write_frame(out, b"R", str(i).encode())
            )
            write_frame(out, b"O", orjson.dumps(output))
        except RuleFailed as exc:
            write_frame(out, b"E", exc.reason.encode())
        except MemoryError:
            write_frame(out, b"M", b"")


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
