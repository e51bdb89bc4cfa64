"""The mapping engine's time budget: spent by the rules, not by the machine around them.

The budget is jsonatapy's wall clock. A thread that waits for a core, or that the heap
collector stops (a second is common in a large process: it failed the leak test once in
CI), must not fail a document that needed a millisecond of work; a rule that works
through the budget must still stop. Each case stalls the thread inside the first call of
`$pad`, then gives the rule more steps, so the engine's clock is checked after the stall.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import adapters.mapengine as engine
from adapters.mapdoc import Rule
from adapters.mapengine import Limits, OutOfTime, compile_rules

BUDGET = Limits(time_ms=100)
STALL = 0.3  # seconds, three budgets


def _sleep() -> None:  # the machine gives the thread no core
    time.sleep(STALL)


def _collect() -> None:  # the heap collector holds the thread
    end = time.thread_time() + STALL
    while time.thread_time() < end:
        gc.collect()


def _work() -> None:  # the thread itself works through the budget
    end = time.thread_time() + STALL
    while time.thread_time() < end:
        pass


def _stalling_pad(stall: Callable[[], None], calls: list[int]) -> Callable[[int], Any]:
    real = engine._capped_pad

    def make(limit: int) -> Callable[..., Any]:
        pad = real(limit)

        def stalled(*args: Any) -> Any:
            calls.append(1)
            if len(calls) == 1:
                stall()
            return pad(*args)

        return stalled

    return make


RULE = Rule("padded", 8, '$pad("a", 3) & $string($count([1..1000].($ * 2)))', "p")


@pytest.mark.parametrize("stall", [_sleep, _collect], ids=["no-core", "collector"])
def test_a_document_stalled_from_outside_runs_again_and_succeeds(monkeypatch, stall):
    calls: list[int] = []
    monkeypatch.setattr(engine, "_capped_pad", _stalling_pad(stall, calls))
    monkeypatch.setattr(engine, "_PER_THREAD", engine.threading.local())  # compile afresh
    program = compile_rules((RULE,), BUDGET)
    assert program.run({}) == {"p": "a  1000"}
    assert len(calls) == 2, "the first evaluation ran out of time and a second ran"


def test_a_rule_that_works_through_its_budget_still_stops_at_once(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(engine, "_capped_pad", _stalling_pad(_work, calls))
    monkeypatch.setattr(engine, "_PER_THREAD", engine.threading.local())
    program = compile_rules((RULE,), BUDGET)
    with pytest.raises(OutOfTime, match=r"rule 'padded' \(line 8\): stopped: took longer than"):
        program.run({})
    assert len(calls) == 1, "no second evaluation for a rule that used its budget"


def test_a_failure_handed_to_another_thread_holds_none_of_the_engine(monkeypatch):
    """The engine's data may only be freed by its own thread: a failure's traceback that
    another thread drops must not hold it (pyo3 refuses, and reports it unraisable)."""
    unraisable: list[Any] = []
    monkeypatch.setattr("sys.unraisablehook", unraisable.append)
    program = compile_rules((Rule("scalar", 3, "1", None),))
    failures: list[BaseException] = []

    def fail() -> None:
        try:
            program.run({"a": 1})
        except engine.RuleFailed as exc:
            failures.append(exc)

    worker = threading.Thread(target=fail)
    worker.start()
    worker.join()
    assert "must give an object" in str(failures[0])
    failures.clear()  # the last reference, dropped on this thread
    gc.collect()
    assert not unraisable, [str(u.exc_value) for u in unraisable]
