"""Claim a command's port before it says it is serving.

`serve` binds its socket first and hands it to uvicorn, so a port another
process holds is one line and exit status 1 before any banner, seeding or
"running" message; `demo`, `auth-server` and `registry serve` check their ports
are free before they start anything. The line names the port and the option
or variable that chooses another.
"""

from __future__ import annotations

import errno
import logging
import socket
from typing import Any


class PortBusy(SystemExit):
    """The port cannot be listened on; the message is the one line to print."""


def bind(host: str, port: int, choose: str) -> socket.socket:
    """A socket bound to host:port, not yet listening; `choose` says how to pick another port."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortBusy(f"robopass: cannot listen on {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            reason = "the port is in use by another process"
        else:
            reason = exc.strerror or str(exc)
        raise PortBusy(
            f"robopass: cannot listen on {host}:{port}: {reason}; choose another with {choose}"
        ) from None
    return sock


def check_free(host: str, port: int, choose: str) -> None:
    """Exit with one line when host:port cannot be listened on; otherwise leave it free."""
    bind(host, port, choose).close()


def serve(config: Any, sock: socket.socket) -> None:
    """Run uvicorn's `config` on the socket `bind` returned.

    uvicorn says where it runs only when it binds the port itself; over a given
    socket it says nothing, so the same line is logged here: tools and people
    wait for it. uvicorn is imported here, not by every command at start.
    """
    import uvicorn

    class BoundServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if sockets and not self.should_exit:
                for bound in sockets:
                    host, port = bound.getsockname()[:2]
                    shown = f"[{host}]" if ":" in host else host
                    logging.getLogger("uvicorn.error").info(
                        "Uvicorn running on http://%s:%d (Press CTRL+C to quit)", shown, port
                    )

    BoundServer(config).run(sockets=[sock])
