"""Running mapping documents: JSONata compiled once per rule, bounded per document.

Why JSONata, and why jsonatapy (docs/formats/mapping-documents.md says more): JSONata is
the expression language of JSON-to-JSON mappings that standards and integration people
already meet (Node-RED, AWS Step Functions, IBM App Connect), it is declarative and has no
statement that reaches a file, the network or the host. jsonatapy runs it in Rust, fast
enough for bulk exports, and bounds an evaluation itself: a time budget, a recursion depth
and a sequence length, each failing with its own JSONata code. The pure-Python port
(jsonata-python) was measured some hundred times slower on the same rules.

A mapping is data, never code: the only host functions are two built-ins replaced so that
they cannot escape the bounds (`$eval` refused, so no expression is hidden from the static
checks in a string; `$pad` capped, as it allocates its width in one step). Every document
gets one time budget shared by all its rules, so one pathological rule stops with an error
that names it, and the document is not translated. The budget is wall-clock (jsonatapy's
own), so a document that ran out of it while the thread did little work of its own (a
collection of the Python heap, which in a large process pauses a thread for a second,
or a machine that gave the thread no core) runs once more before it fails: `_WorkClock`.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import jsonatapy
import orjson

from .mapdoc import Rule

__all__ = ["Limits", "Program", "RuleFailed", "RunsMapping", "compile_rules"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one document's evaluation, all rules together.

    The time is wall-clock (jsonatapy's), so it is generous: a process descheduled on a
    loaded machine must not fail a document that needs a millisecond of CPU.
    """

    time_ms: int = 1000
    depth: int = 300
    sequence: int = 100_000
    string: int = 1_000_000


class RuleFailed(ValueError):
    """A rule could not be compiled or evaluated; the message names the rule and its line."""

    def __init__(self, rule: Rule, message: str) -> None:
        super().__init__(f"{rule.where()}: {message}")
        self.rule = rule
        self.reason = message


class OutOfTime(RuleFailed):
    """A rule stopped at the end of the document's time budget."""


class _WorkClock:
    """The CPU time this thread spent since the clock was made, less its heap collections.

    What a document's evaluation worked, as against the wall-clock time jsonatapy counts:
    the two part when the thread waits for a core or the collector stops it (the
    collector runs in whichever thread allocates, so its pauses count as that thread's
    CPU time, and are taken out again here).
    """

    def __init__(self) -> None:
        self.cpu = time.thread_time()
        self.collecting = _collecting()

    def worked(self) -> float:
        return (time.thread_time() - self.cpu) - (_collecting() - self.collecting)


_COLLECTING = threading.local()
"""Per thread: `total`, the CPU seconds its heap collections took; `began`, the start of
the one running."""


def _collecting() -> float:
    total: float = getattr(_COLLECTING, "total", 0.0)
    return total


def _time_collections(phase: str, _info: dict[str, int]) -> None:
    if phase == "start":
        _COLLECTING.began = time.thread_time()
    elif hasattr(_COLLECTING, "began"):
        _COLLECTING.total = _collecting() + time.thread_time() - _COLLECTING.began


gc.callbacks.append(_time_collections)


_TIMEOUT = "D1012"
_GUARDS = {
    _TIMEOUT: "stopped: took longer than the document's time budget of {time} ms "
    "(an endless loop or recursion?)",
    "D1011": "stopped: recursion deeper than {depth} calls (a function that never returns?)",
    "D2015": "stopped: a sequence longer than {sequence} items",
    "D2014": "stopped: a range of more than 10,000,000 items",
}


def _refuse_eval(*_: Any) -> Any:
    raise ValueError("$eval is not available in mapping documents: write the expression out")


