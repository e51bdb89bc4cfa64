"""The canonical diff of `mapping check`, judged against mapping tables."""

from __future__ import annotations

from adapters.mapping import FieldRule, Transform, unmapped
from gateway.workbench.diff import differences

LOSSY = Transform("round", loss="fractions", normalize=round)
TABLES = [
    (
        "fmt",
        {
            "a.x": FieldRule("a.x", "/x", LOSSY),
            "a.y": unmapped("a.y", "no home"),
            "b": FieldRule("b", "/b"),
        },
    )
]


def _diff(before, after):
    found = differences(before, after, TABLES)
    return [(d.location, d.path, d.before, d.after, d.predicted) for d in found]


def test_equal_documents_have_no_differences():
    doc = {"a": [{"x": 1.0, "y": "k"}], "b": True}
    assert _diff(doc, {"b": True, "a": [{"y": "k", "x": 1}]}) == []


def test_lossy_change_is_predicted_only_when_it_is_the_normalized_value():
    before = {"a": [{"x": 92.6}, {"x": 92.6}]}
    after = {"a": [{"x": 93}, {"x": 92}]}
    assert _diff(before, after) == [
        ("/a/0/x", "a.x", 92.6, 93, True),
        ("/a/1/x", "a.x", 92.6, 92, False),
    ]


def test_missing_list_items_and_objects_are_compared_leaf_by_leaf():
    before = {"a": [{"x": 1, "y": "k"}, {"x": 2, "y": None}], "b": None}
    after = {"a": [{"x": 1}], "b": {"c": 1}}
    assert _diff(before, after) == [
        ("/a/0/y", "a.y", "k", None, True),
        ("/a/1/x", "a.x", 2, None, False),
        ("/b/c", "b.c", None, 1, False),
    ]


def test_a_boolean_is_not_the_number_one():
    assert _diff({"b": True}, {"b": 1}) == [("/b", "b", True, 1, False)]


def test_a_change_of_kind_is_reported_where_it_happens():
    assert _diff({"b": {"c": 1}}, {"b": "c"}) == [("/b", "b", {"c": 1}, "c", False)]
