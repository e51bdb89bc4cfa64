"""No value a principal may not see reaches it through the change feed.

The oracle of `tests/security/test_leaks.py` (texts at denied paths of any robot, minus
any text the principal may see anywhere) checked against `fleetChanges` answers
for random principals and selections: payloads, the robot's current view and
its exports in every format.
"""

from __future__ import annotations

import asyncio
import os

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from policies import Principal
from schema.events import fold
from tests.support.leaks import ALLOWED_ERRORS, POLICY, SCHEMA, Oracle, principals

CASES = int(os.environ.get("FEED_LEAK_CASES", "150"))
SELECTIONS = [
    "code sequence hash prevHash at type payload",
    "code at type robot { ownership { owner } maintenance { performedBy } incidents { findings } }",
    *(f"code payload robot {{ export(format: {f}) }}" for f in ("CANONICAL", "AAS", "CN_MIIT")),
    "code robot { export(format: UNTP_DPP) condition { batteryHealthPct } }",
]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """The fleet of the leak test, in a store: (histories, passports, source)."""
    histories = list(synthetic_fleet(24, seed=11))
    store = SqliteStore(tmp_path_factory.mktemp("feed-leaks") / "registry.db")
    store.import_histories(histories)
    yield histories, [fold(h) for h in histories], LocalSource(store)
    store.close()


@pytest.mark.slow
def test_no_denied_value_reaches_a_feed_reader(fleet):
    histories, passports, source = fleet
    oracle = Oracle(passports, histories)
    owners = sorted({p.current_owner.owner_id for p in passports})

    @settings(
        max_examples=CASES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        principal=principals(passports),
        owner=st.none() | st.sampled_from(owners),
        selection=st.sampled_from(SELECTIONS),
        first=st.integers(1, 500),
    )
    def check(principal: Principal, owner: str | None, selection: str, first: int) -> None:
        argument = "" if owner is None else f", ownerId: {orjson.dumps(owner).decode()}"
        query = (
            f"{{ fleetChanges(first: {first}{argument}) {{ edges {{ node {{ {selection} }} }} }} }}"
        )
        context = Services(source, POLICY).context(principal)
        result = asyncio.run(SCHEMA.execute(query, context_value=context))
        errors = [e.formatted for e in result.errors or ()]
        codes = {e.get("extensions", {}).get("code") for e in errors}
        assert not codes - ALLOWED_ERRORS, (query, errors[:3])
        text = orjson.dumps({"data": result.data, "errors": errors}).decode()
        leaked = [v for v in oracle.forbidden(principal) if v in text]
        assert not leaked, (principal.role, principal.organisation, query, leaked[:5])

    check()
