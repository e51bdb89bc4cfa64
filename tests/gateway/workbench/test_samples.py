"""Golden samples: the adapters' output must not drift from the files in samples/."""

from __future__ import annotations

import json
import shutil

import pytest

from adapters.mapping import values_at
from adapters.translate import translate
from gateway.workbench.samples import GOLDEN_TARGETS, golden_path, inputs
from tests.support.cli_process import SAMPLES, robopass

REGENERATE = "adapter output drifted from the golden file; if intended, run: " + (
    "robopass mapping samples --out samples/ and review the diff"
)
EDGE = SAMPLES / "edge"


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _field(sample: str, target: str, *path):
    node = _load(EDGE / f"{sample}.{target}.json")
    for key in path:
        node = node[key]
    return node


def _aas_value(sample: str, submodel: str, id_short: str):
    env = _load(EDGE / f"{sample}.aas.json")
    (sm,) = (s for s in env["submodels"] if s["idShort"] == submodel)
    (element,) = (e for e in sm["submodelElements"] if e["idShort"] == id_short)
    return element["value"]


@pytest.mark.parametrize("sample", list(inputs(SAMPLES)), ids=lambda p: p.name)
def test_golden_files_match_the_adapters(sample):
    doc = _load(sample)
    for target in GOLDEN_TARGETS:
        expected = _load(golden_path(sample, target))
        assert translate(doc, "cn-miit", target).output == expected, f"{target}: {REGENERATE}"


def test_samples_cover_the_fleet_and_the_edge_cases():
    names = {p.name.removesuffix(".cn-miit.json") for p in inputs(SAMPLES)}
    assert names == {
        "robot-00", "robot-03", "robot-09", "chinese-text", "cross-border-owner",
        "empty-history", "leap-day", "midnight-utc-date",
    }  # fmt: skip


@pytest.mark.process
def test_regeneration_is_a_no_op():
    proc = robopass("mapping", "samples", "--out", str(SAMPLES), "--check")
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr


@pytest.mark.process
def test_regenerate_into_a_new_folder_then_detect_changes(tmp_path):
    out = tmp_path / "samples"
    (out / "edge").mkdir(parents=True)
    shutil.copy(EDGE / "leap-day.cn-miit.json", out / "edge")
    proc = robopass("mapping", "samples", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().strip() == f"11 sample files under {out}: 11 written, 0 removed"
    for name in ("fleet/robot-00.cn-miit.json", "fleet/robot-09.untp-dpp.json",
                 "edge/leap-day.aas.json"):  # fmt: skip
        assert (out / name).read_bytes() == (SAMPLES / name).read_bytes(), name

    (out / "edge" / "leap-day.aas.json").write_text("{}")
    (out / "fleet" / "robot-99.cn-miit.json").write_text("{}")
    (out / "edge" / "gone.untp-dpp.json").write_text("{}")
    check = robopass("mapping", "samples", "--out", str(out), "--check")
    assert check.returncode == 1
    lines = check.stdout.decode().splitlines()
    assert f"out of date: {out / 'edge' / 'leap-day.aas.json'}" in lines
    assert f"not generated any more: {out / 'fleet' / 'robot-99.cn-miit.json'}" in lines
    assert f"not generated any more: {out / 'edge' / 'gone.untp-dpp.json'}" in lines
    again = robopass("mapping", "samples", "--out", str(out))
    assert again.stdout.decode().strip().endswith("1 written, 2 removed")
    assert not (out / "fleet" / "robot-99.cn-miit.json").exists()
    assert not (out / "edge" / "gone.untp-dpp.json").exists()


@pytest.mark.process
def test_an_invalid_hand_written_sample_is_named(tmp_path):
    (tmp_path / "edge").mkdir()
    doc = _load(EDGE / "leap-day.cn-miit.json")
    doc["model"]["prod_date"] = "2025-02-29"
    bad = tmp_path / "edge" / "not-a-leap-year.cn-miit.json"
    bad.write_text(json.dumps(doc))
    proc = robopass("mapping", "samples", "--out", str(tmp_path))
    assert proc.returncode == 1
    assert f"{bad}: invalid cn-miit document, 1 violation(s)" in proc.stderr
    assert "/model/prod_date" in proc.stderr
    assert not (tmp_path / "fleet").exists()


def test_beijing_midnight_falls_on_the_previous_utc_day():
    assert _field("midnight-utc-date", "untp-dpp", "validFrom") == "2025-12-31T16:00:00Z"
    assert _aas_value("midnight-utc-date", "Registration", "RegisteredAt") == "2025-12-31T16:00:00Z"
    canonical = translate(_load(EDGE / "midnight-utc-date.cn-miit.json"), "cn-miit", "canonical")
    plain = canonical.output
    assert plain["deployments"][0]["start"] == "2025-12-31T23:59:59Z"
    assert plain["deployments"][0]["end"] == "2026-03-01T00:00:00Z"
    assert plain["maintenance"][0]["at"] == "2026-02-28T16:00:01Z"
    assert plain["model"]["production_date"] == "2025-12-31", "a date has no time zone"


def test_leap_day_survives_every_format():
    assert _aas_value("leap-day", "Nameplate", "DateOfManufacture") == "2024-02-29"
    assert _aas_value("leap-day", "Registration", "RegisteredAt") == "2024-02-29T16:30:00Z"
    assert _field("leap-day", "untp-dpp", "credentialSubject", "product", "productionDate") == (
        "2024-02-29"
    )


def test_chinese_text_is_kept_as_text():
    names = _aas_value("chinese-text", "Nameplate", "ManufacturerName")
    assert [n["text"] for n in names] == ["杭州云深处智能科技有限公司"]
    raw = (EDGE / "chinese-text.untp-dpp.json").read_text(encoding="utf-8")
    assert "具身大模型「云深」" in raw and "\\u" not in raw


def test_empty_history_stays_empty():
    env = _load(EDGE / "empty-history.aas.json")
    assert "[]" not in json.dumps(env), "AAS forbids empty arrays"
    back = translate(env, "aas", "canonical").output
    for history in ("deployments", "maintenance", "incidents", "conditions", "ownership"):
        assert back[history] == []


def test_cross_border_owners_are_kept_by_aas_and_reported_lost_by_untp():
    doc = _load(EDGE / "cross-border-owner.cn-miit.json")
    back = translate(_load(EDGE / "cross-border-owner.aas.json"), "aas", "canonical").output
    assert list(values_at(back, "ownership.jurisdiction")) == ["CN", "DE", "DE"]
    report = translate(doc, "cn-miit", "untp-dpp").report
    dropped = {loss.path: loss.count for loss in report.dropped}
    assert dropped["ownership.jurisdiction"] == 3
    assert dropped["identity.status"] == 1
