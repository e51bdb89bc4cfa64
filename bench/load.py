"""A small HTTP/1.1 keep-alive load generator, run as its own process.

wrk is the better tool where it is installed; this one needs nothing but the
standard library, so the benchmark runs on any machine that runs robopass.
Prints one JSON line: requests, errors, seconds, req/s, p50 and p99 in ms.
Extra request headers ("Name: value") come as a JSON list in $LOAD_HEADERS.
With `--bodies FILE` (one body a line) the requests take those bodies in turn,
each connection from its own place in the list, so a server cannot answer
every request from one row it just read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time


async def worker(
    host: str, port: int, requests: list[bytes], until: float, out: list[float]
) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    turn = 0
    try:
        while time.perf_counter() < until:
            start = time.perf_counter()
            writer.write(requests[turn % len(requests)])
            turn += 1
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            out.append(time.perf_counter() - start)
            errors += not status.startswith(b"HTTP/1.1 200")
    finally:
        writer.close()
    return errors


async def run(
    host: str,
    port: int,
    path: str,
    bodies: list[bytes],
    connections: int,
    seconds: float,
    headers: list[str],
):
    requests = [request_bytes(host, path, body, headers) for body in bodies]
    step = max(1, len(requests) // connections)
    latencies: list[float] = []
    start = time.perf_counter()
    errors = await asyncio.gather(
        *(
            worker(
                host, port, requests[i * step :] + requests[: i * step], start + seconds, latencies
            )
            for i in range(connections)
        )
    )
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[int(p * (len(latencies) - 1))] * 1000, 2) if latencies else 0.0

    return {
        "requests": len(latencies),
        "errors": sum(errors),
        "seconds": round(elapsed, 2),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def request_bytes(host: str, path: str, body: bytes, headers: list[str]) -> bytes:
    method = "POST" if body else "GET"
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}", *headers]
    head += ["Content-Type: application/json", f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(head).encode() + body


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/graphql")
    parser.add_argument("--body", default="")
    parser.add_argument("--bodies", help="a file of request bodies, one a line, sent in turn")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    headers = json.loads(os.environ.get("LOAD_HEADERS", "[]"))
    if args.bodies:
        with open(args.bodies, "rb") as f:
            bodies = [line.rstrip(b"\n") for line in f if line.strip()]
    else:
        bodies = [args.body.encode()]
    result = asyncio.run(
        run(
            "127.0.0.1",
            args.port,
            args.path,
            bodies,
            args.connections,
            args.seconds,
            headers,
        )
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
