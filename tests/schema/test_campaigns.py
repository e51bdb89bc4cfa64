"""Campaign rules as pure functions: the selector over code segments, the checks, a robot's
state as the deadline passes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from schema.campaigns import (
    Campaign,
    CampaignKind,
    Issuer,
    MandateTerms,
    RecallTerms,
    RobotState,
    Selector,
    check_campaign,
    code_matches,
    shown_state,
    version_below,
)
from schema.code import RobotCode
from schema.passport import Severity
from schema.writes import WriteRejected

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def code(made: date = date(2026, 3, 14), plant: str = "3", sequence: int = 1234) -> str:
    return RobotCode.generate("CN", "H7K2", "H0A1B3", made, plant, sequence).value


def recall(selector: Selector, **change) -> Campaign:
    base = Campaign(
        "CN-RC-1",
        CampaignKind.RECALL,
        Issuer("uscc:91320506MA7B2N5EXE", "manufacturer", "CN"),
        "GB/T 1",
        "Knee",
        NOW,
        selector,
        recall=RecallTerms("knee may lock", Severity.SERIOUS, "replace it"),
    )
    return dataclasses.replace(base, **change)


def refusal(campaign: Campaign) -> tuple[str | None, str | None]:
    with pytest.raises(WriteRejected) as caught:
        check_campaign(campaign, NOW)
    return caught.value.rule, caught.value.field


def test_code_segments_select_by_date_plant_and_sequence_range():
    s = Selector(
        manufacturer_code="H7K2",
        produced_from=date(2026, 3, 1),
        produced_until=date(2026, 3, 31),
        plant="3",
        sequence_from="000001000",
        sequence_until="000001999",
    )
    assert code_matches(s, code())
    assert not code_matches(s, code(made=date(2026, 4, 1)))
    assert not code_matches(s, code(made=date(2026, 2, 28)))
    assert not code_matches(s, code(plant="4"))
    assert not code_matches(s, code(sequence=999))
    assert not code_matches(s, code(sequence=2000))
    assert code_matches(s, code(sequence=1999)) and code_matches(s, code(sequence=1000))
    assert not code_matches(dataclasses.replace(s, manufacturer_code="H7K3"), code())
    assert not code_matches(Selector(registry_country="DE"), code())


def test_an_empty_selector_is_refused_unless_all_is_said():
    assert refusal(recall(Selector())) == ("selector.empty", "selector")
    check_campaign(recall(Selector(all=True)), NOW)
    assert refusal(recall(Selector(all=True, plant="3"))) == ("selector.all", "selector.all")


@pytest.mark.parametrize(
    ("selector", "field"),
    [
        (Selector(manufacturer_code="H7K"), "selector.manufacturerCode"),
        (Selector(plant="O"), "selector.plant"),
        (Selector(owner_countries=["XX"]), "selector.ownerCountries[0]"),
        (Selector(manufacturer_id="acme"), "selector.manufacturerId"),
        (
            Selector(produced_from=date(2026, 5, 1), produced_until=date(2026, 4, 1)),
            "selector.producedFrom",
        ),
    ],
)
def test_a_bad_criterion_names_its_field(selector, field):
    assert refusal(recall(selector))[1] == field


def test_deadlines_terms_and_ids():
    yesterday = (NOW - timedelta(days=1)).date()
    assert refusal(recall(Selector(plant="3"), deadline=yesterday)) == ("deadline.past", "deadline")
    check_campaign(recall(Selector(plant="3"), deadline=NOW.date()), NOW)  # today still counts
    mandate = recall(Selector(plant="3"), kind=CampaignKind.MANDATED_UPDATE, recall=None)
    assert refusal(mandate) == ("campaign.terms", "mandate")
    mandate = dataclasses.replace(mandate, mandate=MandateTerms("2.0"))
    assert refusal(mandate) == ("required", "deadline")
    assert refusal(recall(Selector(plant="3"), id="a b")) == ("campaign.id", "id")
    assert refusal(recall(Selector(plant="3"), mandate=MandateTerms("1"))) == (
        "campaign.terms",
        "mandate",
    )


def test_versions_compare_by_number_not_text():
    assert version_below("1.9.0", "1.10.0")
    assert not version_below("1.10.0", "1.9.0")
    assert not version_below("2.0", "2.0")
    assert version_below("26.1", "26.2")


def test_pending_turns_overdue_after_the_deadline_day():
    c = recall(Selector(plant="3"), deadline=date(2026, 12, 10))
    assert shown_state(c, RobotState.PENDING, datetime(2026, 12, 10, 23, 0, tzinfo=UTC)) is (
        RobotState.PENDING
    )
    assert shown_state(c, RobotState.PENDING, datetime(2026, 12, 11, 0, 0, tzinfo=UTC)) is (
        RobotState.OVERDUE
    )
    late = datetime(2027, 1, 1, tzinfo=UTC)
    assert shown_state(c, RobotState.REMEDIED, late) is RobotState.REMEDIED
    assert shown_state(recall(Selector(plant="3")), RobotState.PENDING, late) is RobotState.PENDING
