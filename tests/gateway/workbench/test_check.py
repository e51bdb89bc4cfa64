"""`robopass mapping check`: every golden sample passes; broken mappings and inputs fail."""

from __future__ import annotations

import copy
import dataclasses
import json
import sys

import orjson
import pytest

import adapters.translate as translation
from adapters.translate import FORMATS, Report
from gateway.cli.main import main
from gateway.workbench.check import check_sample
from gateway.workbench.checkers import CheckStatus, aas_core, basyx_strict, checkers_for
from tests.support.cli_process import SAMPLES, robopass
from tests.support.reference import reference_file
from tests.support.samples import sample_doc


@pytest.mark.process
@pytest.mark.parametrize(
    ("source", "target"),
    [("cn-miit", "aas"), ("cn-miit", "untp-dpp"), ("aas", "cn-miit"), ("untp-dpp", "aas")],
)
def test_every_sample_passes(source, target):
    if "untp-dpp" in (source, target):
        reference_file("untp/untp-dpp-0.6.1.schema.json")  # skips on a fresh clone
    proc = robopass(
        "mapping", "check", "--from", source, "--to", target, str(SAMPLES), "--report", "json"
    )
    body = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stdout.decode()
    assert len(body["samples"]) == 8
    assert {s["verdict"] for s in body["samples"]} == {"PASS"}
    for sample in body["samples"]:
        assert {c["status"] for c in sample["output"]} == {"PASSED"}, sample["sample"]
        assert sample["unexpected"] == [] and sample["back"]["status"] == "PASSED"


@pytest.mark.process
def test_untp_losses_are_expected_and_named():
    proc = robopass(
        "mapping", "check", "--from", "cn-miit", "--to", "untp-dpp", "--report", "json",
        str(SAMPLES / "edge" / "cross-border-owner.cn-miit.json"),
    )  # fmt: skip
    assert proc.returncode == 0
    (sample,) = json.loads(proc.stdout)["samples"]
    lost = {d["location"]: d for d in sample["expected_loss"]}
    assert lost["/ownership/1/jurisdiction"]["before"] == "DE"
    assert lost["/ownership/1/jurisdiction"]["after"] is None
    assert lost["/identity/status"]["before"] == "DECOMMISSIONED"
    assert lost["/identity/status"]["after"] == "ACTIVE"
    assert lost["/identity/status"]["reason"].startswith("UNMAPPED in untp-dpp")
    assert "/model/serial" not in lost


@pytest.mark.process
def test_text_and_markdown_reports(tmp_path):
    out = tmp_path / "report.md"
    args = ["mapping", "check", "--from", "cn-miit", "--to", "aas", str(SAMPLES / "edge")]
    text = robopass(*args)
    assert text.returncode == 0
    lines = text.stdout.decode().splitlines()
    assert lines[0] == "mapping check cn-miit -> aas: 5 samples, 5 passed, 0 failed"
    assert any("leap-day.cn-miit.json" in x and x.endswith("identical   PASS") for x in lines)
    assert "Coverage matrix (canonical fields x formats):" in lines
    md = robopass(*args, "--report", "markdown", "-o", str(out))
    assert md.returncode == 0 and md.stdout == b""
    markdown = out.read_text()
    assert markdown.startswith("# mapping check cn-miit -> aas: 5 samples")
    assert "| identity.status | lossless | lossless | unmapped |" in markdown
    assert "| (unmapped fields) | 0 | 0 | 51 |" in markdown  # + owner_id, operator_id


@pytest.mark.process
def test_invalid_and_unreadable_samples_fail(tmp_path):
    bad = sample_doc()
    bad["incident_recs"][0]["level"] = 5
    (tmp_path / "bad.cn-miit.json").write_bytes(orjson.dumps(bad))
    (tmp_path / "torn.cn-miit.json").write_text('{"rbt_code": "CN')
    (tmp_path / "good.cn-miit.json").write_bytes(orjson.dumps(sample_doc()))
    proc = robopass(
        "mapping", "check", "--from", "cn-miit", "--to", "aas", str(tmp_path), "--report", "json"
    )
    assert proc.returncode == 1
    samples = {s["sample"].rsplit("/", 1)[1]: s for s in json.loads(proc.stdout)["samples"]}
    assert samples["good.cn-miit.json"]["verdict"] == "PASS"
    bad_input = samples["bad.cn-miit.json"]["input"]
    assert bad_input["status"] == "FAILED"
    assert [v["pointer"] for v in bad_input["violations"]] == ["/incident_recs/0/level"]
    assert samples["bad.cn-miit.json"]["output"] == []
    assert "not valid JSON" in samples["torn.cn-miit.json"]["failures"][0] or any(
        "not valid JSON" in v["message"]
        for v in samples["torn.cn-miit.json"]["input"]["violations"]
    )


