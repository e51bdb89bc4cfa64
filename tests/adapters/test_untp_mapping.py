"""The UNTP DPP adapter re-expressed as a mapping document gives the adapter's output.

Over the golden samples and passports from the tests' hypothesis strategy; equality is of
JSON values (docs/formats/mapping-documents.md lists the textual differences).
"""

from __future__ import annotations

from functools import cache

import orjson
from hypothesis import HealthCheck, given, settings

from adapters import untp
from adapters.mapcheck import check
from adapters.mapdoc import parse
from adapters.mapengine import Program
from adapters.translate import translate
from schema.codec import to_plain
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
