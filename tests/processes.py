"""Servers as real child processes on loopback, for tests that cross a process boundary."""

from __future__ import annotations

import queue
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path


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
