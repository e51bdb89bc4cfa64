"""Served mapping documents run in a small pool of worker processes with a memory cap.

jsonatapy bounds an evaluation's time, depth and sequence length, not its memory: within
its time budget a rule doubling a string reaches gigabytes. In the gateway's own process
such a rule would take every request down with it, so the gateway runs the documents of
its `[mappings] folder` in worker processes (`python -m gateway.workbench.poolworker`)
whose address space is capped (`RLIMIT_AS`). A forked child per document, as the
workbench's sandbox does, costs more than a document takes to translate; long-lived
workers cost a pipe round trip (a few tens of microseconds; BENCHMARKS.md has the figures).

A worker that goes over its cap dies (Rust aborts, SIGABRT, on a failed allocation); the caller's
export fails with the rule the worker was in (the worker names each rule before it runs),
and a fresh worker takes its place, so the next export runs as before. What a worker gets
is the caller's redacted passport and what it returns is that export: nothing of one
caller's request is left in a worker for another to read, as the rules keep no state.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

import orjson

from adapters.mapengine import Program, RuleFailed
from gateway.workbench.frames import read_frame, write_frame

__all__ = ["CappedMapping", "WorkerPool"]

_LENGTH = struct.Struct("!I")
"""Each passport of a request: its JSON's length, then the JSON."""


class _Worker:
    """One worker process and its two pipes; used by one caller at a time."""

    def __init__(self, setup: bytes) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.workbench.poolworker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # Rust's report of a failed allocation is ours to word
            env={**os.environ, "PYTHONFAULTHANDLER": ""},
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.to: IO[bytes] = self.proc.stdin
        self.back: IO[bytes] = self.proc.stdout
        write_frame(self.to, b"S", setup)

    def ask(self, mapping_id: str, docs: list[Any]) -> list[tuple[bytes, bytes, int]]:
        """(kind, payload, rule index) of each document's answer, in order; when the
        worker died, the last answer's kind is b"" and the documents after it have none."""
        answers: list[tuple[bytes, bytes, int]] = []
        rule = 0
        try:
            texts = [orjson.dumps(doc) for doc in docs]
            body = b"".join(_LENGTH.pack(len(text)) + text for text in texts)
            write_frame(self.to, b"Q", mapping_id.encode() + b"\0" + body)
            while len(answers) < len(docs):
                kind, payload = read_frame(self.back)
                if kind == b"R":
                    rule = int(payload)
                else:
                    answers.append((kind, payload, rule))
                    rule = 0
        except (EOFError, BrokenPipeError):
            answers.append((b"", b"", rule))
        return answers

    def close(self) -> None:
        for pipe in (self.to, self.back):
            with contextlib.suppress(OSError):
                pipe.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class WorkerPool:
    """`workers` processes, each capped at `memory_mb` over its size after start-up.

    Thread-safe: a caller takes an idle worker (waiting when all are busy) and gives it
    back. Started once with every served program, so a worker never reads a file.
    """

    def __init__(self, programs: Mapping[str, Program], memory_mb: int, workers: int) -> None:
        self.programs = dict(programs)
        self.memory_mb = memory_mb
        self._setup = pickle.dumps((self.programs, memory_mb))
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        for _ in range(max(1, workers)):
            self._idle.put(self._start())
        atexit.register(self.close)

    def _start(self) -> _Worker:
        worker = _Worker(self._setup)
        with self._lock:
            self._all.append(worker)
        return worker

    def _replace(self, worker: _Worker) -> _Worker:
        with self._lock:
            self._all.remove(worker)
        worker.close()
        return self._start()

    def run(self, mapping_id: str, doc: Any) -> Any:
        """The output of document `mapping_id` on `doc`; `RuleFailed` naming the rule."""
        (answer,) = self.run_many(mapping_id, [doc])
        if isinstance(answer, RuleFailed):
            raise answer
        return answer

    def run_many(self, mapping_id: str, docs: list[Any]) -> list[Any]:
        """Each output of document `mapping_id` on `docs`, or its `RuleFailed`, in order.

        One round trip for all of them (the bulk export sends a page at a time). A
        document that kills its worker fails with the memory message; the ones after it
        go to the fresh worker.
        """
        program = self.programs[mapping_id]
        results: list[Any] = []
        while len(results) < len(docs):
            worker = self._idle.get()
            try:
                rest = [program.readable(doc) for doc in docs[len(results) :]]
                answers = worker.ask(mapping_id, rest)
                if answers[-1][0] == b"":
                    if worker.proc.wait() != -signal.SIGABRT:  # not an allocation over the cap
                        answers[-1] = (b"X", b"", answers[-1][2])
                    worker = self._replace(worker)
            finally:
                self._idle.put(worker)
            results.extend(self._result(program, *answer) for answer in answers)
        return results

    def _result(self, program: Program, kind: bytes, payload: bytes, index: int) -> Any:
        rule = program.rules[index].rule
        if kind == b"O":
            return orjson.loads(payload)
        if kind == b"E":
            return RuleFailed(rule, payload.decode())
        if kind in (b"", b"M"):
            return RuleFailed(rule, f"stopped: needed more than {self.memory_mb} MB of memory")
        return RuleFailed(rule, "failed: the evaluation ended unexpectedly")

    def runners(self) -> dict[str, CappedMapping]:
        """One `run(doc)` per served document, for the export paths."""
        return {mapping_id: CappedMapping(self, mapping_id) for mapping_id in self.programs}

    def pids(self) -> list[int]:
        with self._lock:
            return [worker.proc.pid for worker in self._all]

    def close(self) -> None:
        """End every worker (each exits when its input closes)."""
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.close()


@dataclass(frozen=True, slots=True)
class CappedMapping:
    """One served mapping document, run by the pool: `run(doc)` as `Program.run`."""

    pool: WorkerPool
    mapping_id: str

    def run(self, doc: Any) -> Any:
        return self.pool.run(self.mapping_id, doc)

    def run_many(self, docs: list[Any]) -> list[Any]:
        return self.pool.run_many(self.mapping_id, docs)
