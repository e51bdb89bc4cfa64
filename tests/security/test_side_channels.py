"""Side channels of docs/policies.md: what a caller may see must not give away what it may not.

Each test runs the real app with the demo policies over a seeded registry and
asks as a caller who may not see the value in question.
"""

from __future__ import annotations

from gateway.store import SqliteStore
from policies import AuditLog
from tests.support.audited import Gateway, busy_robot, token

HISTORY = """query ($code: RobotCode!) { robot(code: $code) {
  history(first: 100) { edges { node { sequence type at payload } } } } }"""


def hidden_event_errors(body: dict) -> list[dict]:
    return [e for e in body.get("errors", []) if e["path"][:2] == ["robot", "history"]]


def test_a_hidden_events_error_does_not_name_its_type(store: SqliteStore, tmp_path):
    """The error for a hidden event once named the first hidden path of the event's
    type (`maintenance`, `incidents`, `conditions`...): the hidden type, spelled out."""
    code, _ = busy_robot(store)
    log = AuditLog(tmp_path / "audit.db")
    body = Gateway(store, log).ask(HISTORY, {"code": code})
    errors = hidden_event_errors(body)
    hidden = {e["path"][3] for e in errors}
    types = {e.type for e in store.history(code, 100).items}
    assert len(hidden) > 10 and len(types) > 5, "the robot has hidden events of many types"
    assert {e["extensions"]["field"] for e in errors} == {"history.event"}
    # The message names the field asked for (payload, type, ...) and the caller's next
    # step, the same for every event: never the hidden type.
    messages = {e["message"] for e in errors}
    assert {m.split(" (")[0] for m in messages} == {
        f"Unauthorized field: {e['path'][-1]}" for e in errors
    }
    assert all("it shows history.event" in m for m in messages)
    assert not any(t.value.split("_")[0].lower() in m.lower() for m in messages for t in types)
    # The audit log still records the real paths each hidden event withheld.
    [row] = log.trail(code)
    assert {"maintenance", "incidents", "conditions"} <= set(row.record.denied)
    log.close()


def test_an_event_the_caller_may_see_is_still_shown(store: SqliteStore, tmp_path):
    code, owner = busy_robot(store)
    log = AuditLog(tmp_path / "audit.db")
    owner_id = store.passport(code).current_owner.owner_id  # the owner is related by its id
    bearer = token(role="owner", org=owner, org_id=owner_id, purposes="fleet_management")
    body = Gateway(store, log).ask(HISTORY, {"code": code}, bearer)
    nodes = [e["node"] for e in body["data"]["robot"]["history"]["edges"]]
    assert sum(n["type"] == "MAINTENANCE_RECORDED" for n in nodes) > 0
    assert all(n["type"] is not None for n in nodes if n["payload"] is not None)
    log.close()
