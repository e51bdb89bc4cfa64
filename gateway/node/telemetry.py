"""`POST /robots:conditions`: condition samples as NDJSON, for fleets that stream telemetry.

One sample per line, canonical and with its robot's code:
`{"code": "CN...", "at": "...Z", "operating_hours": 1.5, "battery_health_pct": 97.0,
"charge_cycles": 3, "movement_precision_mm": 0.2, "abnormal_stress_events": 0,
"joint_wear": [{"joint": "left_knee", "wear_pct": 4.0}]}`. The whole body is one
batch (`Store.ingest_conditions`): every sample is stored or none, one chained
event per robot, keyed by the `Idempotency-Key` header.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.store import IdempotencyConflict, UnknownRobot
from schema.codec import DecodeError, from_plain, parse_datetime
from schema.passport import ConditionSnapshot, JointWear
from schema.writes import WriteRejected

from . import inputs
from .auth import WRITE, authorize
from .problems import Problem, bad_request, not_found
from .records import event_json
from .routes import NodeApi, json_response

NDJSON = "application/x-ndjson"


async def ingest_conditions(api: NodeApi, request: Request) -> Response:
    await authorize(request, api.verifier, WRITE)
    inputs.known_parameters(request, ())
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != NDJSON:
        raise bad_request(f"Content-Type must be {NDJSON}: one JSON sample per line")
    key = inputs.idempotency_key(request)
    groups, positions, count = parse_samples(await inputs._body(request))
    try:
        done = await api.run(
            lambda: api.store.ingest_conditions(groups, idempotency_key=key, positions=positions)
        )
    except WriteRejected as exc:
        raise Problem(422, "EVENT_REJECTED", exc.message, rule=exc.rule, field=exc.field) from None
    except IdempotencyConflict as exc:
        raise Problem(409, "IDEMPOTENCY_CONFLICT", str(exc)) from None
    except UnknownRobot as exc:
        raise not_found(str(exc)) from None
    events = [event_json(done[code].event) for code in groups]
    body = {"samples": count, "events": events}
    if all(a.replayed for a in done.values()):
        return json_response(body, headers={"Idempotent-Replayed": "true"})
    return json_response(body, status=201)


def parse_samples(
    body: bytes,
) -> tuple[dict[str, list[ConditionSnapshot]], dict[str, list[int]], int]:
    """Samples grouped by robot, with each one's place in the body (`samples[i]` is line i+1)."""
    groups: dict[str, list[ConditionSnapshot]] = {}
    positions: dict[str, list[int]] = {}
    codes: dict[str, str] = {}
    index = 0
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise bad_request(f"line {number}: not JSON: {exc}", line=number) from None
        if not isinstance(item, dict) or not isinstance(item.get("code"), str):
            raise bad_request(f"line {number}: a JSON object with a code is needed", line=number)
        raw = item.pop("code")
        code = codes.get(raw) or codes.setdefault(raw, inputs.robot_code(raw, f"line {number}"))
        try:
            sample = _sample(item)
        except (KeyError, TypeError, ValueError, AttributeError):
            try:
                sample = from_plain(ConditionSnapshot, item)
            except DecodeError as exc:
                raise bad_request(f"line {number}: {exc}", line=number) from None
        groups.setdefault(code, []).append(sample)
        positions.setdefault(code, []).append(index)
        index += 1
    if not index:
        raise bad_request("the body holds no sample")
    return groups, positions, index


FIELDS = frozenset(
    {
        "at",
        "operating_hours",
        "battery_health_pct",
        "charge_cycles",
        "movement_precision_mm",
        "abnormal_stress_events",
        "joint_wear",
    }
)


def _sample(item: dict[str, Any]) -> ConditionSnapshot:
    """The common case decoded directly; anything unusual raises and goes the checked way.

    The codec's decoder is general and was half of an ingest's cost here.
    """
    if item.keys() != FIELDS:
        raise KeyError("members")
    wear = [JointWear(w["joint"], _float(w["wear_pct"])) for w in item["joint_wear"]]
    if any(type(w.joint) is not str for w in wear):
        raise TypeError("joint")
    return ConditionSnapshot(
        parse_datetime(item["at"]),
        _float(item["operating_hours"]),
        _float(item["battery_health_pct"]),
        _int(item["charge_cycles"]),
        _float(item["movement_precision_mm"]),
        _int(item["abnormal_stress_events"]),
        wear,
    )


def _float(value: Any) -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise TypeError("number")


def _int(value: Any) -> int:
    if type(value) is not int:
        raise TypeError("integer")
    return value


SAMPLES = {
    "type": "array",
    "minItems": 1,
    "description": "one line per sample; each line a JSON object",
    "items": {
        "type": "object",
        "properties": {
            "code": {"$ref": "#/components/schemas/RobotCode"},
            "at": {"type": "string", "format": "date-time"},
        },
        "required": ["code", "at"],
    },
}


def openapi_path() -> dict[str, Any]:
    """The route in the node's OpenAPI document."""
    event = {"$ref": "#/components/schemas/Event"}
    result = {
        "type": "object",
        "properties": {
            "samples": {"type": "integer", "minimum": 1},
            "events": {"type": "array", "items": event},
        },
        "required": ["samples", "events"],
    }

    def problems(*statuses: int) -> dict[str, Any]:
        return {str(s): {"$ref": f"#/components/responses/Problem{s}"} for s in statuses}

    return {
        "post": {
            "summary": "Ingest condition samples (NDJSON), one chained event per robot",
            "requestBody": {
                "required": True,
                # One JSON object per line: a sample, canonical, with its robot's code.
                "content": {NDJSON: {"schema": SAMPLES}},
            },
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                }
            ],
            "responses": {
                "201": {
                    "description": "stored",
                    "content": {"application/json": {"schema": result}},
                },
                "200": {
                    "description": "the key stored this batch before",
                    "content": {"application/json": {"schema": result}},
                    "headers": {"Idempotent-Replayed": {"schema": {"const": "true"}}},
                },
                **problems(400, 401, 403, 404, 409, 413, 422, 503),
            },
            "security": [{"serviceToken": [WRITE]}],
        }
    }
