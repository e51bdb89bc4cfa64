"""Robot.export and Query.translate: adapters reached through GraphQL."""

from __future__ import annotations

import pytest

from adapters import cn_miit
from gateway.service.export import EXPORT_FORMATS, export_document
from schema.events import fold

EXPORT = """query ($code: RobotCode!, $format: PassportFormat!) {
  robot(code: $code) { export(format: $format) } }"""
TRANSLATE = """query ($doc: JSON!, $from: PassportFormat!, $to: PassportFormat!) {
  translate(document: $doc, from: $from, to: $to) {
    output lossless losses { path kind reason count } } }"""
ENUM = {"canonical": "CANONICAL", "cn-miit": "CN_MIIT", "aas": "AAS", "untp-dpp": "UNTP_DPP"}


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_export_is_the_adapters_document(graphql, fleet, fmt):
    passport = fold(fleet[3])
    body = graphql(EXPORT, {"code": passport.code, "format": ENUM[fmt]})
    assert "errors" not in body, body
    assert body["data"]["robot"]["export"] == export_document(passport, fmt)


def test_export_rejects_an_unknown_format(graphql, fleet):
    body = graphql(EXPORT, {"code": fold(fleet[0]).code, "format": "PDF"})
    assert "data" not in body  # a request error: nothing ran, so no data entry
    assert "PassportFormat" in body["errors"][0]["message"]


def test_translate_reports_what_the_target_loses(graphql, fleet):
    doc = cn_miit.from_canonical(fold(max(fleet, key=len)))
    body = graphql(TRANSLATE, {"doc": doc, "from": "CN_MIIT", "to": "UNTP_DPP"})
    assert "errors" not in body, body
    result = body["data"]["translate"]
    assert result["output"]["type"] == ["DigitalProductPassport", "VerifiableCredential"]
    assert not result["lossless"]
    dropped = {loss["path"] for loss in result["losses"] if loss["kind"] == "DROPPED"}
    assert "maintenance" in {p.split(".")[0] for p in dropped}


def test_translate_round_trip_through_canonical_is_lossless(graphql, fleet):
    doc = cn_miit.from_canonical(fold(fleet[5]))
    body = graphql(TRANSLATE, {"doc": doc, "from": "CN_MIIT", "to": "CANONICAL"})
    assert body["data"]["translate"]["lossless"] is True


def test_translate_lists_every_violation_and_no_output(graphql, fleet):
    doc = cn_miit.from_canonical(fold(fleet[0]))
    del doc["rbt_code"]
    doc["extra_field"] = 1
    body = graphql(TRANSLATE, {"doc": doc, "from": "CN_MIIT", "to": "AAS"})
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "INVALID_DOCUMENT"
    assert error["extensions"]["format"] == "cn-miit"
    pointers = [v["pointer"] for v in error["extensions"]["violations"]]
    assert len(pointers) >= 2 and all(p.startswith("/") for p in pointers)
