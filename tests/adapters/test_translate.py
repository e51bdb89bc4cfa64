import pytest

from adapters.errors import InvalidDocument
from adapters.mapping import Status, missing_paths, table
from adapters.translate import FORMATS, LossKind, coverage_matrix, translate
from schema.fields import leaf_paths
from tests.support.samples import sample_doc


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_canonical_leaf_is_in_every_table(name):
    rules = FORMATS[name].rules
    assert missing_paths(rules) == []
    assert len({r.path for r in rules}) == len(rules), "one rule per path"
    assert {row.path for row in table(rules)} == set(leaf_paths())


def test_coverage_matrix_has_every_path_and_format():
    matrix = coverage_matrix()
    assert set(matrix) == set(leaf_paths())
    assert all(set(row) == set(FORMATS) for row in matrix.values())
    assert matrix["conditions.joint_wear.wear_pct"]["cn-miit"] is Status.LOSSY
    assert matrix["identity.code"]["canonical"] is Status.LOSSLESS


def test_cn_miit_to_canonical_reports_nothing_lost():
    result = translate(sample_doc(), "cn-miit", "canonical")
    assert result.report.lossless
    assert result.output["identity"]["registered_at"] == "2026-05-27T16:30:00Z"


def test_canonical_to_cn_miit_reports_what_changed():
    canonical = translate(sample_doc(), "cn-miit", "canonical").output
    canonical["conditions"][0]["battery_health_pct"] = 92.6
    canonical["identity"]["registered_at"] = "2026-05-27T16:30:00.250000Z"
    report = translate(canonical, "canonical", "cn-miit").report
    lossy = {loss.path: loss for loss in report.lossy}
    assert set(lossy) == {"conditions.battery_health_pct", "identity.registered_at"}
    assert all(loss.kind is LossKind.LOSSY and loss.count == 1 for loss in lossy.values())
    assert "half to even" in lossy["conditions.battery_health_pct"].reason
    assert not report.dropped and not report.defaulted


def test_invalid_input_raises_and_returns_nothing():
    doc = sample_doc()
    doc["rbt_status"] = "ACTIVE"
    doc["mfr"]["country"] = "china"
    with pytest.raises(InvalidDocument) as info:
        translate(doc, "cn-miit", "canonical")
    assert {v.pointer for v in info.value.violations} >= {"/rbt_status", "/mfr/country"}


def test_invalid_canonical_input_names_the_field():
    canonical = translate(sample_doc(), "cn-miit", "canonical").output
    canonical["maintenance"][0]["kind"] = "TUNING"
    with pytest.raises(InvalidDocument) as info:
        translate(canonical, "canonical", "cn-miit")
    assert [v.pointer for v in info.value.violations] == ["/maintenance/0/kind"]


def test_output_that_target_cannot_hold_is_refused():
    canonical = translate(sample_doc(), "cn-miit", "canonical").output
    canonical["manufacturer"]["registration_id"] = "not a USCC"
    with pytest.raises(InvalidDocument) as info:
        translate(canonical, "canonical", "cn-miit")
    assert info.value.format == "cn-miit"
    assert [v.pointer for v in info.value.violations] == ["/mfr/uscc"]


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        translate({}, "xml", "canonical")
