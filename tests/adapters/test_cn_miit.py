import copy
import json
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings

from adapters import cn_miit
from adapters.errors import InvalidDocument
from schema.codec import to_plain
from schema.passport import OwnerKind, Ownership
from tests.support.roundtrip import assert_preserved
from tests.support.samples import sample_doc
from tests.support.strategies import passports

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_published_schema_is_generated_from_the_specs():
    on_disk = json.loads(cn_miit.SCHEMA_PATH.read_text())
    assert on_disk == cn_miit.schema(), "regenerate schema/formats/cn-miit.schema.json"


def test_sample_is_valid_and_round_trips():
    doc = sample_doc()
    cn_miit.validate(doc)
    passport = cn_miit.to_canonical(doc)
    assert cn_miit.from_canonical(passport) == doc


@pytest.mark.slow
@given(passports())
@SETTINGS
def test_native_canonical_native_is_identity(passport):
    doc = cn_miit.from_canonical(passport)
    cn_miit.validate(doc)
    again = copy.deepcopy(doc)
    assert cn_miit.from_canonical(cn_miit.to_canonical(again)) == doc


@pytest.mark.slow
@given(passports())
@SETTINGS
def test_canonical_native_canonical_keeps_lossless_fields(passport):
    before = to_plain(passport)
    after = to_plain(cn_miit.to_canonical(cn_miit.from_canonical(passport)))
    assert_preserved(before, after, cn_miit.rules())


def test_beijing_time_before_eight_is_the_previous_utc_day():
    passport = cn_miit.to_canonical(sample_doc())
    assert passport.identity.registered_at == datetime(2026, 5, 27, 16, 30, tzinfo=UTC)
    assert passport.maintenance[0].at == datetime(2024, 12, 31, 15, 59, 59, tzinfo=UTC)
    assert passport.incidents[0].at == datetime(2024, 12, 31, 16, 0, tzinfo=UTC)


def test_utc_evening_is_the_next_beijing_day():
    passport = cn_miit.to_canonical(sample_doc())
    passport.identity.registered_at = datetime(2024, 2, 28, 16, 0, 0, tzinfo=UTC)
    assert cn_miit.from_canonical(passport)["reg_time"] == "2024-02-29 00:00:00"


def test_leap_day_dates_survive():
    passport = cn_miit.to_canonical(sample_doc())
    assert passport.model.production_date == date(2024, 2, 29)
    assert passport.compliance.certifications[0].valid_until == date(2028, 2, 29)


def test_chinese_names_and_missing_english_name():
    doc = sample_doc()
    del doc["mfr"]["name_en"]
    passport = cn_miit.to_canonical(doc)
    assert passport.manufacturer.name == "北京未来机器人有限公司"
    assert passport.manufacturer.name_local is None
    assert cn_miit.from_canonical(passport) == doc


def test_empty_histories():
    doc = sample_doc()
    for key in ("deploy_recs", "maint_recs", "incident_recs", "condition_recs", "owner_recs"):
        doc[key] = []
    doc["hw"]["sensors"] = doc["hw"]["actuators"] = doc["sw"]["ai_models"] = []
    doc["compliance"]["certs"] = []
    passport = cn_miit.to_canonical(doc)
    assert passport.conditions == [] and passport.current_owner is None
    assert cn_miit.from_canonical(passport) == doc


def test_cross_border_owner_change():
    passport = cn_miit.to_canonical(sample_doc())
    old, new = passport.ownership
    assert (old.jurisdiction, new.jurisdiction) == ("CN", "DE")
    assert old.end == new.start == datetime(2025, 2, 28, 16, 0, tzinfo=UTC)
    passport.ownership.append(
        Ownership(
            start=datetime(2026, 1, 1, tzinfo=UTC),
            end=None,
            owner="Jane Doe",
            owner_kind=OwnerKind.NATURAL_PERSON,
            jurisdiction="FR",
        )
    )
    doc = cn_miit.from_canonical(passport)
    assert doc["owner_recs"][-1] == {
        "start_time": "2026-01-01 08:00:00",
        "owner_name": "Jane Doe",
        "owner_type": 2,
        "country": "FR",
    }


def test_percentages_round_half_to_even():
    passport = cn_miit.to_canonical(sample_doc())
    passport.conditions[0].battery_health_pct = 86.5
    passport.conditions[0].joint_wear[0].wear_pct = 87.5
    doc = cn_miit.from_canonical(passport)
    assert doc["condition_recs"][0]["battery_soh_pct"] == 86
    assert doc["condition_recs"][0]["joint_wear"][0]["wear_pct"] == 88


def test_foreign_manufacturer_uses_foreign_registration():
    doc = sample_doc()
    doc["mfr"] = {
        "name_zh": "德国机器人",
        "name_en": "Robo GmbH",
        "country": "DE",
        "foreign_reg_no": "HRB 12345",
    }
    passport = cn_miit.to_canonical(doc)
    assert passport.manufacturer.registration_id == "HRB 12345"
    assert cn_miit.from_canonical(passport) == doc


def _violations(doc) -> dict[str, str]:
    with pytest.raises(InvalidDocument) as info:
        cn_miit.validate(doc)
    assert info.value.format == "cn-miit"
    return {v.pointer: v.message for v in info.value.violations}


def test_every_violation_is_listed_with_its_pointer():
    doc = sample_doc()
    doc["rbt_status"] = 15
    doc["reg_time"] = "2026-05-28T00:30:00+08:00"
    doc["mfr"]["uscc"] = "91110108MA01K7XD2"
    doc["condition_recs"][0]["battery_soh_pct"] = 93.5
    doc["condition_recs"][0]["joint_wear"][0]["wear_pct"] = 101
    del doc["model"]["serial_no"]
    doc["hw"]["colour"] = "white"
    found = _violations(doc)
    assert set(found) == {
        "/rbt_status",
        "/reg_time",
        "/mfr/uscc",
        "/condition_recs/0/battery_soh_pct",
        "/condition_recs/0/joint_wear/0/wear_pct",
        "/model",
        "/hw",
    }
    assert "serial_no" in found["/model"] and "colour" in found["/hw"]


def test_impossible_dates_and_times_are_rejected():
    doc = sample_doc()
    doc["model"]["prod_date"] = "2023-02-29"
    doc["maint_recs"][0]["time"] = "2025-02-30 10:00:00"
    assert set(_violations(doc)) == {"/model/prod_date", "/maint_recs/0/time"}


def test_bad_robot_code_and_registration_rule():
    doc = sample_doc()
    doc["rbt_code"] = "XX-short"
    doc["mfr"]["country"] = "DE"
    found = _violations(doc)
    assert set(found) >= {"/rbt_code", "/mfr"}


def test_not_an_object():
    assert set(_violations(["not", "a", "record"])) == {""}
