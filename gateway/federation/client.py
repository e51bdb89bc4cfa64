"""One registry node over HTTP: pooled connections, service token, retries, breaker.

`RegistryClient.call` is the only way the federation reaches a node. It
bounds the whole call, retries included, by the registry's `timeout`, so no
request waits longer on a node than its configuration says; it retries only
calls the caller marks idempotent; and it reports every attempt to an
optional hook `on_upstream(registry_id, route, seconds, outcome)` for metrics.
A node that answers at all (even 4xx) is alive; timeouts, refused
connections and 5xx count against its breaker.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from schema.source import RegistryUnavailable

from .breaker import CircuitBreaker, State
from .config import RegistryConfig
from .retry import RETRY_STATUSES, backoff_delay
from .tokens import ServiceTokens, TokenError

UpstreamHook = Callable[[str, str, float, str], None]
"""(registry id, route template, seconds, outcome): outcome is 2xx, 3xx, 4xx, 5xx,
timeout, connect_error, token_error or breaker_open."""


class RegistryClient:
    """Calls to one registry node; one `httpx.AsyncClient` (one connection pool) each."""

    def __init__(
        self,
        config: RegistryConfig,
        *,
        on_upstream: UpstreamHook | None = None,
        env: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.config = config
        self.on_upstream = on_upstream
        self.clock = clock
        self.uniform = uniform
        self.http = httpx.AsyncClient(
            base_url=config.base_url,
            timeout=config.timeout,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            transport=transport,
        )
        self.tokens = (
            ServiceTokens(config.credentials, self.http, env) if config.credentials else None
        )
        self.breaker = CircuitBreaker(config.breaker.failures, config.breaker.reset_after, clock)
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None

    @property
    def id(self) -> str:
        return self.config.id

    async def aclose(self) -> None:
        await self.http.aclose()

    async def call(
        self,
        method: str,
        route: str,
        path: str,
        *,
        idempotent: bool,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The node's answer (any status below 500), or `RegistryUnavailable`.

        `route` is the path template (`GET /robots/{code}`), for the hook.
        """
        if not self.breaker.allow():
            self._report(route, 0.0, "breaker_open")
            raise RegistryUnavailable(self.id, "circuit breaker open")
        deadline = self.clock() + self.config.timeout
        attempts = self.config.retry.attempts if idempotent else 1
        reason = "no attempt made"
        settled = False
        try:
            for attempt in range(1, attempts + 1):
                remaining = deadline - self.clock()
                if remaining <= 0:
                    break
                started = self.clock()
                try:
                    async with asyncio.timeout(remaining):
                        body = {"json": json} if content is None else {"content": content}
                        response = await self._send(method, path, params, body, headers)
                except (TimeoutError, httpx.TimeoutException):
                    outcome, reason, retryable = "timeout", "timed out", True
                except httpx.TransportError as exc:
                    outcome = "connect_error"
                    reason, retryable = f"connection failed ({type(exc).__name__})", True
                except TokenError as exc:
                    outcome, reason, retryable = "token_error", f"no service token: {exc}", False
                else:
                    status = response.status_code
                    outcome = f"{status // 100}xx"
                    if status < 500:
                        self._report(route, self.clock() - started, outcome)
                        self.breaker.success()
                        settled = True
                        return response
                    reason, retryable = f"answered HTTP {status}", status in RETRY_STATUSES
                self._report(route, self.clock() - started, outcome)
                if not retryable or attempt == attempts:
                    break
                pause = min(
                    backoff_delay(attempt, self.config.retry.backoff, self.uniform),
                    deadline - self.clock(),
                )
                if pause < 0:
                    break
                await asyncio.sleep(pause)
            self.breaker.failure()
            settled = True
            self.last_error = reason
            self.last_error_at = datetime.now(UTC)
            raise RegistryUnavailable(self.id, reason)
        finally:
            if not settled:
                self.breaker.abandon()

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Mapping[str, Any],
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        """One request, with a token; a 401 gets one fresh token and one more try."""
        sent = dict(headers or {})
        token = None
        if self.tokens is not None:
            token = await self.tokens.token()
            sent["authorization"] = f"Bearer {token}"
        response = await self.http.request(method, path, params=params, headers=sent, **body)
        if response.status_code == 401 and self.tokens is not None and token is not None:
            token = await self.tokens.refresh(token)
            sent["authorization"] = f"Bearer {token}"
            response = await self.http.request(method, path, params=params, headers=sent, **body)
        return response

    def _report(self, route: str, seconds: float, outcome: str) -> None:
        if self.on_upstream is not None:
            self.on_upstream(self.id, route, seconds, outcome)

    @property
    def state(self) -> State:
        return self.breaker.state


def problem_details(response: httpx.Response) -> dict[str, Any]:
    """The problem details (RFC 9457) of a node's answer; empty when it has none."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def on_every(
    clients: Sequence[RegistryClient], call: Callable[[RegistryClient], Any]
) -> list[Any]:
    """`call(client)` on every node at once, answers in the clients' order; the first
    failure is raised (each names its node), after all have ended."""
    answers = await asyncio.gather(*(call(c) for c in clients), return_exceptions=True)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers
