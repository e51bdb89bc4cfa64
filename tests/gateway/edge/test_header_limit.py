"""A large Authorization header gets one answer, however the network splits the request.

A real `robopass serve`, raw sockets: each request is sent once in one write
and once in forty writes a few milliseconds apart (how a slow link delivers
it). uvicorn's parser used to answer the split 94 KB header itself (400, or a
reset) and the whole one with the app's 401.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.support.processes import running_server

pytestmark = pytest.mark.process

BODY = b'{"query": "{ __typename }"}'


def status(base: str, token_bytes: int, writes: int) -> int:
    host, port = base.removeprefix("http://").split(":")
    request = (
        b"POST /graphql HTTP/1.1\r\nHost: test\r\ncontent-type: application/json\r\n"
        + b"authorization: Bearer "
        + b"a" * token_bytes
        + b"\r\ncontent-length: %d\r\n\r\n" % len(BODY)
        + BODY
    )
    step = -(-len(request) // writes)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        for start in range(0, len(request), step):
            sock.sendall(request[start : start + step])
            if writes > 1:
                time.sleep(0.005)
        line = sock.recv(64).split(b"\r\n")[0]
    return int(line.split()[1])


def test_a_large_authorization_gets_the_same_answer_however_it_arrives(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", "--robots", "3") as base:
        for size, expected in ((20_000, 401), (60_000, 401), (94_000, 431), (130_000, 431)):
            assert [status(base, size, 1), status(base, size, 40)] == [expected, expected], size
