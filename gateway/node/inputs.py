"""Checks of what a caller sends: each failure is a 400 that names the rule broken."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request

from schema.code import RobotCode, RobotCodeError
from schema.codec import parse_datetime
from schema.passport import RobotStatus
from schema.source import RobotFilter

from .problems import Problem, bad_request

MAX_PAGE = 500
DEFAULT_PAGE = 100
MAX_BODY = 1 << 20
MAX_FILTER = 200
MAX_THROUGH = 10**12  # a sequence number: far beyond any log, still an exact integer
REGISTRY_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")
FILTERS = (
    "manufacturer",
    "category",
    "status",
    "owner",
    "owner_id",
    "campaign",
    "campaign_states",
    "campaign_countries",
)
CAMPAIGN_FILTERS = ("campaign", "campaign_states", "campaign_countries")
"""A campaign's robots, narrowed by stored state and owner country: the gateway sets
them from the caller's scope (gateway/service/campaigns.py) and the node answers."""
_CAMPAIGN_ID = re.compile(r"[A-Z0-9][A-Z0-9._-]{2,63}")
STORED = "PENDING|REMEDIED|EXEMPTED"
STORED_STATES_LIST = f"^({STORED})(,({STORED}))*$"
COUNTRY_LIST = "^[A-Z]{2}(,[A-Z]{2})*$"
_STORED_STATES = re.compile(STORED_STATES_LIST)
_COUNTRIES = re.compile(COUNTRY_LIST)


def robot_code(text: str, where: str = "code") -> str:
    """The canonical form of a robot code; 400 BAD_ROBOT_CODE naming the rule otherwise."""
    try:
        return RobotCode.parse(text).value
    except RobotCodeError as exc:
        raise Problem(
            400,
            "BAD_ROBOT_CODE",
            f"{where}: {exc}",
            rule=exc.rule,
            position=exc.position,
        ) from None


def known_parameters(request: Request, allowed: Iterable[str]) -> Mapping[str, str]:
    """The query parameters, refusing unknown and repeated ones (a typo must not be ignored)."""
    allowed = tuple(allowed)
    params = request.query_params
    for name in params:
        if name not in allowed:
            known = ", ".join(allowed) or "none"
            raise bad_request(f"unknown query parameter {name!r}; known: {known}")
        if len(params.getlist(name)) > 1:
            raise bad_request(f"query parameter {name!r} given more than once")
    return params


def first(params: Mapping[str, str], default: int = DEFAULT_PAGE) -> int:
    """`first`: an integer from 1 to MAX_PAGE."""
    return integer(params, "first", default, 1, MAX_PAGE)


def integer(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    if not re.fullmatch(r"[0-9]{1,19}", text):
        raise bad_request(f"{name} must be an integer from {low} to {high}, got {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise bad_request(f"{name} must be an integer from {low} to {high}, got {value}")
    return value


def time(value: Any, name: str) -> datetime | None:
    """An ISO 8601 time with a UTC offset, or None when absent.

    An empty value is refused, not read as "now": a client that meant a time and
    sent nothing gets a 400, never the present passport in its place.
    """
    if value is None:
        return None
    if value == "":
        raise bad_request(
            f"{name} is empty: leave it out for the present, or give an ISO 8601 time"
            " with a UTC offset (e.g. 2026-06-01T08:00:00Z)"
        )
    if not isinstance(value, str):
        raise bad_request(f"{name} must be an ISO 8601 time string with a UTC offset")
    try:
        return parse_datetime(value)
    except ValueError:
        raise bad_request(
            f"{name} must be an ISO 8601 time with a UTC offset "
            f"(e.g. 2026-06-01T08:00:00Z), got {value!r}"
        ) from None


def robot_filter(params: Mapping[str, str]) -> RobotFilter:
    """Equality filters; an empty value means any."""
    values: dict[str, str] = {}
    for name in FILTERS:
        value = params.get(name)
        if not value:
            continue
        if len(value) > MAX_FILTER:
            raise bad_request(f"{name} is longer than {MAX_FILTER} characters")
        values[name] = value
    status = values.get("status")
    if status is not None and status not in {s.value for s in RobotStatus}:
        known = ", ".join(s.value for s in RobotStatus)
        raise bad_request(f"status must be one of {known}, got {status!r}")
    campaign = {k: values.pop(k) for k in CAMPAIGN_FILTERS if k in values}
    checks = (
        ("campaign", _CAMPAIGN_ID, "a campaign id (A-Z, 0-9, . _ -)"),
        ("campaign_states", _STORED_STATES, "comma-separated PENDING, REMEDIED, EXEMPTED"),
        ("campaign_countries", _COUNTRIES, "comma-separated ISO 3166-1 alpha-2 codes"),
    )
    for name, pattern, what in checks:
        if name in campaign and not pattern.fullmatch(campaign[name]):
            raise bad_request(f"{name}: {what}")
    return RobotFilter(
        **values,
        campaign=campaign.get("campaign"),
        campaign_states=tuple(campaign.get("campaign_states", "").split(","))
        if "campaign_states" in campaign
        else (),
        campaign_countries=tuple(campaign.get("campaign_countries", "").split(","))
        if "campaign_countries" in campaign
        else (),
    )


async def json_object(request: Request, members: Iterable[str], required: Iterable[str]) -> dict:
    """The body as a JSON object with only `members`, all of `required` present."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise bad_request("the body must be application/json")
    raw = await _body(request)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    allowed = tuple(members)
    for name in body:
        if name not in allowed:
            raise bad_request(f"unknown member {name!r}; known: {', '.join(allowed)}")
    for name in required:
        if name not in body:
            raise bad_request(f"member {name!r} is required")
    return body


async def _body(request: Request) -> bytes:
    """The body, refused (413) as soon as it passes MAX_BODY: never buffered beyond that."""
    too_large = Problem(413, "BAD_REQUEST", f"the body is larger than {MAX_BODY} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_large
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise too_large
    return bytes(raw)


def idempotency_key(request: Request) -> str:
    key = request.headers.get("idempotency-key")
    if key is None:
        raise bad_request("header Idempotency-Key is required for an append")
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise bad_request("Idempotency-Key must be 1 to 200 visible ASCII characters")
    return key


def registry_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not REGISTRY_ID.fullmatch(value):
        raise bad_request(
            f"{name} must be a registry id: lower-case letters, digits and hyphens, "
            "at most 63 characters"
        )
    return value
