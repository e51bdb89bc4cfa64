"""The history report puts open recalls and unmet mandated updates first, in both languages."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

from gateway.report.alerts import alerts
from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from schema.events import EventType, RecallRemedy, fold, payload_of
from schema.graphql.objects import EVERYTHING
from schema.passport import MandatedUpdate, Recall
from tests.support.campaigns import Api

HISTORIES = list(synthetic_fleet(10, seed=7))


def section(html: str) -> str | None:
    found = re.search(r'<section id="alerts".*?</section>', html, re.S)
    return found.group(0) if found else None


def test_an_open_recall_is_the_first_thing_in_both_languages_and_goes_once_remedied(tmp_path):
    store = SqliteStore(tmp_path / "r.db")
    try:
        store.import_histories(HISTORIES)
        code = next(c for c in store.codes() if store.passport(c).identity.status.value == "ACTIVE")
        at = datetime.now(UTC) - timedelta(hours=1)
        recall = Recall("SAMR-R-9", at, "Battery may overheat.", None)
        store.append(code, EventType.RECALL_ISSUED, payload_of(EventType.RECALL_ISSUED, recall), at)
        api = Api(store)
        english = api.request("GET", f"/robots/{code}?lang=en", None).text
        chinese = api.request("GET", f"/robots/{code}?lang=zh", None).text
        for html, words in ((english, "not remedied"), (chinese, "尚未整改")):
            alert = section(html)
            assert alert and "SAMR-R-9" in alert and words in alert
            assert html.index('id="alerts"') < html.index('id="identity"'), "before anything else"
        remedy = payload_of(EventType.RECALL_REMEDIED, RecallRemedy("SAMR-R-9", at))
        store.append(code, EventType.RECALL_REMEDIED, remedy, at)
        assert "SAMR-R-9" not in (section(api.request("GET", f"/robots/{code}", None).text) or "")
    finally:
        store.close()


def test_a_mandate_is_open_until_the_firmware_reaches_it_and_overdue_after_its_day():
    passport = fold(HISTORIES[0])
    due = datetime(2027, 1, 31, tzinfo=UTC).date()
    passport.compliance.mandated_updates.append(MandatedUpdate("MU-1", "999.0", due))
    (open_,) = [m for m in alerts(passport, EVERYTHING, due).mandates if m.reference == "MU-1"]
    assert not open_.overdue
    (late,) = [
        m
        for m in alerts(passport, EVERYTHING, due + timedelta(days=1)).mandates
        if m.reference == "MU-1"
    ]
    assert late.overdue
    passport.software = dataclasses.replace(passport.software, firmware_version="999.0")
    assert not [m for m in alerts(passport, EVERYTHING, due).mandates if m.reference == "MU-1"]
    hidden = alerts(passport, {"compliance.recalls"}, due)
    assert hidden.recalls.path == "compliance.recalls.reference" and hidden.any
