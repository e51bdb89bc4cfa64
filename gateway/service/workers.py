"""Work spread over a few processes, results in the order it was given, memory bounded.

The checks of `registry import` and `registry verify` are CPU in Python, so
they scale with processes, not threads. The pattern both need: workers from a
fork server (never a fork of the caller, whose database pool runs threads),
SIGINT ignored in them (Ctrl-C is the caller's to handle: it says what was
done and how to go on; the workers go with the pool), a bounded window of
tasks in flight so millions of tasks are never queued ahead, and the results
handed back in task order so output and progress read as a one-process run.

A `ProcessPoolExecutor`, not a `multiprocessing.Pool`: the Pool's thread that
looks after its workers also wakes whenever a result is waiting in the pipe,
and so spins for as long as a worker's result takes to arrive and be
unpickled by its other thread; with an import's rows of 40 kB a robot that
was a quarter of the importing process's CPU. The executor's one thread waits
for a result and reads it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import select
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

A = TypeVar("A")
R = TypeVar("R")

AHEAD = 4
"""Tasks in flight per worker: enough to keep them busy, few enough to bound memory."""


def in_order(
    work: Callable[[A], R],
    tasks: Iterable[A],
    *,
    workers: int,
    preload: Sequence[str] = (),
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
    ahead: int = AHEAD,
) -> Iterator[R]:
    """`work(task)` for each task in `workers` processes, yielded in task order.

    `work` and `initializer` must be module-level functions (they are pickled
    by name); `preload` names the modules the fork server imports once, so
    each worker starts without importing them again. When the tasks run out,
    the workers leave by themselves, running their exit hooks (a store closed,
    its connections ended politely); when the caller stops early (Ctrl-C, an
    error, `--strict`), the workers are ended and what is in flight is dropped.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, *preload])
    pool = ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start,
        initargs=(os.getpid(), initializer, initargs),
    )
    finished = False
    try:
        pending: deque[Future[R]] = deque()
        for task in tasks:
            pending.append(pool.submit(work, task))
            if len(pending) >= workers * ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
        finished = True
    finally:
        if not finished:
            # Dropped mid-way: end the workers now rather than let them finish what is in
            # flight, which may wait on a lock for ever (Python 3.14's `terminate_workers`).
            for process in pool._processes.values():
                process.terminate()
        pool.shutdown(wait=finished, cancel_futures=not finished)


def _start(caller: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    """A worker's first step: leave Ctrl-C to the caller and go when it goes, then the
    caller's own setup.

    An executor's workers hold both ends of its pipes, so after a `kill -9` of the
    caller nothing would ever close them, and a worker writing its result would wait
    for a reader for ever (with its fork server and the other workers). A thread waits
    for the caller's end (a pidfd turns readable when the process exits) and ends the
    worker then.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(caller,), daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def _exit_with(caller: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # not if it is gone already
        select.select([os.pidfd_open(caller)], [], [])
    os._exit(1)
