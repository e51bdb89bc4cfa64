"""`robopass registry fleet`: write a synthetic fleet as NDJSON, streamed, on every core.

One chained log `{code, events}` per line, robots in index order, the lines
`robopass registry import` reads. The output is streamed (to a file or to
standard output), so a million robots (about 40 GB) can go straight into an
import through a pipe without ever being a file:

    robopass registry fleet --robots 1000000 --seed 1 | robopass registry import - --db ...

Robots are independent (robot i draws only from its own seed), so they are
generated in `--workers` processes, a chunk of robots per task, and written in
index order; the tasks in flight are bounded, so a slow reader (an import)
holds back the generators instead of filling memory.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import IO

import orjson

from gateway.cli.arguments import count, fleet_country
from gateway.node.records import event_json
from gateway.service.workers import in_order
from gateway.synthetic.fleet import NOW, synthetic_fleet

CHUNK_ROBOTS = 50  # a task: ~50 ms of work and ~2 MB of lines, so pickling is noise

Spec = tuple[int, str, str, datetime]  # seed, country, registry, now


def register(reg: argparse._SubParsersAction) -> None:
    """Add `fleet` to the `registry` sub-commands."""
    cmd = reg.add_parser(
        "fleet",
        help="write a deterministic synthetic fleet as NDJSON (for import or benchmarks)",
        description="Writes robots START..START+N-1 of the synthetic fleet, one chained log"
        " {code, events} per line, in index order, to standard output or --out. Pipe it into"
        " `robopass registry import -` to fill a store without an intermediate file.",
    )
    cmd.add_argument("--robots", type=count, required=True, help="how many robots")
    cmd.add_argument("--start", type=count, default=0, help="index of the first robot")
    cmd.add_argument("--seed", type=count, default=0, help="same seed, same fleet")
    cmd.add_argument(
        "--country", type=fleet_country, default="CN", help="country of the robots' makers"
    )
    cmd.add_argument("--registry", default="cn-heis", help="the registry id the logs record")
    cmd.add_argument(
        "--workers",
        type=count,
        default=os.cpu_count() or 1,
        help="generating processes (default: one per core; 1 generates in this process)",
    )
    cmd.add_argument("--out", default="-", help="file to write (default -: standard output)")
    cmd.set_defaults(func=cmd_fleet)


def cmd_fleet(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise SystemExit("robopass: --workers must be at least 1")
    spec: Spec = (args.seed, args.country, args.registry, NOW)
    lines = fleet_lines(spec, args.start, args.robots, workers=args.workers)
    try:
        if args.out == "-":
            _write(lines, sys.stdout.buffer)
        else:
            with open(args.out, "wb") as out:
                _write(lines, out)
    except BrokenPipeError:  # the reader stopped (`| head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        raise SystemExit(f"robopass: cannot write {args.out}: {exc.strerror}") from None
    except KeyboardInterrupt:
        print("robopass: interrupted; the last line written may be cut short", file=sys.stderr)
        return 130
    return 0


def _write(chunks: Iterator[bytes], out: IO[bytes]) -> None:
    for chunk in chunks:
        out.write(chunk)
    out.flush()


def fleet_lines(spec: Spec, start: int, robots: int, *, workers: int = 1) -> Iterator[bytes]:
    """Robots start..start+robots-1 as NDJSON, a chunk of whole lines at a time, in order."""
    tasks = (
        (spec, first, min(CHUNK_ROBOTS, start + robots - first))
        for first in range(start, start + robots, CHUNK_ROBOTS)
    )
    if workers <= 1 or robots <= CHUNK_ROBOTS:
        yield from map(_chunk, tasks)
        return
    yield from in_order(_chunk, tasks, workers=workers, preload=[__name__])


def _chunk(task: tuple[Spec, int, int]) -> bytes:
    """A task: `robots` robots from index `first`, as the lines a fleet file holds."""
    (seed, country, registry, now), first, robots = task
    fleet = synthetic_fleet(
        robots, seed=seed, country=country, registry=registry, now=now, start=first
    )
    return b"".join(
        orjson.dumps({"code": log[0].code, "events": [event_json(e) for e in log]}) + b"\n"
        for log in fleet
    )
