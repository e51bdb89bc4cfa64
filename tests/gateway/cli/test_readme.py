"""The README as a newcomer follows it: its commands as written, in order, on another port.

Every ```sh block of README.md runs in one bash session (so `TOKEN` and `CODE`
carry from block to block, as in a reader's terminal), under `set -euo
pipefail`, against a real `robopass serve` on a free port that is not 8000,
chosen the documented way: `ROBOPASS_PORT`. A long-running server a block
starts (`robopass auth-server`, `robopass registry serve`) is run in the
background and waited for, on its own free port (`ROBOPASS_AUTH_PORT`,
`ROBOPASS_NODE_PORT`). A block fails the test when a command fails or an
answer carries GraphQL `errors`. The blocks not run are listed below with the
reason; a block the list does not know is run, so a new README example is
tested the day it is written. The demo's three examples run in a test of their own,
against `robopass demo` on the port ROBOPASS_PORT names.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from tests.support.ports import free_port
from tests.support.processes import Server

pytestmark = [pytest.mark.process, pytest.mark.slow]

README = ROOT / "README.md"
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)

DEMO_BLOCK = "needs `robopass demo`: the demo test below runs it"
# How a block starts -> why the newcomer test does not run it.
NOT_RUN = {
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[dev]' && robopass serve": (
        "installs robopass and starts the server: the test runs in that install and starts"
        " `robopass serve` itself, in the background, with ROBOPASS_PORT"
    ),
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[dev]' && python -m": (
        "runs the whole test suite"
    ),
    'python -m pytest -m "not process': "runs a part of the test suite, this test among it",
    "export ROBOPASS_PORT=8123": (
        "the documented way of choosing the port: the test sets ROBOPASS_PORT to a free port"
    ),
    "robopass demo ": "the six-process demo federation; tests/gateway/cli/test_demo.py runs it",
    "DEMO=~/.local/share/robopass/demo": DEMO_BLOCK,
    "TOKEN=$(robopass token fleet-owner --data-dir $DEMO": DEMO_BLOCK,
    "TOKEN=$(robopass token standards-body --data-dir $DEMO": DEMO_BLOCK,
    "python -m bench.run ": "benchmarks take minutes and measure, they do not check",
}
# Commands that serve until stopped: started in the background, waited for, stopped at the end.
SERVERS = ("robopass auth-server", "robopass registry serve")
READY = "Uvicorn running on"


def blocks() -> list[str]:
    return [m.group(1) for m in BLOCK.finditer(README.read_text("utf-8"))]


def script(runnable: list[str], outputs: Path) -> str:
    """One bash script: each block's output in its own file, servers started in the background."""
    lines = [
        "set -euo pipefail",
        "started() {  # a server: in the background, until it says it runs",
        '  log="$OUTPUTS/server-$((++SERVED)).log"',
        '  "$@" > "$log" 2>&1 &',
        '  echo $! >> "$OUTPUTS/pids"',
        f'  for _ in $(seq 600); do grep -q "{READY}" "$log" && return 0;'
        " kill -0 $! 2>/dev/null || break; sleep 0.2; done",
        '  echo "server did not start: $*"; cat "$log"; return 1',
        "}",
        "SERVED=0",
    ]
    for number, block in enumerate(runnable):
        out = outputs / f"block-{number}.out"
        body = []
        for line in block.splitlines():
            if line.startswith(SERVERS):
                command = line.split("#", 1)[0].strip()
                line = f"started {command}"
            body.append(line)
        lines += [f"echo '### block {number}' >&2", "{", *body, f"}} > {shlex.quote(str(out))}"]
    return "\n".join(lines) + "\n"


