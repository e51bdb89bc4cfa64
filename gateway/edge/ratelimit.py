"""Rate limits per principal: a token bucket per caller, in memory or shared through Redis.

A caller is its verified identity (issuer and subject or client), else its
client address; each class of caller (anonymous, authenticated) has its own
rate and burst. One replica keeps its buckets in memory; several replicas
share them in Redis, where one Lua script reads, refills and takes a token
atomically on Redis's own clock, so every replica spends from one budget.
Keys are hashes: no token, subject or address is ever written to Redis.

Over the limit a request is answered 429 with `Retry-After` (whole seconds,
rounded up, so a client that waits that long finds a token) and a GraphQL
over HTTP shaped error with `extensions.code = "RATE_LIMITED"`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.edge.auth import CALLER, VERIFIED
from gateway.ops.metrics import METRICS, Metrics
from policies import Principal, TokenError, TokenVerifier

RATE_LIMITED = "RATE_LIMITED"
ANONYMOUS = "anonymous"
AUTHENTICATED = "authenticated"
SESSION_COOKIE = "robopass_session"
EXEMPT = ("/healthz", "/readyz", "/metrics", "/static/", "/.well-known/")
log = logging.getLogger("robopass.ratelimit")


@dataclass(frozen=True, slots=True)
class Bucket:
    """`rate` tokens per second refill a bucket holding at most `burst`."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError("rate must be > 0")
        if self.burst < 1:
            raise ValueError("burst must be >= 1")


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a request may pass; when not, how many seconds until one token is back."""

    allowed: bool
    wait: float = 0.0

    @property
    def retry_after(self) -> int:
        """Whole seconds, rounded up: waiting this long always finds a token."""
        return max(1, math.ceil(self.wait - 1e-9))


def refill(tokens: float, elapsed: float, bucket: Bucket) -> tuple[float, Verdict]:
    """The token bucket rule, shared by both backends' semantics: refill, then take one."""
    tokens = min(bucket.burst, tokens + max(0.0, elapsed) * bucket.rate)
    if tokens >= 1:
        return tokens - 1, Verdict(True)
    return tokens, Verdict(False, (1 - tokens) / bucket.rate)


class Buckets(Protocol):
    async def take(self, key: str, bucket: Bucket) -> Verdict: ...


class MemoryBuckets:
    """One process's buckets, the least recently used dropped past `size` keys.

    A dropped bucket starts full again, which only ever errs towards letting
    a caller through; the bound keeps a flood of addresses from growing memory.
    """

    def __init__(self, size: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.clock = clock
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def take(self, key: str, bucket: Bucket) -> Verdict:
        now = self.clock()
        tokens, then = self._state.pop(key, (float(bucket.burst), now))
        tokens, verdict = refill(tokens, now - then, bucket)
        self._state[key] = (tokens, now)
        if len(self._state) > self.size:
            self._state.popitem(last=False)
        return verdict


# KEYS[1] the bucket; ARGV rate, burst. The same rule as `refill`, on Redis's clock.
TAKE_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
local fmt = '%.6f'
redis.call('HSET', KEYS[1], 'tokens', string.format(fmt, tokens), 'ts', string.format(fmt, now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, string.format(fmt, wait)}
"""


class RedisBuckets:
    """Buckets in Redis shared by every replica; one atomic script call per request.

    When Redis cannot be reached the request is let through (and counted in
    `robopass_rate_limit_errors_total`): a limiter outage must not become a
    gateway outage. Keys expire once a bucket would be full again.
    """

    def __init__(self, url: str, prefix: str = "robopass:rl:", timeout: float = 0.5) -> None:
        from redis.asyncio import Redis

        self.client = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.prefix = prefix
        self._script = self.client.register_script(TAKE_SCRIPT)

    async def take(self, key: str, bucket: Bucket) -> Verdict:
        from redis.exceptions import RedisError

        try:
            allowed, wait = await self._script(
                keys=[self.prefix + key], args=[repr(bucket.rate), bucket.burst]
            )
        except (RedisError, OSError) as exc:
            METRICS.rate_limit_errors.inc()
            log.warning("rate limit store unavailable, request let through: %s", type(exc).__name__)
            return Verdict(True)
        return Verdict(bool(int(allowed)), float(wait))

    async def aclose(self) -> None:
        await self.client.aclose()


@dataclass(frozen=True, slots=True)
class RateLimits:
    """What `RateLimit` enforces: a bucket per class of caller, and where buckets live."""

    anonymous: Bucket
    authenticated: Bucket
    buckets: Buckets

    def bucket(self, kind: str) -> Bucket:
        return self.authenticated if kind == AUTHENTICATED else self.anonymous


def caller_key(principal: Principal) -> str:
    """A stable, opaque key for a verified caller: a hash, never the identity itself."""
    raw = f"{principal.issuer}\0{principal.subject}\0{principal.client_id or ''}"
    return "p:" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def address_key(scope: Scope) -> str:
    client = scope.get("client")
    address = client[0] if client else "unknown"
    return "a:" + hashlib.sha256(address.encode()).hexdigest()[:32]


class RateLimit:
    """ASGI middleware charging each request to its caller's bucket.

    A bearer token is verified here (once: the verified principal is left in
    the scope for `Authenticated` to reuse); a bad token is charged to the
    client address and the request goes on to be refused 401 there. The
    report's session cookie names its caller too. Probes, metrics, static
    files and key sets are never limited.
    """

    def __init__(
        self,
        app: ASGIApp,
        limits: RateLimits,
        verifier: TokenVerifier | None,
        metrics: Metrics = METRICS,
    ) -> None:
        self.app = app
        self.limits = limits
        self.verifier = verifier
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT):
            await self.app(scope, receive, send)
            return
        kind, key = await self.identify(scope)
        verdict = await self.limits.buckets.take(key, self.limits.bucket(kind))
        if verdict.allowed:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["rate_limited"] = kind
        self.metrics.rate_limited.labels(kind).inc()
        await self.refuse(verdict.retry_after, scope, receive, send)

    async def identify(self, scope: Scope) -> tuple[str, str]:
        headers = Headers(scope=scope)
        header = headers.get("authorization")
        credential = header
        if header is None and "cookie" in headers:
            token = cookie_parser(headers["cookie"]).get(SESSION_COOKIE)
            credential = f"Bearer {token}" if token else None
        if credential is not None and self.verifier is not None:
            try:
                principal = await self.verifier.authenticate(credential)
            except TokenError:
                return ANONYMOUS, address_key(scope)
            state = scope.setdefault("state", {})
            state[CALLER] = principal  # for the access log, whichever credential named it
            if header is not None:
                state[VERIFIED] = (header, principal)
            if not principal.is_public:
                return AUTHENTICATED, caller_key(principal)
        return ANONYMOUS, address_key(scope)

    async def refuse(self, seconds: int, scope: Scope, receive: Receive, send: Send) -> None:
        error: dict[str, Any] = {
            "message": f"Rate limit exceeded; retry after {seconds} s",
            "extensions": {"code": RATE_LIMITED, "retryAfter": seconds},
        }
        response = Response(
            orjson.dumps({"errors": [error]}),
            429,
            media_type="application/json",
            headers={"Retry-After": str(seconds)},
        )
        await response(scope, receive, send)
