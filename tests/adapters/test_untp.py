import copy
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator

from adapters import cn_miit, untp
from adapters.errors import InvalidDocument
from adapters.mapping import Status
from adapters.translate import translate
from schema.codec import to_plain
from schema.passport import RobotStatus
from tests.support.reference import reference_json
from tests.support.roundtrip import assert_preserved
from tests.support.samples import sample_doc
from tests.support.strategies import passports

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def official() -> Draft202012Validator:
    return Draft202012Validator(reference_json("untp/untp-dpp-0.6.1.schema.json"))


def test_sample_is_valid_against_both_schemas():
    credential = untp.from_canonical(cn_miit.to_canonical(sample_doc()))
    untp.validate(credential)
    assert [e.message for e in official().iter_errors(credential)] == []


@pytest.mark.slow
@given(passports())
@SETTINGS
def test_generated_exports_are_valid_against_the_official_schema(passport):
    credential = untp.from_canonical(passport)
    untp.validate(credential)
    assert [e.message for e in official().iter_errors(credential)] == []


@pytest.mark.slow
@given(passports())
@SETTINGS
def test_round_trip_keeps_every_lossless_field(passport):
    credential = untp.from_canonical(passport)
    back = untp.to_canonical(copy.deepcopy(credential))
    assert_preserved(to_plain(passport), to_plain(back), untp.rules())


def test_unmapped_fields_are_reported_and_defaulted():
    passport = cn_miit.to_canonical(sample_doc())
    passport.identity.status = RobotStatus.SUSPENDED
    result = translate(to_plain(passport), "canonical", "untp-dpp")
    dropped = {loss.path: loss.count for loss in result.report.dropped}
    assert dropped["identity.status"] == 1
    assert dropped["ownership.owner"] == 2
    assert dropped["maintenance.performed_by"] == 1
    assert "hardware.mass_kg" not in dropped
    back = translate(result.output, "untp-dpp", "canonical")
    assert back.output["identity"]["status"] == "ACTIVE"
    assert back.output["ownership"] == [] and back.output["compliance"]["end_of_life"] is None
    defaulted = {loss.path for loss in back.report.defaulted}
    assert {"identity.status", "ownership.owner", "conditions.joint_wear.wear_pct"} <= defaulted


def test_table_marks_life_history_unmapped():
    statuses = {r.path: r.status for r in untp.rules()}
    assert statuses["model.serial"] is Status.LOSSLESS
    assert statuses["deployments.region"] is Status.UNMAPPED
    assert statuses["compliance.certifications.valid_until"] is Status.UNMAPPED


def test_invalid_credentials_list_every_violation():
    credential = untp.from_canonical(cn_miit.to_canonical(sample_doc()))
    credential["validFrom"] = "2026-05-27 16:30:00"
    credential["credentialSubject"]["product"]["registeredId"] = "short"
    credential["credentialSubject"]["product"]["dimensions"]["weight"]["unit"] = "LBR"
    del credential["issuer"]["id"]
    with pytest.raises(InvalidDocument) as info:
        translate(credential, "untp-dpp", "cn-miit")
    pointers = {v.pointer for v in info.value.violations}
    assert pointers == {
        "/validFrom",
        "/credentialSubject/product/registeredId",
        "/credentialSubject/product/dimensions/weight/unit",
        "/issuer",
    }
