"""The UNTP DPP adapter re-expressed as a mapping document gives the adapter's output.

Over the golden samples and passports from the tests' hypothesis strategy, whole and under
every mask a party can be given (every set of data classes), in process and on the JSON
path the capped workers take; equality is of JSON values (docs/formats/mapping-documents.md
lists the textual differences).
"""

from __future__ import annotations

import itertools
from functools import cache

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import untp
from adapters.mapcheck import check
from adapters.mapdoc import parse
from adapters.mapengine import Program
from adapters.translate import translate
from policies.mask import mask_for, redact
from schema.codec import to_plain
from schema.passport import DataClass
from tests.support.paths import ROOT
from tests.support.strategies import passports

DOCUMENT = ROOT / "samples" / "mappings" / "untp" / "untp-dpp.mapping.yaml"


@cache
def program() -> Program:
    doc = parse(DOCUMENT.read_text("utf-8"), str(DOCUMENT))
    assert doc.target_schema is not None
    schema = orjson.loads((DOCUMENT.parent / doc.target_schema).read_bytes())
    return check(doc, schema).forward


def test_equal_to_the_adapter_on_every_golden_sample():
    samples = sorted((ROOT / "samples").glob("*/*.cn-miit.json"))
    assert len(samples) >= 8
    for path in samples:
        plain = translate(orjson.loads(path.read_bytes()), "cn-miit", "canonical").output
        assert program().run(plain) == untp.encode(plain), path.name


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(passports())
def test_equal_to_the_adapter_on_generated_passports(passport):
    plain = to_plain(passport)
    assert program().run(plain) == untp.encode(plain)


MASKS = [
    mask_for(frozenset(combo))
    for size in range(len(DataClass) + 1)
    for combo in itertools.combinations(DataClass, size)
]


def _both_ways(plain) -> None:
    expected = untp.encode(plain)
    assert program().run(plain) == expected
    assert orjson.loads(program().run_json(orjson.dumps(plain).decode())) == expected


def test_equal_to_the_adapter_on_every_golden_sample_under_every_mask():
    samples = sorted((ROOT / "samples").glob("*/*.cn-miit.json"))
    for path in samples:
        plain = translate(orjson.loads(path.read_bytes()), "cn-miit", "canonical").output
        for mask in MASKS:
            _both_ways(redact(plain, mask))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(passports(), st.sampled_from(MASKS))
def test_equal_to_the_adapter_on_generated_passports_under_any_mask(passport, mask):
    _both_ways(redact(to_plain(passport), mask))
