"""Work spread over a few processes, results in the order it was given, memory bounded.

The checks of `registry import` and `registry verify` are CPU in Python, so
they scale with processes, not threads. The pattern both need: workers from a
fork server (never a fork of the caller, whose database pool runs threads),
SIGINT ignored in them (Ctrl-C is the caller's to handle: it says what was
done and how to go on; the workers go with the pool), a bounded window of
tasks in flight so millions of tasks are never queued ahead, and the results
handed back in task order so output and progress read as a one-process run.
`gateway.service.importing` has its own copy of this for lines; it could use
`in_order` too.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing.pool import AsyncResult
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
    each worker starts without importing them again. The pool ends with the
    iteration: when it is exhausted, closed, or an exception (Ctrl-C included)
    passes through it, the workers are terminated.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, *preload])
    with context.Pool(workers, initializer=_start, initargs=(initializer, initargs)) as pool:
        pending: deque[AsyncResult[R]] = deque()
        for task in tasks:
            pending.append(pool.apply_async(work, (task,)))
            if len(pending) >= workers * ahead:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
        # Let the workers leave by themselves, running their exit hooks (a store closed,
        # its connections ended politely), rather than be terminated by the pool's exit.
        pool.close()
        pool.join()


def _start(initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    """A worker's first step: leave Ctrl-C to the caller, then the caller's own setup."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if initializer is not None:
        initializer(*initargs)
