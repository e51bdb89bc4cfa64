"""The canonical GraphQL API, in process."""

from __future__ import annotations

import pytest
from graphql import GraphQLInputObjectType, GraphQLObjectType

from schema.codec import format_datetime
from schema.events import fold
from schema.graphql.query import build_schema
from schema.sdl import SDL_PATH, current_sdl

ROBOT = """
query ($code: RobotCode!) {
  robot(code: $code) {
    code version
    identity { status homeRegistry registeredAt }
    manufacturer { name nameLocal registrationId country }
    model { designation category productionDate serial }
    hardware { degreesOfFreedom battery { chemistry capacityWh } actuators { joint } }
    software { firmwareVersion aiModels { name version provider } }
    maintenance { at kind component performedBy hoursAtService }
    incidents { id severity rootCause status }
    ownership { owner ownerKind jurisdiction start end }
    condition { at operatingHours batteryHealthPct jointWear { joint wearPct } }
    conditionHistory(last: 3) { at batteryHealthPct }
    codeSegments { name value }
    integrity { verified length headHash firstBadSequence }
  }
}
"""


def test_robot_matches_the_stored_passport(graphql, fleet):
    events = max(fleet, key=len)
    passport = fold(events)
    body = graphql(ROBOT, {"code": passport.code.lower()})
    assert "errors" not in body, body
    robot = body["data"]["robot"]
    assert robot["code"] == passport.code
    assert robot["version"] == len(events)
    assert robot["manufacturer"]["registrationId"] == passport.manufacturer.registration_id
    assert robot["model"]["productionDate"] == passport.model.production_date.isoformat()
    assert robot["identity"]["status"] == passport.identity.status.name
    assert [m["component"] for m in robot["maintenance"]] == [
        m.component for m in passport.maintenance
    ]
    assert len(robot["ownership"]) == len(passport.ownership)
    assert robot["condition"]["operatingHours"] == passport.condition.operating_hours
    assert [c["at"] for c in robot["conditionHistory"]] == [
        format_datetime(c.at).replace("Z", "+00:00") for c in passport.conditions[-3:]
    ]
    assert robot["integrity"] == {
        "verified": True,
        "length": len(events),
        "headHash": events[-1].hash,
        "firstBadSequence": None,
    }
    assert robot["codeSegments"][0] == {"name": "country", "value": "CN"}


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("CNH7K2", "length"),
        ("CNH7K2H0A1B32605281000012345O", "alphabet"),
        ("QQH7K2H0A1B32605281000012345A", "country"),
        ("CNH7K2H0A1B32613281000012345A", "date"),
        ("CNH7K2H0A1B32605281000012354A", "check"),
    ],
)
def test_malformed_code_is_bad_robot_code_with_the_rule(graphql, code, rule):
    for body in (
        graphql(ROBOT, {"code": code}),
        graphql(f'{{ robot(code: "{code}") {{ code }} }}'),
    ):
        assert body.get("data") is None
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_ROBOT_CODE", error
        assert error["extensions"]["rule"] == rule


def test_unknown_code_is_null_with_not_found(graphql):
    body = graphql(ROBOT, {"code": "CNH7K2H0A1B32605281000012345A"})
    assert body["data"] == {"robot": None}
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert body["errors"][0]["path"] == ["robot"]


def test_as_of_shows_the_past(graphql, fleet):
    events = max(fleet, key=len)
    k = len(events) // 2
    moment = format_datetime(events[k - 1].at)
    past = fold(events, until=events[k - 1].at)
    query = """query ($code: RobotCode!, $at: DateTime) {
      robot(code: $code, asOf: $at) { asOf software { firmwareVersion } maintenance { at } }
    }"""
    robot = graphql(query, {"code": events[0].code, "at": moment})["data"]["robot"]
    assert robot["software"]["firmwareVersion"] == past.software.firmware_version
    assert len(robot["maintenance"]) == len(past.maintenance)
    before = graphql(query, {"code": events[0].code, "at": "2000-01-01T00:00:00Z"})
    assert before["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_history_pages_cover_the_log_once(graphql, fleet):
    events = max(fleet, key=len)
    query = """query ($code: RobotCode!, $after: String) { robot(code: $code) {
      history(first: 7, after: $after) {
        pageInfo { hasNextPage endCursor } edges { node { sequence type hash prevHash } } } } }"""
    seen, after = [], None
    while True:
        history = graphql(query, {"code": events[0].code, "after": after})["data"]["robot"][
            "history"
        ]
        seen += [e["node"] for e in history["edges"]]
        if not history["pageInfo"]["hasNextPage"]:
            break
        after = history["pageInfo"]["endCursor"]
    assert [n["sequence"] for n in seen] == list(range(1, len(events) + 1))
    assert [n["hash"] for n in seen] == [e.hash for e in events]
    assert seen[0]["type"] == "REGISTERED"


def test_robots_pagination_and_filter(graphql, fleet):
    query = """query ($after: String, $filter: RobotFilterInput) {
      robots(first: 25, after: $after, filter: $filter) {
        totalCount pageInfo { hasNextPage endCursor } edges { cursor node { code } } } }"""
    codes, after = [], None
    while True:
        page = graphql(query, {"after": after})["data"]["robots"]
        codes += [e["node"]["code"] for e in page["edges"]]
        assert page["totalCount"] == len(fleet)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert codes == sorted(e[0].code for e in fleet)
    maker = fold(fleet[0]).manufacturer.name
    page = graphql(query, {"filter": {"manufacturer": maker}})["data"]["robots"]
    assert page["totalCount"] == sum(fold(e).manufacturer.name == maker for e in fleet)


@pytest.mark.parametrize(
    "query",
    [
        "{ robots(first: 101) { totalCount } }",
        "{ robots(first: -1) { totalCount } }",
        '{ robots(after: "bm9wZQ") { totalCount } }',
    ],
)
def test_bad_page_arguments_are_bad_user_input(graphql, query):
    body = graphql(query)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_decode_robot_code_explains(graphql):
    query = """query ($c: String!) { decodeRobotCode(code: $c) {
        valid code grouped rule position message segments { name value } } }"""
    ok = graphql(query, {"c": "cn-h7k2-h0a1b3-260528-1-000012345-a"})["data"]["decodeRobotCode"]
    assert ok["valid"] and ok["code"] == "CNH7K2H0A1B32605281000012345A"
    assert ok["grouped"] == "CN-H7K2-H0A1B3-260528-1-000012345-A"
    assert {"name": "check", "value": "A"} in ok["segments"]
    bad = graphql(query, {"c": "CNH7K2H0A1B32605281000012354A"})["data"]["decodeRobotCode"]
    assert (bad["valid"], bad["rule"], bad["segments"]) == (False, "check", [])
    assert "check" in bad["message"]


def test_sdl_file_matches_the_code():
    assert SDL_PATH.read_text(encoding="utf-8") == current_sdl(), (
        "schema/passport.graphql is stale: run `python -m schema.sdl`"
    )


def test_every_type_and_field_is_described():
    schema = build_schema()._schema
    missing = []
    for name, type_ in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not type_.description:
            missing.append(name)
        if isinstance(type_, GraphQLObjectType | GraphQLInputObjectType):
            missing += [f"{name}.{f}" for f, d in type_.fields.items() if not d.description]
    assert missing == []
