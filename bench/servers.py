"""The servers a benchmark measures, each run as its own uvicorn process.

`graphql`: the gateway app over a registry file (`graphql-policies` with the
demo policies, `graphql-audit` also writing the audit log, `graphql-trusted`
without policies but verifying tokens, for clients that must send one). Given `--issuer`
and `--data-dir`, the policy modes trust the demo authorization server's key,
so a request pays for token verification as in production. `graphql-ops` is
`graphql-policies` plus the operations layer: rate limits (in memory, or in Redis
with `--redis`, with a budget no benchmark exhausts), Prometheus metrics and one
JSON log line per request (written to stderr). `static`: uvicorn + Starlette
answering every request with the same bytes the GraphQL query returns, the
ceiling of what any GraphQL work on top of this HTTP stack can reach.
`--db` is a SQLite path or a `postgresql://` URL. `--loop` and `--http` choose
uvicorn's event loop (asyncio or uvloop) and HTTP parser (h11 or httptools);
by default uvicorn's own choice ("auto": the fast ones when installed).
`--compiled` turns compiled execution on (`server.compiled`); `--writable` serves the
mutations, written through the same store.
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from gateway.edge.auth import demo_issuer
from gateway.edge.observe import configure_logging
from gateway.edge.ratelimit import Bucket, MemoryBuckets, RateLimits, RedisBuckets
from gateway.endpoint.options import GraphQLOptions
from gateway.ops.metrics import METRICS
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store.open import open_store
from gateway.web.app import create_app
from policies import AuditLog, PolicySet, TokenVerifier


def static_app(body: bytes) -> Starlette:
    async def answer(request) -> Response:
        await request.body()
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/graphql", answer, methods=["GET", "POST"])])


def ops_options(redis_url: str | None) -> dict:
    """Rate limits that never refuse (the cost is in the charging) and metrics, as `Services`
    parts; JSON logs are configured here and the access log asked of `create_app`."""
    unlimited = Bucket(rate=1e9, burst=10**9)
    buckets = RedisBuckets(redis_url) if redis_url else MemoryBuckets()
    configure_logging("info", "json")
    return {
        "rate_limits": RateLimits(unlimited, unlimited, buckets),
        "metrics": METRICS,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    modes = ["graphql", "graphql-policies", "graphql-audit", "graphql-ops", "graphql-trusted"]
    parser.add_argument("mode", choices=[*modes, "static"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db")
    parser.add_argument("--body-file")
    parser.add_argument("--audit-db")
    parser.add_argument("--issuer", help="the demo authorization server's issuer URL")
    parser.add_argument("--data-dir", help="where the demo authorization server keeps its key")
    parser.add_argument("--redis", help="graphql-ops: keep rate limit buckets in this Redis")
    parser.add_argument("--compiled", action="store_true", help="compiled execution on")
    parser.add_argument("--writable", action="store_true", help="serve the mutations too")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument("--http", choices=["auto", "h11", "httptools"], default="auto")
    args = parser.parse_args()
    if args.mode.startswith("graphql"):
        policy = None if args.mode in ("graphql", "graphql-trusted") else PolicySet.demo()
        audit = AuditLog(args.audit_db) if args.mode == "graphql-audit" else None
        issuer = [demo_issuer(args.issuer, args.data_dir)] if args.issuer else None
        trusts = policy is not None or args.mode == "graphql-trusted"
        verifier = TokenVerifier(issuer) if issuer and trusts else None
        source = LocalSource(open_store(args.db))
        with_ops = args.mode == "graphql-ops"
        ops = ops_options(args.redis) if with_ops else {}
        writer = source if args.writable else None
        services = Services(source, policy, audit=audit, verifier=verifier, writer=writer, **ops)
        options = GraphQLOptions(compiled=args.compiled)
        app = create_app(services, options, access_log=with_ops)
    else:
        with open(args.body_file, "rb") as f:
            app = static_app(f.read())
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop=args.loop,
        http=args.http,
    )


if __name__ == "__main__":
    main()
