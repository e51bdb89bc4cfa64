"""The codec's generated decoder must refuse exactly what the checked one refuses, and
report it the same way: a wrong value anywhere names its path."""

import copy

import pytest

from gateway.synthetic.fleet import synthetic_fleet
from schema.codec import DecodeError, from_plain, parse_datetime, to_plain
from schema.events import fold
from schema.passport import Passport


@pytest.fixture(scope="module")
def plain():
    return to_plain(fold(next(iter(synthetic_fleet(1, seed=3)))))


BAD = [
    ("/identity/code", ["identity", "code"], 7, "expected a string"),
    ("/hardware/degrees_of_freedom", ["hardware", "degrees_of_freedom"], True, "an integer"),
    ("/hardware/degrees_of_freedom", ["hardware", "degrees_of_freedom"], 4.0, "an integer"),
    ("/hardware/mass_kg", ["hardware", "mass_kg"], "62", "expected a number"),
    ("/hardware/sensors", ["hardware", "sensors"], {"kind": "x"}, "expected an array"),
    ("/hardware/sensors/0", ["hardware", "sensors", 0], ["x"], "expected an object"),
    ("/model/production_date", ["model", "production_date"], "2024-13-01", "an ISO date"),
    ("/compliance/end_of_life", ["compliance", "end_of_life"], "soon", "expected an object"),
    ("/ownership/0/owner_kind", ["ownership", 0, "owner_kind"], "ROBOT", "not one of"),
    ("/maintenance/0/at", ["maintenance", 0, "at"], None, "a date-time"),
    # inside a dataclass decoded inline in its parent's source (codec._inlined)
    (
        "/conditions/0/joint_wear/0/wear_pct",
        ["conditions", 0, "joint_wear", 0, "wear_pct"],
        True,
        "expected a number",
    ),
    (
        "/conditions/0/joint_wear/0",
        ["conditions", 0, "joint_wear", 0],
        {"joint": "x"},
        "missing required field 'wear_pct'",
    ),
    (
        "/conditions/0/joint_wear/0",
        ["conditions", 0, "joint_wear", 0],
        {"joint": "x", "wear_pct": 1.0, "torque": 2},
        "unknown field 'torque'",
    ),
    ("/hardware/sensors/0/count", ["hardware", "sensors", 0, "count"], 2.0, "an integer"),
]


@pytest.mark.parametrize(("where", "keys", "value", "message"), BAD)
def test_a_wrong_value_is_refused_with_its_path(plain, where, keys, value, message):
    bad = copy.deepcopy(plain)
    if not bad["maintenance"]:
        bad["maintenance"] = [{"at": None}]
    node = bad
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    with pytest.raises(DecodeError, match=message) as err:
        from_plain(Passport, bad)
    assert err.value.path == where


def test_missing_required_field_and_defaults(plain):
    bad = copy.deepcopy(plain)
    del bad["model"]["serial"]
    with pytest.raises(DecodeError, match="missing required field 'serial'") as err:
        from_plain(Passport, bad)
    assert err.value.path == "/model"
    sparse = copy.deepcopy(plain)
    for name in ("deployments", "maintenance", "incidents", "conditions", "ownership"):
        del sparse[name]
    passport = from_plain(Passport, sparse)
    assert passport.maintenance == [] and passport.ownership == []


def test_round_trip_is_exact(plain):
    assert to_plain(from_plain(Passport, plain)) == plain


def test_a_time_before_year_one_in_utc_is_a_value_error_not_an_overflow() -> None:
    with pytest.raises(ValueError, match="out of range in UTC"):
        parse_datetime("0001-01-01T00:05:30+05:30")
    assert parse_datetime("0001-01-01T05:30:00+05:30").year == 1


def test_a_whole_number_decodes_as_a_float_where_a_float_is_declared(plain):
    given = copy.deepcopy(plain)
    given["conditions"][0]["joint_wear"][0]["wear_pct"] = 3
    given["conditions"][0]["operating_hours"] = 12
    condition = from_plain(Passport, given).conditions[0]
    assert type(condition.joint_wear[0].wear_pct) is float and condition.joint_wear[0].wear_pct == 3
    assert type(condition.operating_hours) is float