@pytest.mark.process
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--from", "cn-miit", "--to", "xml", "s.json"],
            "unknown format 'xml'; known: aas, canonical",
        ),
        (["--from", "cn-miit", "--to", "aas", "missing.json"], "cannot read missing.json"),
        (["--from", "cn-miit", "--to", "aas", "."], "no *.cn-miit.json samples under ."),
        (["--from", "cn-miit", "--to", "aas", "empty.ndjson"], "the samples hold no documents"),
        (["--from", "cn-miit", "--to", "aas", "empty.ndjson", "-o", "no/dir/r.txt"], "no such dir"),
    ],
)
def test_usage_errors_exit_2(tmp_path, args, message):
    (tmp_path / "empty.ndjson").write_text("\n")
    proc = robopass("mapping", "check", *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr


def _quiet_border_change(plain):
    """Claims to keep every field, yet moves the second owner to China."""
    out = copy.deepcopy(plain)
    out["ownership"][1]["jurisdiction"] = "CN"
    return out


@pytest.fixture
def leaky(monkeypatch):
    fmt = dataclasses.replace(FORMATS["canonical"], name="leaky", encode=_quiet_border_change)
    monkeypatch.setitem(FORMATS, "leaky", fmt)


def test_an_unpredicted_change_fails_the_sample(leaky, tmp_path, capsys):
    result = check_sample("s", sample_doc(), "cn-miit", "leaky", checkers_for("leaky", None))
    assert not result.passed
    (diff,) = result.unexpected
    assert (diff.location, diff.path) == ("/ownership/1/jurisdiction", "ownership.jurisdiction")
    assert (diff.before, diff.after) == ("DE", "CN")
    assert result.failures == ["1 unexpected difference(s) after the round trip"]

    sample = tmp_path / "s.cn-miit.json"
    sample.write_bytes(orjson.dumps(sample_doc()))
    assert main(["mapping", "check", "--from", "cn-miit", "--to", "leaky", str(sample)]) == 1
    out = capsys.readouterr().out
    assert "1 UNEXPECTED" in out
    assert 'unexpected /ownership/1/jurisdiction (ownership.jurisdiction): "DE" -> "CN"' in out


def test_a_loss_the_report_does_not_name_fails(monkeypatch):
    def silent(plain, source, target):
        return Report(source.name, target.name)

    monkeypatch.setattr(translation, "loss_report", silent)
    result = check_sample("s", sample_doc(), "cn-miit", "untp-dpp", checkers_for("untp-dpp", None))
    assert "ownership.owner" in result.unreported
    assert not result.passed


def test_a_lossy_change_the_table_predicts_passes():
    canonical = translation.translate(sample_doc(), "cn-miit", "canonical").output
    canonical["conditions"][0]["battery_health_pct"] = 92.6
    result = check_sample("s", canonical, "canonical", "cn-miit", checkers_for("cn-miit", None))
    assert result.passed, result.failures
    (diff,) = result.expected_loss
    assert (diff.before, diff.after) == (92.6, 93)
    assert diff.reason.startswith("LOSSY in cn-miit")


def test_without_basyx_or_the_official_schema_the_report_says_not_checked(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "basyx.aas.adapter.json", None)
    assert basyx_strict({}).status is CheckStatus.NOT_CHECKED
    untp_checks = [c({}) for c in checkers_for("untp-dpp", None)]
    assert untp_checks[0].status is CheckStatus.NOT_CHECKED
    assert "--reference" in untp_checks[0].note
    assert "published by UN/CEFACT" in untp_checks[0].note  # where to get it
    assert "ROBOPASS_REFERENCE=DIR" in untp_checks[0].note  # and how to point robopass at it
    assert untp_checks[1].status is CheckStatus.FAILED

    sample = SAMPLES / "edge" / "empty-history.cn-miit.json"
    assert main(["mapping", "check", "--from", "cn-miit", "--to", "aas", str(sample)]) == 0
    out = capsys.readouterr().out
    assert "basyx strict load: not checked: basyx-python-sdk is not installed" in out


def test_independent_aas_checkers_catch_a_broken_environment():
    env = json.loads((SAMPLES / "edge" / "empty-history.aas.json").read_text())
    env["submodels"][0]["idShort"] = "bad idShort"
    env["assetAdministrationShells"][0]["assetInformation"]["assetKind"] = "Robot"
    core = aas_core(env)
    assert core.status is CheckStatus.FAILED
    assert core.violations[0].pointer == "/assetAdministrationShells/0/assetInformation/assetKind"
    assert basyx_strict(env).status is CheckStatus.FAILED
    env["assetAdministrationShells"][0]["assetInformation"]["assetKind"] = "Instance"
    core = aas_core(env)
    assert [v.pointer for v in core.violations] == ["/submodels/0/idShort"]


def test_an_ndjson_file_holds_one_sample_per_line(tmp_path, capsys):
    bad = sample_doc()
    bad["owner_recs"][1]["country"] = "Germany"
    batch = tmp_path / "batch.cn-miit.ndjson"
    batch.write_bytes(orjson.dumps(sample_doc()) + b"\n" + orjson.dumps(bad) + b"\n")
    args = ["mapping", "check", "--from", "cn-miit", "--to", "aas", str(tmp_path)]
    assert main([*args, "--report", "json"]) == 1
    samples = json.loads(capsys.readouterr().out)["samples"]
    assert [(s["sample"], s["verdict"]) for s in samples] == [
        (f"{batch}:1", "PASS"),
        (f"{batch}:2", "FAIL"),
    ]
    assert samples[1]["input"]["violations"][0]["pointer"] == "/owner_recs/1/country"
