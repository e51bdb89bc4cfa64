"""`robopass translate --mapping`: documents read and written through mapping documents.

A document into canonical is how another country's registry is read (issue 18, item 1):
the Nordic sample record becomes a canonical passport and, through the built-in adapters,
an AAS environment, which the AAS adapter reads back to the same passport. A document from
canonical writes its own format from a record of a built-in format. Each refusal names
what was wrong and writes nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator

from adapters.translate import translate
from gateway.cli.main import main
from tests.support.paths import ROOT

SAMPLES = ROOT / "samples"
MAPPINGS = SAMPLES / "mappings"
NORDIC = MAPPINGS / "nordic-register.mapping.yaml"
FJORD = MAPPINGS / "records" / "fjord-arm.nordic-register.json"
CARD = MAPPINGS / "robot-card.mapping.yaml"
LEAP_DAY = SAMPLES / "edge" / "leap-day.cn-miit.json"


def _translate(capsys, *args: str | Path) -> tuple[int, str, str]:
    code = main(["translate", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _copy(tmp_path: Path, mapping: Path) -> Path:
    for file in MAPPINGS.glob("*.json"):
        shutil.copy(file, tmp_path / file.name)
    shutil.copy(mapping, tmp_path / mapping.name)
    return tmp_path / mapping.name


def test_a_foreign_record_is_read_into_canonical_and_on_into_aas(tmp_path, capsys):
    record = orjson.loads(FJORD.read_bytes())
    code, out, err = _translate(capsys, "--mapping", NORDIC, FJORD)
    assert code == 0, err
    passport = orjson.loads(out)
    assert passport["identity"]["code"] == record["registerNo"]
    assert passport["identity"]["registered_at"] == "2025-03-05T08:30:00Z"  # +01:00 in UTC
    assert [o["owner"] for o in passport["ownership"]] == [o["name"] for o in record["owners"]]
    assert "nordic-register -> canonical: 1 translated, 0 failed" in err
    assert "lossy     identity.registered_at" in err
    assert "defaulted hardware.battery.chemistry" in err

    out_file = tmp_path / "fjord.aas.json"
    code, _, err = _translate(capsys, "--mapping", NORDIC, "--to", "aas", FJORD, "-o", out_file)
    assert code == 0, err
    environment = orjson.loads(out_file.read_bytes())
    # the AAS adapter (which validates it) reads back the passport the mapping made
    assert translate(environment, "aas", "canonical").output == passport


def test_a_mapping_from_canonical_writes_its_format_from_a_registry_record(capsys):
    code, out, err = _translate(capsys, "--mapping", CARD, "--from", "cn-miit", LEAP_DAY)
    assert code == 0, err
    card = orjson.loads(out)
    schema = orjson.loads((MAPPINGS / "robot-card.schema.json").read_bytes())
    assert list(Draft202012Validator(schema).iter_errors(card)) == []
    assert (card["robotId"], card["massKg"]) == ("CNK7T2H200012402292000000229H", 48)
    assert "cn-miit -> robot-card: 1 translated" in err
    assert "lossy     hardware.mass_kg" in err and "rounded to whole kilograms" in err
    assert "dropped   model.category" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mapping", CARD, "--to", "aas", LEAP_DAY], "writes robot-card documents, not aas"),
        (["--mapping", NORDIC, "--from", "cn-miit", FJORD], "reads nordic-register documents"),
        (["--mapping", NORDIC, "--to", "gs1", FJORD], "unknown format 'gs1'"),
        (["--mapping", MAPPINGS / "none.mapping.yaml", FJORD], "cannot read mapping document"),
        ([LEAP_DAY], "give --from and --to, or --mapping"),
    ],
)
def test_a_wrong_choice_is_a_usage_error(capsys, args, message):
    code, out, err = _translate(capsys, *args)
    assert (code, out) == (2, "")
    assert message in err


def test_a_record_of_another_format_is_refused_against_the_source_schema(tmp_path, capsys):
    out_file = tmp_path / "out.json"
    code, _, err = _translate(capsys, "--mapping", NORDIC, LEAP_DAY, "-o", out_file)
    assert code == 1
    assert "invalid input" in err and "'registerNo' is a required property" in err
    assert not out_file.exists()


def test_rules_giving_no_passport_are_refused_with_the_pointer(tmp_path, capsys):
    mapping = _copy(tmp_path, NORDIC)
    text = mapping.read_text("utf-8")
    mapping.write_text(text.replace('"in-use": "ACTIVE"', '"in-use": "IN_USE"'), "utf-8")
    code, out, err = _translate(capsys, "--mapping", mapping, FJORD)
    assert (code, out) == (1, "")
    assert "invalid output as canonical (as the mapping nordic-register wrote it)" in err
    assert "/identity/status" in err


def test_a_failing_rule_is_named_with_its_line_and_a_bad_document_is_refused(tmp_path, capsys):
    mapping = _copy(tmp_path, CARD)
    lines = mapping.read_text("utf-8").splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.strip() == "- name: serial")
    endless = "'($f := function($n){$n > 1e15 ? 0 : $f($n + 1)}; $f(0))'"
    mapping.write_text(
        mapping.read_text("utf-8").replace(
            "expression: model.serial\n", f"expression: {endless}\n"
        ),
        "utf-8",
    )
    code, out, err = _translate(capsys, "--mapping", mapping, "--from", "cn-miit", LEAP_DAY)
    assert (code, out) == (1, "")
    assert f"rule 'serial' (line {line}): stopped: took longer than" in err

    mapping.write_text(
        mapping.read_text("utf-8").replace(endless, "model.serail"),
        "utf-8",
    )
    code, out, err = _translate(capsys, "--mapping", mapping, "--from", "cn-miit", LEAP_DAY)
    assert (code, out) == (2, "")
    assert f"rule 'serial', line {line}: the expression reads 'serail'" in err
    assert "robopass mapping test" in err
