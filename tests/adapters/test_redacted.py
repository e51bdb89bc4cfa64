"""Exports of a passport cut by a visibility mask: every format, every combination of classes.

The mask is applied to canonical plain data before an adapter runs, so each encoder must
take a passport with any subtree or field absent, leave those parts out and never write a
withheld value, nor anything computed from one.
"""

from __future__ import annotations

import itertools
from functools import cache
from typing import Any

import orjson
import pytest

from adapters import aas
from adapters.mapping import values_at
from gateway.service.export import EXPORT_FORMATS, export_document
from gateway.synthetic.fleet import synthetic_fleet
from policies.mask import NOTHING, VisibilityMask, mask_for
from schema.codec import to_plain
from schema.events import fold
from schema.fields import leaf_paths
from schema.passport import DataClass, Passport
from tests.support.samples import _texts

MASKS = [
    mask_for(frozenset(combo))
    for size in range(len(DataClass) + 1)
    for combo in itertools.combinations(DataClass, size)
]
EVERYTHING = mask_for(frozenset(DataClass))


@cache
def passports() -> list[Passport]:
    """Robots with long histories, an incident with findings and a foreign maker among them."""
    cn = list(synthetic_fleet(4, seed=0))
    de = list(synthetic_fleet(7, seed=1, country="DE"))
    return [fold(log) for log in (cn[0], cn[1], cn[3], de[6])]


def test_the_sample_covers_what_masks_hide():
    plains = [to_plain(p) for p in passports()]
    for path in ("incidents.findings", "ownership.owner", "maintenance.performed_by"):
        assert any(v is not None for p in plains for v in values_at(p, path)), path


@cache
def _texts_by_path(index: int) -> dict[str, frozenset[bytes]]:
    plain = to_plain(passports()[index])
    return {
        path: frozenset(text for value in values_at(plain, path) for text in _texts(value))
        for path in leaf_paths()
    }


def _withheld(index: int, mask: VisibilityMask) -> set[bytes]:
    by_path = _texts_by_path(index)
    return set().union(*(by_path[path] for path in mask.denied if path in by_path))


def _bytes(doc: Any) -> bytes:
    return orjson.dumps(doc)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_every_mask_exports_without_a_withheld_value(fmt):
    leaks = []
    for index, passport in enumerate(passports()):
        skeleton = _bytes(export_document(passport, fmt, NOTHING))
        for mask in MASKS:
            visible = _bytes(export_document(passport, "canonical", mask))
            out = _bytes(export_document(passport, fmt, mask))
            needles = _withheld(index, mask)
            leaks += [
                (mask.key, needle)
                for needle in needles
                if needle in out and needle not in visible and needle not in skeleton
            ]
    assert leaks == []


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_the_whole_mask_exports_the_whole_passport(fmt):
    for passport in passports():
        assert export_document(passport, fmt, EVERYTHING) == export_document(passport, fmt)


def test_withheld_parts_are_left_out_not_emptied():
    passport = passports()[0]
    doc = export_document(passport, "cn-miit", mask_for(frozenset({DataClass.PUBLIC})))
    assert "deploy_recs" not in doc and "maint_recs" not in doc and "condition_recs" not in doc
    assert doc["owner_recs"] and all("owner_name" not in r for r in doc["owner_recs"])
    assert "compute" not in doc["hw"] and "contact" not in doc["mfr"]
    assert all("model" not in s for s in doc["hw"]["sensors"])
    empty = export_document(passport, "cn-miit", NOTHING)
    assert empty == {}


def test_aas_without_the_code_names_no_robot():
    passport = passports()[0]
    env = export_document(passport, "aas", mask_for(frozenset({DataClass.MAINTENANCE})))
    assert passport.code.encode() not in _bytes(env)
    shell = env["assetAdministrationShells"][0]
    assert shell["assetInformation"]["globalAssetId"] == f"urn:robopass:robot:{aas.WITHHELD}"
    assert [s["idShort"] for s in env["submodels"]] == ["Maintenance"]


def test_untp_measure_without_its_value_has_no_unit():
    passport = passports()[0]
    credential = export_document(passport, "untp-dpp", mask_for(frozenset({DataClass.PUBLIC})))
    characteristics = credential["credentialSubject"]["product"]["characteristics"]
    assert all("ratedTorque" not in a for a in characteristics["actuators"])
    assert "unit" in credential["credentialSubject"]["product"]["dimensions"]["weight"]
    nothing = export_document(passport, "untp-dpp", NOTHING)
    assert set(nothing) == {"type", "@context", "issuer", "credentialSubject"}
    assert "product" not in nothing["credentialSubject"]


@pytest.mark.parametrize("passport_index", [0, 3])
def test_every_redacted_aas_export_passes_aas_core_verification(passport_index):
    passport = passports()[passport_index]
    for mask in MASKS:
        aas.validate(export_document(passport, "aas", mask))


@pytest.mark.slow
def test_redacted_aas_exports_load_in_basyx_strictly():
    from tests.support.samples import basyx_load

    for mask in MASKS[::7]:
        basyx_load(export_document(passports()[3], "aas", mask))
