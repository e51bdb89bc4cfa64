"""Servers as real child processes on loopback (`robopass serve`, any command line,
Node.js tools), for tests that cross a process boundary.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port


class Server:
    """A child process whose stdout is read line by line until it says it is ready.

    Output is read on a thread so a server that never answers cannot hang a
    test: `wait_for` gives up after `timeout` seconds and reports what it saw.
    """

    def __init__(
        self, argv: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        self.proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, marker: str, timeout: float = 60.0) -> str:
        """The first output line containing `marker`; RuntimeError if the server exits first."""
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                self.stop()
                raise RuntimeError(f"no {marker!r} within {timeout}s: {self.lines}") from None
            if line is None:
                raise RuntimeError(f"server exited before {marker!r}: {self.lines}")
            self.lines.append(line)
            if marker in line:
                return line

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def node_tool(folder: Path, package: str) -> str:
    """Node.js, with the pinned npm packages of a test tool in `folder` installed.

    `npm ci` runs on first use (the npm registry is reachable wherever the tests
    are), so the README's test command needs no extra step. Skips without Node.js.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(f"Node.js is not installed: {folder.name} runs on Node.js")
    if not (folder / "node_modules" / package).is_dir():
        run = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(folder)],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            pytest.fail(f"npm ci in {folder} failed:\n{run.stderr[-2000:]}")
    return node


@contextmanager
def running_server(data_dir: Path, *args: str, env: dict | None = None) -> Iterator[str]:
    """`robopass serve ARGS` as a real process on loopback; yields its base URL.

    Its output goes to a file, not a pipe nobody reads: a pipe's buffer fills
    with access log lines and then blocks the server mid-request.
    """
    port = free_port()
    environment = {**os.environ, "ROBOPASS_DATA_DIR": str(data_dir), **(env or {})}
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"serve-{port}.log"
    with log.open("w") as output:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), *args],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise RuntimeError(log.read_text()) from None
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError(f"server did not start: {log.read_text()}")
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def robopass_server(data_dir: Path) -> AbstractContextManager[str]:
    """`robopass serve` with a small demo fleet of 200 robots in `data_dir`."""
    return running_server(data_dir, "--robots", "200")
