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


def _index(submodel, id_short):
    return next(i for i, e in enumerate(submodel["submodelElements"]) if e["idShort"] == id_short)


def test_aas_constraint_violations_are_listed_with_pointers():
    env = aas.from_canonical(cn_miit.to_canonical(sample_doc()))
    i = _index(env["submodels"][0], "SerialNumber")
    env["submodels"][0]["submodelElements"][i]["idShort"] = "9Serial"
    env["submodels"][1]["idShort"] = "bad idShort"
    env["assetAdministrationShells"][0]["assetInformation"]["globalAssetId"] = ""
    found = _violations(env)
    assert set(found) >= {
        f"/submodels/0/submodelElements/{i}/idShort",
        "/submodels/1/idShort",
        "/assetAdministrationShells/0/assetInformation/globalAssetId",
    }


def test_json_that_is_not_aas_is_rejected_with_a_pointer():
    env = aas.from_canonical(cn_miit.to_canonical(sample_doc()))
    i = _index(env["submodels"][0], "SerialNumber")
    env["submodels"][0]["submodelElements"][i]["valueType"] = "xs:text"
    found = _violations(env)
    assert list(found) == [f"/submodels/0/submodelElements/{i}/valueType"]


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


def _ids(elements):
    return {e["idShort"]: e["semanticId"]["keys"][0]["value"] for e in elements}


def test_time_series_follows_the_idta_template():
    env = aas.from_canonical(cn_miit.to_canonical(sample_doc()))
    series = next(s for s in env["submodels"] if s["idShort"] == "TimeSeries")
    assert _ids(series["submodelElements"]) == {
        "Metadata": "https://admin-shell.io/idta/TimeSeries/Metadata/1/1",
        "Segments": "https://admin-shell.io/idta/TimeSeries/Segments/1/1",
    }
    metadata = series["submodelElements"][0]["value"]
    assert _ids(metadata)["Record"] == "https://admin-shell.io/idta/TimeSeries/Record/1/1"
    [segment] = series["submodelElements"][1]["value"]
    [records] = segment["value"]
    assert records["value"], "the sample has a condition history"
    for record in records["value"]:
        assert _ids([record]) == {
            record["idShort"]: "https://admin-shell.io/idta/TimeSeries/Record/1/1"
        }
        # The Metadata's Record names exactly the variables each Record holds.
        assert set(_ids(record["value"])) <= set(_ids(metadata[1]["value"]))
        assert _ids(record["value"]).items() <= _ids(metadata[1]["value"]).items()


def test_technical_data_has_the_general_information_of_the_template():
    passport = cn_miit.to_canonical(sample_doc())
    env = aas.from_canonical(passport)
    technical = next(s for s in env["submodels"] if s["idShort"] == "TechnicalData")
    general = technical["submodelElements"][0]
    assert _ids([general]) == {"GeneralInformation": "0173-1#02-ABK161#002/0173-1#01-AHX838#002"}
    values = {e["idShort"]: e["value"] for e in general["value"]}
    assert values["ManufacturerName"] == passport.manufacturer.name
    assert values["ManufacturerProductDesignation"] == [
        {"language": "en", "text": passport.model.designation}
    ]


def test_template_only_elements_are_not_needed_to_read_a_document():
    passport = cn_miit.to_canonical(sample_doc())
    env = aas.from_canonical(passport)
    for submodel in env["submodels"]:
        submodel["submodelElements"] = [
            e
            for e in submodel["submodelElements"]
            if e["idShort"] not in ("Metadata", "GeneralInformation", "AddressInformation")
        ]
    assert aas.to_canonical(env) == passport


def _address(passport):
    env = aas.from_canonical(passport)
    nameplate = next(s for s in env["submodels"] if s["idShort"] == "Nameplate")
    return next(e for e in nameplate["submodelElements"] if e["idShort"] == "AddressInformation")


def test_nameplate_address_follows_the_contact_information_template():
    passport = cn_miit.to_canonical(sample_doc())
    address = _address(passport)
    assert _ids([address]) == {
        "AddressInformation": "https://admin-shell.io/zvei/nameplate/1/0/ContactInformations/AddressInformation"
    }
    assert _ids(address["value"]) == {
        "NationalCode": "0173-1#02-AAO134#002",
        "Email": "0173-1#02-AAQ836#005",
    }
    [email] = address["value"][1]["value"]
    assert email["semanticId"]["keys"][0]["value"] == "0173-1#02-AAO198#002"
    assert email["value"] == passport.manufacturer.contact
    assert address["value"][0]["value"] == [
        {"language": "en", "text": passport.manufacturer.country}
    ]


def test_a_contact_that_is_not_an_email_address_is_not_written_as_one():
    passport = cn_miit.to_canonical(sample_doc())
    passport.manufacturer.contact = "Safety desk, +86 10 1234 5678"
    address = _address(passport)
    assert [e["idShort"] for e in address["value"]] == ["NationalCode"]
    assert aas.to_canonical(aas.from_canonical(passport)) == passport


def test_a_submodel_names_the_paths_its_nested_derived_elements_read():
    assert {"manufacturer.country", "manufacturer.contact"} <= aas.submodel_paths("Nameplate")
    assert {"manufacturer.name", "model.designation"} <= aas.submodel_paths("TechnicalData")
    assert "manufacturer.contact" not in aas.submodel_paths("TimeSeries")
