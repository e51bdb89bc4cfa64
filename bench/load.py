"""A small HTTP/1.1 keep-alive load generator, run as its own process.

wrk is the better tool where it is installed; this one needs nothing but the
standard library, so the benchmark runs on any machine that runs robopass.
Prints one JSON line: requests, errors, seconds, req/s, p50 and p99 in ms.
Extra request headers ("Name: value") come as a JSON list in $LOAD_HEADERS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time


async def worker(host: str, port: int, request: bytes, until: float, out: list[float]) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    try:
        while time.perf_counter() < until:
            start = time.perf_counter()
            writer.write(request)
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
    body: bytes,
    connections: int,
    seconds: float,
    headers: list[str],
):
    method = "POST" if body else "GET"
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}", *headers]
    head += ["Content-Type: application/json", f"Content-Length: {len(body)}", "", ""]
    request = "\r\n".join(head).encode() + body
    latencies: list[float] = []
    start = time.perf_counter()
    errors = await asyncio.gather(
        *(worker(host, port, request, start + seconds, latencies) for _ in range(connections))
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/graphql")
    parser.add_argument("--body", default="")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    headers = json.loads(os.environ.get("LOAD_HEADERS", "[]"))
    result = asyncio.run(
        run(
            "127.0.0.1",
            args.port,
            args.path,
            args.body.encode(),
            args.connections,
            args.seconds,
            headers,
        )
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
