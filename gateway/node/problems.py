"""Errors as RFC 9457 problem details, each with a stable machine `code`.

A handler raises `Problem`; the app turns it into `application/problem+json`.
Messages name the rule that was broken, never a token or a stored value the
caller did not send.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from starlette.responses import Response

MEDIA_TYPE = "application/problem+json"
CODES = (
    "BAD_ROBOT_CODE",
    "NOT_FOUND",
    "BAD_REQUEST",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "IDEMPOTENCY_CONFLICT",
    "EVENT_REJECTED",
    "INVALID_DOCUMENT",
    "TOO_MANY_CODES",
    "STORE_UNAVAILABLE",
    "LOG_UNAVAILABLE",
)


class Problem(Exception):
    """An answer that is an error: status, `code`, a human `detail` and optional members."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        assert code in CODES, code
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {
            "type": f"urn:robopass:problem:{self.code.lower().replace('_', '-')}",
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            **self.extra,
        }

    def response(self) -> Response:
        return Response(
            orjson.dumps(self.body()),
            status_code=self.status,
            media_type=MEDIA_TYPE,
            headers=self.headers,
        )


def bad_request(detail: str, **extra: Any) -> Problem:
    return Problem(400, "BAD_REQUEST", detail, **extra)


def not_found(detail: str) -> Problem:
    return Problem(404, "NOT_FOUND", detail)
