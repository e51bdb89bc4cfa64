import copy
import time
from functools import cache

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from jsonschema import Draft201909Validator

from adapters import aas, cn_miit
from adapters.errors import InvalidDocument
from adapters.translate import translate
from schema.codec import to_plain
from tests.support.reference import reference_json
from tests.support.roundtrip import assert_preserved
from tests.support.samples import basyx_load, sample_doc
from tests.support.strategies import passports

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def official_validator() -> Draft201909Validator:
    return Draft201909Validator(reference_json("aas/aas-3.0.schema.json"))


@pytest.mark.slow
def test_sample_passes_every_checker_and_round_trips():
    passport = cn_miit.to_canonical(sample_doc())
    env = aas.from_canonical(passport)
    aas.validate(env)
    basyx_load(env)
    assert list(official_validator().iter_errors(env)) == []
    assert aas.to_canonical(env) == passport


def test_asset_id_is_derived_from_the_code():
    env = aas.from_canonical(cn_miit.to_canonical(sample_doc()))
    info = env["assetAdministrationShells"][0]["assetInformation"]
    assert info == {
        "assetKind": "Instance",
        "globalAssetId": "urn:robopass:robot:CNH7K2H0A1B32605281000012345A",
    }


def test_nameplate_uses_idta_semantic_ids():
    env = aas.from_canonical(cn_miit.to_canonical(sample_doc()))
    nameplate = next(s for s in env["submodels"] if s["idShort"] == "Nameplate")
    assert nameplate["semanticId"]["keys"][0]["value"] == aas.NAMEPLATE
    ids = {e["idShort"]: e["semanticId"]["keys"][0]["value"] for e in nameplate["submodelElements"]}
    assert ids["ManufacturerName"] == "0112/2///61987#ABA565#009"
    assert ids["SerialNumber"] == "0112/2///61987#ABA951#009"
    assert ids["DateOfManufacture"] == "0112/2///61987#ABB757#007"
    name = next(e for e in nameplate["submodelElements"] if e["idShort"] == "ManufacturerName")
    assert {"language": "zh", "text": "北京未来机器人有限公司"} in name["value"]


def test_empty_arrays_are_omitted():
    doc = sample_doc()
    doc["deploy_recs"] = []
    env = aas.from_canonical(cn_miit.to_canonical(doc))

    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                assert value != [], node
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(env)
    assert aas.to_canonical(env).deployments == []


@pytest.mark.slow
@given(passports())
@SETTINGS
def test_round_trip_keeps_every_lossless_field(passport):
    env = aas.from_canonical(passport)
    back = aas.to_canonical(copy.deepcopy(env), check=False)
    assert_preserved(to_plain(passport), to_plain(back), aas.rules())
    assert back == passport


def test_submodels_and_elements_are_found_by_id_not_position():
    env = aas.from_canonical(cn_miit.to_canonical(sample_doc()))
    env["submodels"].reverse()
    for submodel in env["submodels"]:
        submodel.get("submodelElements", []).reverse()
    assert aas.to_canonical(env) == cn_miit.to_canonical(sample_doc())


def _export_many(n: int) -> None:
    """Export n generated passports; each must pass aas-core3.0 and a strict BaSyx load."""
    spent = {"encode": 0.0, "aas-core": 0.0, "basyx": 0.0}
    errors: list[str] = []

    @given(passports())
    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def export(passport):
        t0 = time.perf_counter()
        env = aas.from_canonical(passport)
        t1 = time.perf_counter()
        try:
            aas.validate(env)
        except InvalidDocument as exc:
            errors.extend(str(v) for v in exc.violations)
        t2 = time.perf_counter()
        basyx_load(env)
        t3 = time.perf_counter()
        spent["encode"] += t1 - t0
        spent["aas-core"] += t2 - t1
        spent["basyx"] += t3 - t2

    export()
    print(f"AAS export of {n}: " + ", ".join(f"{k} {v:.2f}s" for k, v in spent.items()))
    assert errors == []


@pytest.mark.slow
def test_export_1000_generated_passports_without_errors():
    _export_many(1000)


@pytest.mark.slow
def test_official_schema_accepts_generated_exports():
    """The official schema is slow under jsonschema (about 2 s a document): a few examples."""
    validator = official_validator()

    @given(passports())
    @settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def check(passport):
        assert list(validator.iter_errors(aas.from_canonical(passport))) == []

    check()


def _violations(env) -> dict[str, str]:
    with pytest.raises(InvalidDocument) as info:
        translate(env, "aas", "canonical")
    assert info.value.format == "aas"
    return {v.pointer: v.message for v in info.value.violations}


def test_aas_constraint_violations_are_listed_with_pointers():
    env = aas.from_canonical(cn_miit.to_canonical(sample_doc()))
    serial = env["submodels"][0]["submodelElements"][3]
    assert serial["idShort"] == "SerialNumber"
    serial["idShort"] = "9Serial"
    env["submodels"][1]["idShort"] = "bad idShort"
    env["assetAdministrationShells"][0]["assetInformation"]["globalAssetId"] = ""
    found = _violations(env)
    assert set(found) >= {
        "/submodels/0/submodelElements/3/idShort",
        "/submodels/1/idShort",
        "/assetAdministrationShells/0/assetInformation/globalAssetId",
    }


def test_json_that_is_not_aas_is_rejected_with_a_pointer():
    env = aas.from_canonical(cn_miit.to_canonical(sample_doc()))
    env["submodels"][0]["submodelElements"][3]["valueType"] = "xs:text"
    found = _violations(env)
    assert list(found) == ["/submodels/0/submodelElements/3/valueType"]


def test_missing_parts_and_bad_values_are_all_listed():
    env = aas.from_canonical(cn_miit.to_canonical(sample_doc()))
    registration = env["submodels"][1]
    assert registration["idShort"] == "Registration"
    del registration["submodelElements"][0]  # RobotCode
    registration["submodelElements"][0]["value"] = "RETIRED"  # Status
    env["submodels"] = [s for s in env["submodels"] if s["idShort"] != "Ownership"]
    env["assetAdministrationShells"][0]["submodels"].pop()
    found = _violations(env)
    assert "RobotCode" in found["/submodels/1/submodelElements"]
    assert "RETIRED" in found["/submodels/1/submodelElements/0/value"]
    assert "Ownership" in found["/submodels"]
