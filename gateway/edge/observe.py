"""Per-request observability: a request id, metrics and one structured log line.

The log line names the route template, never the path (a path holds a robot
code, a query string may hold a person's name), and the caller's kind and
jurisdiction, never its subject, organisation or token.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.edge.auth import CALLER
from gateway.ops.metrics import Metrics

REQUEST_ID = "x-request-id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
UNMATCHED = "unmatched"
access_log = logging.getLogger("robopass.access")


def request_id(headers: Headers) -> str:
    """The caller's `X-Request-Id` when it is a short plain token, else a fresh one."""
    given = headers.get(REQUEST_ID, "")
    return given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The template of the route a request matches (`/robots/{code}`), through mounts."""
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        path = getattr(route, "path", "")
        inner = getattr(route, "routes", None) if isinstance(route, Mount) else None
        if inner:
            sub = {**scope, **child}
            rest = route_template(inner, sub)
            return path + (rest if rest != UNMATCHED else "/{path}")
        return path + ("/{path}" if isinstance(route, Mount) else "")
    return UNMATCHED


def caller(scope: Scope) -> tuple[str, str | None]:
    """(kind, jurisdiction) of the request's principal: a role, or anonymous."""
    state = scope.get("state", {})
    principal = state.get("principal") or state.get(CALLER)
    if principal is None or principal.is_public:
        return "anonymous", None
    return principal.role.value, principal.jurisdiction


class Observed:
    """ASGI middleware, outermost: request id in and out, metrics, the access log line."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Sequence[BaseRoute],
        metrics: Metrics | None,
        log: bool,
    ) -> None:
        self.app = app
        self.routes = routes
        self.metrics = metrics
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = request_id(Headers(scope=scope))
        scope.setdefault("state", {})["request_id"] = rid
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - start
            route = route_template(self.routes, scope)
            method = scope["method"]
            if self.metrics is not None:
                self.metrics.requests.labels(route, method, str(status)).inc()
                self.metrics.latency.labels(route, method).observe(seconds)
            if self.log:
                kind, jurisdiction = caller(scope)
                fields = {
                    "request_id": rid,
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "principal": kind,
                    "jurisdiction": jurisdiction,
                }
                access_log.info("request", extra={"fields": fields})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and a record's `fields`.

    Exceptions are reduced to their type: a message can carry data.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Plain lines for a terminal, a record's `fields` appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        return f"{super().format(record)} {extra}".rstrip()


def configure_logging(level: str, fmt: str) -> None:
    """Root logging to stderr, as JSON lines or plain text; uvicorn's loggers propagate here."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for chatty in ("httpx", "httpcore"):  # a line per outgoing call, URL and all
        logging.getLogger(chatty).setLevel(logging.WARNING)
