"""The change feed filtered by owner, read from the owner every event carries (migration
0009), against its definition: the events of robots whose CURRENT owner matches, read
from the passports themselves. Ownership moves (to a known owner, a new one, one
without an id), a campaign fans out, pages are read through cursors, and the database
is migrated from before the columns existed. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from gateway.service.local import LocalSource
from gateway.store import SqliteStore, Store
from schema.campaigns import Campaign, CampaignKind, Issuer, RecallTerms, Selector
from schema.codec import to_plain
from schema.events import EventType, OwnershipTransfer
from schema.passport import OwnerKind, Severity
from schema.source import Change, RobotFilter
from tests.support.stores import empty_store, outside, record, store

__all__ = ["empty_store", "store"]  # fixtures on both backends, used by parameter name

AT = datetime(2026, 11, 2, 9, tzinfo=UTC)


def definition(store: Store, after: int = 0, **where: str | None) -> list[Change]:
    """The filtered feed as it is defined: every event whose robot's passport, now, has
    an owner matching every given field. No SQL filter involved."""
    wanted = {k: v for k, v in where.items() if v is not None}
    now = {code: store.passport(code).current_owner for code in store.codes()}
    return [
        change
        for change in store.changes(after, 10**6)
        if (owner := now[change.event.code]) is not None
        and all(getattr(owner, k) == v for k, v in wanted.items())
    ]


def paged(store: Store, first: int, after: int = 0, **where: str | None) -> list[Change]:
    """The filtered feed read `first` events at a time, each page resuming at the last."""
    seen: list[Change] = []
    while page := store.changes(after, first, RobotFilter(**where)):
        assert len(page) <= first
        seen.extend(page)
        after = page[-1].position
    return seen


def transfer(store: Store, code: str, owner: str, owner_id: str | None, days: int) -> None:
    body = OwnershipTransfer(AT + timedelta(days=days), owner, OwnerKind.ORGANISATION, "DE",
                             owner_id)  # fmt: skip
    store.append(code, EventType.OWNERSHIP_TRANSFERRED, to_plain(body), body.at)


def owners(store: Store) -> list[tuple[str, str | None]]:
    found = {(o.owner, o.owner_id) for c in store.codes() if (o := store.passport(c).current_owner)}
    return sorted(found, key=lambda k: (k[0], k[1] or ""))


def shuffle_ownership(store: Store) -> list[str]:
    """Move robots between owners every way the filter must follow; the codes moved."""
    codes = [c for c in store.codes() if store.passport(c).current_owner is not None]
    (a_name, a_id), (b_name, b_id) = owners(store)[:2]
    of_a = [c for c in codes if store.passport(c).current_owner.owner == a_name]
    moved = [of_a[0], codes[-1], codes[-2], codes[-3]]
    transfer(store, moved[0], b_name, b_id, 1)  # to an owner already known
    transfer(store, moved[1], "Neue Besitzer AG", "reg:DE:HRB9", 2)  # to a new owner
    transfer(store, moved[2], "Ohne Kennung KG", None, 3)  # to an owner without an id
    transfer(store, moved[3], "Neue Besitzer AG", "reg:DE:HRB9", 4)
    transfer(store, moved[3], a_name, a_id, 5)  # and back again
    store.append(moved[0], EventType.MAINTENANCE_RECORDED, record(), AT + timedelta(days=6))
    return moved


def test_owner_feed_equals_its_definition_after_transfers_and_a_campaign(store):
    moved = shuffle_ownership(store)
    recall = Campaign(
        "CN-RC-OWNERFEED",
        CampaignKind.RECALL,
        Issuer("uscc:91320506MA7B2N5EXE", "manufacturer", "CN"),
        "GB/T 1",
        "Knee",
        datetime.now(UTC),
        Selector(registry_country="CN"),
        recall=RecallTerms("knee may lock", Severity.SERIOUS, "replace it"),
    )
    store.issue_campaign(recall)
    assert store.run_campaign(recall.id).reached  # the fan-out appends through the feed
    head = store.feed_head()
    (a_name, a_id), (b_name, b_id) = owners(store)[:2]
    filters = [
        {"owner_id": a_id},
        {"owner_id": b_id},
        {"owner": b_name},
        {"owner": a_name, "owner_id": a_id},
        {"owner_id": "reg:DE:HRB9"},
        {"owner": "Ohne Kennung KG"},
        {"owner_id": "reg:XX:nobody"},
        {"owner": "Neue Besitzer AG", "owner_id": "reg:XX:other"},
    ]
    for n, where in enumerate(filters):
        expected = definition(store, **where)
        assert store.changes(0, 10**6, RobotFilter(**where)) == expected, where
        assert paged(store, 1 if n < 2 else 7, **where) == expected, where
        middle = head // 2
        assert (
            store.changes(middle, 5, RobotFilter(**where))
            == [c for c in expected if c.position > middle][:5]
        )
    # The robot sold away and back is in its owner's feed with its whole history.
    back = definition(store, owner_id=owners(store)[0][1])
    assert {c.event.sequence for c in back if c.event.code == moved[3]} == set(
        range(1, store.head(moved[3]).sequence + 1)
    )


def test_a_page_never_shows_a_robot_sold_away_even_mid_walk(store):
    (name, owner_id), (other_name, other_id) = owners(store)[:2]
    mine = RobotFilter(owner_id=owner_id) if owner_id else RobotFilter(owner=name)
    first = store.changes(0, 3, mine)
    sold = store.passport(first[0].event.code)
    assert sold is not None
    transfer(store, sold.code, other_name, other_id, 1)
    rest = store.changes(first[-1].position, 10**6, mine)
    everything = store.changes(0, 10**6, mine)
    assert sold.code not in {c.event.code for c in rest + everything}
    theirs = RobotFilter(owner_id=other_id) if other_id else RobotFilter(owner=other_name)
    assert {c.event.sequence for c in store.changes(0, 10**6, theirs) if c.event.code == sold.code}
    assert everything == definition(store, **{k: getattr(mine, k) for k in ("owner", "owner_id")})


def test_owner_feed_through_the_local_source_cursors(store):
    shuffle_ownership(store)
    source = LocalSource(store)
    for _, owner_id in owners(store)[:3]:
        seen, after = [], None
        while True:
            page = asyncio.run(source.changes(RobotFilter(owner_id=owner_id), 4, after))
            seen.extend(page.items)
            if not page.has_next_page:
                break
            after = page.end_cursor
        assert seen == definition(store, owner_id=owner_id)


def test_the_migration_fills_the_owner_of_events_stored_before_it(store):
    shuffle_ownership(store)
    expected = {i: definition(store, owner_id=i) for _, i in owners(store)[:4] if i}
    for statement in (
        "DROP INDEX events_owner_id_position",
        "DROP INDEX events_owner_position",
        "ALTER TABLE events DROP COLUMN owner",
        "ALTER TABLE events DROP COLUMN owner_id",
        "DELETE FROM store_migrations WHERE version >= 9",  # 9 and every later one run again
    ):
        outside(store, statement)
    store.close()
    if isinstance(store, SqliteStore):
        reopened: Store = SqliteStore(store.path)
    else:
        from gateway.store.postgres import PostgresStore

        reopened = PostgresStore(store.url)
    try:
        assert reopened.schema_version() >= 9
        for owner_id, changes in expected.items():
            assert reopened.changes(0, 10**6, RobotFilter(owner_id=owner_id)) == changes
        unowned = outside(reopened, "SELECT COUNT(*) FROM events WHERE owner IS NULL")[0][0]
        assert unowned == sum(
            len(reopened.events(c))
            for c in reopened.codes()
            if not reopened.passport(c).current_owner
        )
    finally:
        reopened.close()