def _capped_pad(limit: int) -> Callable[..., Any]:
    def pad(text: Any, width: Any, char: Any = " ") -> Any:
        if text is None:
            return None
        if not isinstance(width, int | float) or abs(width) > limit:
            raise ValueError(f"$pad width {width!r} is over the limit of {limit}")
        text, fill = str(text), str(char or " ")
        missing = int(abs(width)) - len(text)
        if missing <= 0:
            return text
        padding = (fill * (missing // len(fill) + 1))[:missing]
        return text + padding if width > 0 else padding + text

    return pad


def _expression(rule: Rule, limits: Limits) -> Any:
    try:
        expr = jsonatapy.compile(rule.expression)
    except ValueError as exc:
        message = str(exc).removeprefix("Parse error: ")
        raise RuleFailed(rule, f"invalid JSONata expression: {message}") from None
    expr.register_override("eval", _refuse_eval)
    expr.register_override("pad", _capped_pad(limits.string))
    return expr


@dataclass(frozen=True, slots=True)
class _Compiled:
    """One rule, compiled once per thread that runs it.

    jsonatapy's compiled expressions belong to the thread that made them (a pyo3
    "unsendable" class: used elsewhere it raises, dropped elsewhere it leaks), and a
    gateway may run exports on any thread. So the expression is checked when the
    document is loaded, and each thread compiles its own on first use and keeps it in
    its own cache (`_PER_THREAD`, which lives as long as the thread: a thread-local
    owned by the rule would be freed, expressions and all, by whichever thread collects
    the rule).
    """

    rule: Rule
    target: tuple[str, ...] | None
    limits: Limits

    def expr(self) -> Any:
        cache: dict[tuple[str, int], Any] | None = getattr(_PER_THREAD, "cache", None)
        if cache is None:
            cache = _PER_THREAD.cache = {}
        key = (self.rule.expression, self.limits.string)
        found = cache.get(key)
        if found is None:
            found = cache[key] = _expression(self.rule, self.limits)
        return found


_PER_THREAD = threading.local()
"""Each thread's compiled expressions, by (expression, $pad limit)."""


def _compile(rule: Rule, limits: Limits) -> _Compiled:
    _expression(rule, limits)  # parsed now, so a bad expression fails at load; then dropped
    target = tuple(rule.target.split(".")) if rule.target else None
    return _Compiled(rule, target, limits)


@dataclass(frozen=True, slots=True)
class Program:
    """The compiled rules of one direction of a mapping document."""

    rules: tuple[_Compiled, ...]
    limits: Limits
    sections: frozenset[str] | None = None
    """The top-level keys the rules can read; None: all. Handing the engine only these
    (a UNTP credential reads no history) saves converting what no rule looks at."""

    def readable(self, doc: Any) -> Any:
        """`doc` cut to the sections the rules read."""
        if self.sections is not None and isinstance(doc, dict):
            return {key: value for key, value in doc.items() if key in self.sections}
        return doc

    def run_json(self, text: str, on_rule: Callable[[int], None] | None = None) -> bytes:
        """`run` on a document given as JSON text, giving the output as JSON.

        The path of the capped workers, which receive and send JSON: a document of one
        whole-document rule (the UNTP re-expression) is parsed and written by the engine
        itself, never becoming Python objects, which halves the cost of the round trip.
        """
        if len(self.rules) != 1 or self.rules[0].target is not None:
            return orjson.dumps(self.run(orjson.loads(text), on_rule))
        return self._in_budget(self._whole_json, text, on_rule)

    def run(self, doc: Any, on_rule: Callable[[int], None] | None = None) -> Any:
        """Evaluate every rule over `doc` and assemble the output; raises `RuleFailed`.

        A rule without a target gives the whole output (an object), later rules write
        into it; an object written where an object is already merges into it, key by key.
        A rule whose value is nothing (JSONata undefined) or null writes nothing.
        `on_rule` is told the index of each rule before it runs (the workbench's sandbox
        uses it to name the rule a process died in).
        """
        return self._in_budget(self._rules, doc, on_rule)

    def _in_budget(
        self, evaluate: Callable[[Any, Callable[[int], None] | None], Any], doc: Any, on_rule: Any
    ) -> Any:
        """`evaluate(doc, on_rule)`, again once if it ran out of time without having
        worked for the budget (the `_WorkClock`); a rule that truly runs on stops twice."""
        clock = _WorkClock()
        try:
            return evaluate(doc, on_rule)
        except OutOfTime:
            if clock.worked() >= self.limits.time_ms / 1000:
                raise
        return evaluate(doc, on_rule)

    def _whole_json(self, text: str, on_rule: Callable[[int], None] | None) -> bytes:
        step, limits = self.rules[0], self.limits
        if on_rule is not None:
            on_rule(0)
        try:
            out: str = step.expr().evaluate_data_to_json(
                jsonatapy.JsonataData.from_json(text),
                timeout=limits.time_ms,
                max_stack_depth=limits.depth,
                max_sequence_length=limits.sequence,
            )
        except ValueError as exc:
            raise _failure(step.rule, str(exc), limits) from None
        if not out.startswith("{"):
            kind = type(orjson.loads(out)).__name__ if out != "null" else "nothing"
            raise RuleFailed(step.rule, f"a rule without a target must give an object, not {kind}")
        return out.encode()

    def _rules(self, doc: Any, on_rule: Callable[[int], None] | None) -> Any:
        data = jsonatapy.JsonataData(self.readable(doc))
        limits = self.limits
        try:
            deadline = time.monotonic() + limits.time_ms / 1000
            output: Any = {}
            for index, step in enumerate(self.rules):
                if on_rule is not None:
                    on_rule(index)
                left = max(1, int((deadline - time.monotonic()) * 1000))
                try:
                    value = step.expr().evaluate_with_data(
                        data,
                        timeout=left,
                        max_stack_depth=limits.depth,
                        max_sequence_length=limits.sequence,
                    )
                except ValueError as exc:
                    raise _failure(step.rule, str(exc), limits) from None
                if step.target is None:
                    if not isinstance(value, dict):
                        kind = "nothing" if value is None else type(value).__name__
                        raise RuleFailed(
                            step.rule, f"a rule without a target must give an object, not {kind}"
                        )
                    output = {**output, **value}
                elif value is not None:
                    _put(output, step.target, value, step.rule)
            return output
        finally:
            # The engine's data belongs to this thread; a failure's traceback keeps this
            # frame, which another thread's collector may free (and pyo3 then refuses).
            del data

    def run_many(self, docs: list[Any]) -> list[Any]:
        """Each document's output, or the `RuleFailed` it gave, in order."""
        out: list[Any] = []
        for doc in docs:
            try:
                out.append(self.run(doc))
            except RuleFailed as exc:
                out.append(exc)
        return out


def _failure(rule: Rule, message: str, limits: Limits) -> RuleFailed:
    """The `RuleFailed` for jsonatapy's error `message`, its guards said in words."""
    code = message.split(":", 1)[0].strip()
    template = _GUARDS.get(code)
    if template is None:
        return RuleFailed(rule, f"failed: {message}")
    reason = template.format(time=limits.time_ms, depth=limits.depth, sequence=limits.sequence)
    return (OutOfTime if code == _TIMEOUT else RuleFailed)(rule, reason)


def _put(output: dict[str, Any], parts: tuple[str, ...], value: Any, rule: Rule) -> None:
    node = output
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            at = ".".join(parts[: i + 1])
            raise RuleFailed(
                rule, f"cannot write into {at}: an earlier rule put a non-object there"
            )
        node = child
    old = node.get(parts[-1])
    node[parts[-1]] = (
        {**old, **value} if isinstance(old, dict) and isinstance(value, dict) else value
    )


class RunsMapping(Protocol):
    """What runs one served mapping document: a `Program` in process, or a capped worker
    pool's (`gateway.workbench.pool`). Raises `RuleFailed` naming the rule."""

    def run(self, doc: Any) -> Any: ...

    def run_many(self, docs: list[Any]) -> list[Any]:
        """Each document's output, or the `RuleFailed` it gave, in order (bulk exports)."""
        ...


def compile_rules(rules: tuple[Rule, ...], limits: Limits | None = None) -> Program:
    """Compile every rule; `RuleFailed` for the first expression that does not parse."""
    limits = limits or Limits()
    return Program(tuple(_compile(rule, limits) for rule in rules), limits)
