"""The report's view model, charts and words, in process: fast and exact."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from gateway.report.charts import line_chart, value_range
from gateway.report.i18n import EN, ZH, choose_language, translator
from gateway.report.model import (
    EXPORT_FORMATS,
    Point,
    Restricted,
    Series,
    build_report,
    decode_segments,
    discloses,
    has_restricted,
)
from policies import mask_for
from schema.code import RobotCategory
from schema.events import EventType, fold
from schema.graphql.objects import EVERYTHING
from schema.passport import (
    DataClass,
    IncidentCategory,
    IncidentStatus,
    MaintenanceKind,
    OwnerKind,
    RobotStatus,
    RootCause,
    Scenario,
    Severity,
)
from schema.source import Head, RobotRecord
from tests.support.paths import ROOT

PUBLIC_MASK = mask_for(frozenset({DataClass.PUBLIC}))
OWNER_MASK = mask_for(frozenset(DataClass) - {DataClass.RESTRICTED})
CODE = "CNH7K2-H0A1B3-260528-1-000012345-A"
TEMPLATES = ROOT / "gateway" / "templates"


def record_of(history) -> RobotRecord:
    passport = fold(history)
    return RobotRecord(passport, Head(history[-1].sequence, history[-1].hash))


def richest(fleet):
    """The robot with the most maintenance, incidents and conditions: the most to hide."""
    return max(fleet, key=lambda h: (len(h), h[0].code))


def test_full_view_summary_counts_the_passport(fleet):
    history = richest(fleet)
    record = record_of(history)
    p = record.passport
    report = build_report(record, history, None, EVERYTHING)
    s = report.summary
    assert s.owners == len(p.ownership)
    assert s.current_owner == p.current_owner.owner
    assert s.maintenance_count == len(p.maintenance) > 0
    assert s.incidents == len(p.incidents)
    assert sum(n for _, n in s.root_causes) == len(p.incidents)
    assert s.battery_health == p.condition.battery_health_pct
    assert s.operating_hours == p.condition.operating_hours
    inspections = [m.at for m in p.maintenance if m.kind is MaintenanceKind.INSPECTION]
    assert s.last_inspection == max(inspections, default=None)
    assert report.version == len(history)
    software = [e for e in report.timeline if e.kind == "software"]
    assert len(software) == sum(e.type is EventType.SOFTWARE_UPDATED for e in history)
    assert [e.at for e in report.timeline] == sorted(e.at for e in report.timeline)
    assert not has_restricted(report)


def test_public_view_carries_no_hidden_value(fleet):
    history = richest(fleet)
    record = record_of(history)
    p = record.passport
    report = build_report(record, history, None, PUBLIC_MASK)
    s = report.summary
    assert s.current_owner == Restricted("ownership.owner")
    assert s.operating_hours == Restricted("conditions")
    assert s.maintenance_count == Restricted("maintenance")
    assert s.incidents == Restricted("incidents")
    assert s.owners == len(p.ownership), "ownership periods and countries are PUBLIC"
    assert s.countries == tuple(dict.fromkeys(o.jurisdiction for o in p.ownership))
    assert {"maintenance", "incidents", "deployments", "software"} <= set(report.hidden)
    assert {e.kind for e in report.timeline} <= {"registered", "ownership", "recall", "end_of_life"}
    assert all(isinstance(c.series, Restricted) for c in report.charts)
    text = repr(report)
    for secret in [o.owner for o in p.ownership] + [m.performed_by for m in p.maintenance]:
        assert secret not in text
    assert has_restricted(report)


def test_owner_view_shows_values_but_not_findings(fleet):
    history = next(h for h in fleet if fold(h).incidents)
    record = record_of(history)
    report = build_report(record, history, None, OWNER_MASK)
    assert report.summary.current_owner == record.passport.current_owner.owner
    incident = next(e for e in report.timeline if e.kind == "incident")
    findings = next(d for d in incident.details if d.label == "findings")
    assert findings.value == Restricted("incidents.findings")
    assert discloses(EventType.SOFTWARE_UPDATED, OWNER_MASK)
    assert not discloses(EventType.INCIDENT_REPORTED, OWNER_MASK), "findings are RESTRICTED"
    assert not discloses(EventType.SOFTWARE_UPDATED, PUBLIC_MASK), "AI models are COMMERCIAL"


def test_charts_have_one_point_per_snapshot(fleet):
    history = richest(fleet)
    record = record_of(history)
    charts = {c.key: c for c in build_report(record, history, None, EVERYTHING).charts}
    snapshots = record.passport.conditions
    assert [p.value for p in charts["battery"].series[0].points] == [
        s.battery_health_pct for s in snapshots
    ]
    worst, mean = charts["wear"].series
    assert len(worst.points) == len(mean.points) == len(snapshots)
    assert all(w.value >= m.value for w, m in zip(worst.points, mean.points, strict=True))
    assert len(charts["precision"].series[0].points) == len(snapshots)


def test_segments_decode_the_code():
    segments = {s.name: s for s in decode_segments(CODE.lower())}
    assert segments["country"].value == "CN"
    assert segments["model"].meaning == "BIPED_HUMANOID"
    assert segments["production_date"].meaning == "2026-05-28"
    assert segments["check"].value == "A"


def points(n: int, start: float = 90.0) -> Series:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return Series("s", tuple(Point(t0 + timedelta(days=i), start - i * 0.5) for i in range(n)))


def test_line_chart_draws_every_point_and_parses_as_svg():
    svg = line_chart("chart-x", [points(37), points(37, 50)], title="T", description="D")
    root = ET.fromstring(str(svg))
    lines = root.findall("polyline")
    assert [len(line.get("points").split()) for line in lines] == [37, 37]
    assert [line.get("data-count") for line in lines] == ["37", "37"]
    assert root.get("role") == "img"
    assert root.find("title").text == "T" and root.find("desc").text == "D"
    assert "http" not in svg
    for line in lines:
        for pair in line.get("points").split():
            x, y = map(float, pair.split(","))
            assert 0 <= x <= 640 and 0 <= y <= 220


def test_line_chart_escapes_text_and_handles_one_point():
    svg = line_chart("c", [points(1)], title="<script>x</script>", description="a & b")
    root = ET.fromstring(str(svg))
    assert root.find("title").text == "<script>x</script>"
    assert "<script>" not in svg
    assert len(root.find("polyline").get("points").split()) == 1


def test_line_chart_rejects_bad_input():
    with pytest.raises(ValueError):
        line_chart("c", [Series("s", ())], title="t", description="d")
    with pytest.raises(ValueError):
        line_chart('c" onload="x', [points(3)], title="t", description="d")
    with pytest.raises(ValueError):
        line_chart("c", [points(3)], title="t", description="d", y_range=(5.0, 5.0))
    with pytest.raises(ValueError):
        value_range([])
    assert value_range([3.0]) == (pytest.approx(2.7), pytest.approx(3.3))


def test_both_languages_have_every_message():
    assert set(EN) == set(ZH)
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"t\('([a-z_.\-]+)'\s*[,)]", template.read_text("utf-8")))
    assert used and used <= set(EN), used - set(EN)
    enums = [
        RobotStatus,
        MaintenanceKind,
        Severity,
        IncidentCategory,
        RootCause,
        IncidentStatus,
        Scenario,
        OwnerKind,
    ]
    assert {f"e.{c.name}" for c in RobotCategory} <= set(EN), "the model segment's meaning"
    for enum in enums:
        for member in enum:
            assert f"e.{member.value}" in EN, member
    for kind in ("registered", "ownership", "deployment", "maintenance", "incident", "software"):
        assert f"kind.{kind}" in EN
    assert {f"fmt.{f}" for f in EXPORT_FORMATS} <= set(EN)
    assert {f"seg.{s.name}" for s in decode_segments(CODE)} <= set(EN)
    assert {"chart.battery", "chart.wear", "chart.precision", "series.max"} <= set(EN)


def test_translator_and_language_choice():
    assert translator("zh")("restricted") == "受限"
    assert translator("xx")("restricted") == "Restricted"
    assert translator("en")("no.such.key") == "no.such.key"
    assert translator("en")("version", version=4) == "Record version 4 (events in the log)"
    assert choose_language("zh", "en", "en") == "zh"
    assert choose_language(None, "zh", "en-GB") == "zh"
    assert choose_language("klingon", None, "zh-CN,zh;q=0.9") == "zh"
    assert choose_language(None, "'; drop", "de-DE, en;q=0.5") == "en"
    assert choose_language(None, None, None) == "en"