def test_the_readme_works_as_written_on_another_port(tmp_path: Path) -> None:
    every = blocks()
    skipped = {start for start in NOT_RUN for b in every if b.startswith(start)}
    assert skipped == set(NOT_RUN), "a block NOT_RUN names is gone from the README"
    runnable = [b for b in every if not b.startswith(tuple(NOT_RUN))]
    assert len(runnable) >= 5

    work, outputs = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    outputs.mkdir()
    # A reader follows the README from the clone's root, where samples/ is; the files
    # the commands write go to a folder of the test's own.
    (work / "samples").symlink_to(ROOT / "samples")
    port = free_port()
    assert port != 8000, "the point is a port that is not the default"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path / "home"),
        "ROBOPASS_DATA_DIR": str(tmp_path / "data"),
        "ROBOPASS_PORT": str(port),
        "ROBOPASS_AUTH_PORT": str(free_port()),
        "ROBOPASS_NODE_PORT": str(free_port()),
        "OUTPUTS": str(outputs),
    }
    serve = Server(["robopass", "serve"], cwd=work, env=env)
    try:
        banner = "\n".join([serve.wait_for(READY, timeout=300), *serve.lines])
        assert f"http://127.0.0.1:{port}/graphql" in banner
        assert f"robopass token used-robot-buyer --port {port}" in banner

        run = subprocess.run(
            ["bash", "-c", script(runnable, outputs)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        pids = outputs / "pids"
        for pid in pids.read_text().split() if pids.exists() else ():
            subprocess.run(["kill", pid], check=False)
        serve.stop()
    where = run.stderr.strip().splitlines()
    assert run.returncode == 0, f"README block failed ({where[-1:]}):\n{run.stdout}\n{run.stderr}"
    for number, block in enumerate(runnable):
        answer = (outputs / f"block-{number}.out").read_text()
        assert '"errors"' not in answer, f"block {number} answered errors:\n{block}\n{answer}"
    writes = (outputs / f"block-{first_with(runnable, 'reportIncident')}.out").read_text()
    assert '"sequence"' in writes and '"replayed":false' in writes
    german = (outputs / f"block-{first_with(runnable, 'token de-msa)')}.out").read_text()
    assert_german_authority_sees_germany_only(german)


def assert_german_authority_sees_germany_only(output: str) -> None:
    """The walkthrough as the German authority (issue 17): the demo recall reached robots
    held in Germany and elsewhere, and the authority counts, lists and downloads Germany's."""
    answer, end = json.JSONDecoder().raw_decode(output)  # curl's JSON, then the CSV
    (recall,) = [
        e["node"]
        for e in answer["data"]["campaigns"]["edges"]
        if e["node"]["id"] == "CN-DEMO-RECALL-2026-001"
    ]
    counts = recall["counts"]
    assert [c["country"] for c in counts["byCountry"]] == ["DE"], counts
    germany = counts["byCountry"][0]["counts"]["affected"]
    assert germany > 0 and counts["totals"]["affected"] == germany
    assert recall["progress"]["reached"] > germany, "it reached robots held outside Germany"
    listed = [e["node"] for e in recall["robots"]["edges"]]
    assert listed and {r["country"] for r in listed} == {"DE"}
    header, *rows = output[end:].strip().splitlines()
    assert header.startswith("code,state,country")
    assert len(rows) == germany and {r.split(",")[2] for r in rows} == {"DE"}


def first_with(runnable: list[str], text: str) -> int:
    return next(i for i, b in enumerate(runnable) if text in b)


def test_the_readme_demo_examples_work_as_written_on_another_port(tmp_path: Path) -> None:
    """The three parties' examples of "A federation on your machine", as written, against
    `robopass demo` with ROBOPASS_PORT set the documented way and no gateway option: the
    examples send to ${ROBOPASS_PORT:-8000}, so the demo's gateway must listen there.

    The demo's folder is the README's `DEMO` (the default under a HOME of the test's own);
    the other parts get free ports by their options and small fleets, to start sooner.
    """
    demo_blocks = [b for b in blocks() if "--data-dir $DEMO/gateway" in b]
    assert len(demo_blocks) == 3 and demo_blocks[0].startswith("DEMO=")

    work, outputs = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    outputs.mkdir()
    (work / "samples").symlink_to(ROOT / "samples")
    port = free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("ROBOPASS_") or name.startswith(("ROBOPASS_TEST", "ROBOPASS_REQ"))
    }
    env.pop("XDG_DATA_HOME", None)
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path / "home"),
        "ROBOPASS_PORT": str(port),
        "OUTPUTS": str(outputs),
    }
    others = ("--auth-port", "--cn-port", "--eu-port", "--cn-witness-port", "--eu-witness-port")
    argv = ["robopass", "demo", "--cn-robots", "45", "--eu-robots", "6"]
    argv += [a for option in others for a in (option, str(free_port()))]
    demo = Server(argv, cwd=work, env=env)
    try:
        demo.wait_for("Press Ctrl-C to stop", timeout=300)
        assert any(f"http://127.0.0.1:{port}/graphql" in line for line in demo.lines)
        run = subprocess.run(
            ["bash", "-c", script(demo_blocks, outputs)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        demo.stop()
    assert run.returncode == 0, f"README demo block failed:\n{run.stdout}\n{run.stderr}"
    regulator, fleet, standards = ((outputs / f"block-{i}.out").read_text() for i in range(3))
    # The regulator sees incidents; the owner's name is withheld, as the README says.
    assert '"incidents":[' in regulator and '"errors"' in regulator, regulator
    codes = set(re.findall(r'"code":"([A-Z0-9_]+)"', regulator.split('"errors"')[1]))
    assert codes == {"UNAUTHORIZED_FIELD_OR_TYPE"}, regulator
    assert '"errors"' not in fleet and fleet.count('"homeRegistry":"eu-dpp"') == 3, fleet
    assert '"errors"' not in standards and '"lossless":false' in standards, standards
