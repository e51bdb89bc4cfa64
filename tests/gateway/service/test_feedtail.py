"""The replica's shared read of the feed (`gateway.service.feedtail`): every follower gets
exactly what its own filtered read would have given, and a move costs one read, not one
per follower.

The reference is the store's own filtered read (`Store.changes(after, first, where)`),
the query every waiter made before the tail, run for each follower after each write.
Writes include ownership transfers, whose earlier events then match the new owner's
filter (the store filters on a robot's columns as they stand now). Both backends.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta

import httpx

from gateway.service.feedtail import FeedTail, TailFollower, matches, shareable, tail_of
from gateway.store import EventRejected, Store
from gateway.store.feedwatch import Mark
from policies import AuditLog
from schema.codec import to_plain
from schema.events import EventType, OwnershipTransfer
from schema.passport import OwnerKind
from schema.source import Change, RobotFilter
from tests.support.audited import Gateway
from tests.support.feeds import owner_of_most, owner_token
from tests.support.stores import empty_store, outside, record, store  # noqa: F401  # both backends


def rung() -> Mark:
    """A mark as the feed's bell sets it when the feed moves."""
    mark = Mark()
    mark.rung_at = time.monotonic()
    mark.set()
    return mark


class Reference:
    """One follower as every waiter read before the tail: its own filtered query."""

    def __init__(self, db: Store, where: RobotFilter, after: int) -> None:
        self.store, self.where, self.after = db, where, after

    def next(self, first: int) -> tuple[list[Change], bool]:
        found = self.store.changes(self.after, first + 1, self.where)
        shown = found[:first]
        if shown:
            self.after = shown[-1].position
        return shown, len(found) > first


def owners(db: Store) -> list[tuple[str, str | None]]:
    """(owner, owner_id) of every robot, as its row holds them."""
    return sorted(set(outside(db, "SELECT owner, owner_id FROM robots")), key=str)


def filters(db: Store) -> list[RobotFilter]:
    known = owners(db)
    (name_a, id_a), (_, id_b) = known[0], known[-1]
    return [
        RobotFilter(),
        RobotFilter(owner_id=id_a),
        RobotFilter(owner_id=id_b),
        RobotFilter(owner=name_a),
        RobotFilter(owner=name_a, owner_id=id_a),
        RobotFilter(owner=name_a, owner_id=id_b),  # matches no robot
        RobotFilter(owner_id="NOBODY-YET"),  # until a robot is transferred to it
        RobotFilter(owner_id="NOBODY-YET", owner="Owner NOBODY-YET"),
        RobotFilter(status="ACTIVE"),  # not shareable: reads on its own
    ]


def write(db: Store, rng: random.Random, codes: list[str], targets: list[str], n: int) -> None:
    """One write: mostly a maintenance record, sometimes a transfer to another owner."""
    at = datetime.now(UTC) - timedelta(minutes=30)
    for _ in range(20):
        code = rng.choice(codes)
        try:
            if rng.random() < 0.3:
                owner_id = rng.choice(targets)
                body = OwnershipTransfer(
                    at, f"Owner {owner_id}", OwnerKind.ORGANISATION, "DE", owner_id
                )
                db.append(code, EventType.OWNERSHIP_TRANSFERRED, to_plain(body), at)
            else:
                db.append(code, EventType.MAINTENANCE_RECORDED, record(1000.0 + n), at)
            return
        except EventRejected:
            continue
    raise AssertionError("no robot took a write")


def drain_reference(ref: Reference, first: int) -> list[int]:
    got: list[int] = []
    while True:
        shown, more = ref.next(first)
        got += [c.position for c in shown]
        if not more:
            return got


async def drain_shared(follower: TailFollower, first: int, mark: Mark) -> list[int]:
    got: list[int] = []
    while True:
        shown, more = await follower.next(first, mark)
        got += [c.position for c in shown]
        if not more:
            return got


def test_many_followers_get_exactly_what_their_own_reads_give(store: Store) -> None:  # noqa: F811
    rng = random.Random(15)
    codes = store.codes()[:12]  # few robots, so transfers bring back earlier events
    known_ids = [i for _, i in owners(store) if i]
    targets = [known_ids[0], known_ids[-1], "NOBODY-YET"]
    head = store.feed_head()
    tail = FeedTail(store, window=6)  # small: followers fall behind it and catch up
    wheres = filters(store) * 3  # several followers per filter, each its own state
    firsts = [1, 2, 500]
    shared = [TailFollower(store, w, head, tail=tail) for w in wheres]
    refs = [Reference(store, w, head) for w in wheres]
    got_shared: list[list[int]] = [[] for _ in wheres]
    got_ref: list[list[int]] = [[] for _ in wheres]

    async def wake(awake: list[int], mark: Mark) -> None:
        answers = await asyncio.gather(
            *(drain_shared(shared[i], firsts[i % 3], mark) for i in awake)
        )
        for i, answer in zip(awake, answers, strict=True):
            got_shared[i] += answer

    for n in range(60):
        for _ in range(rng.choice([1, 1, 2, 4])):  # sometimes a burst before the wake
            write(store, rng, codes, targets, n)
        mark = rung()
        awake = [i for i in range(len(wheres)) if rng.random() < 0.5]  # some are busy
        asyncio.run(wake(awake, mark))
        for i in awake:
            got_ref[i] += drain_reference(refs[i], firsts[i % 3])
        for i in awake:
            assert got_shared[i] == got_ref[i], (n, wheres[i])

    assert any(got_ref[6]), "a transfer to a new owner reached its follower"
    assert any(len(g) < len(got_ref[0]) for g in got_ref[1:5]), "the filters narrowed"


def test_one_write_costs_one_read_whatever_the_number_of_followers(store: Store) -> None:  # noqa: F811
    head = store.feed_head()
    codes = store.codes()
    wheres = filters(store)[:-1]  # the shareable ones
    tail = FeedTail(store)
    followers = [TailFollower(store, wheres[i % len(wheres)], head, tail=tail) for i in range(200)]
    own_reads = 0
    changes = store.changes

    def counted(*args, **kwargs):
        nonlocal own_reads
        own_reads += 1
        return changes(*args, **kwargs)

    store.changes = counted  # type: ignore[method-assign]

    async def everyone_wakes() -> list[list[Change]]:
        mark = rung()
        answers = await asyncio.gather(*(f.next(500, mark) for f in followers))
        return [shown for shown, _ in answers]

    asyncio.run(everyone_wakes())  # the tail starts: the feed's head, then the rows after it
    before = tail.reads
    at = datetime.now(UTC) - timedelta(minutes=30)
    store.append(codes[0], EventType.MAINTENANCE_RECORDED, record(4321.0), at)
    answers = asyncio.run(everyone_wakes())

    assert tail.reads - before == 1, "one shared read for 200 woken followers"
    assert own_reads == 0, "no follower read the feed on its own"
    [(owner, owner_id)] = outside(
        store, "SELECT owner, owner_id FROM robots WHERE code = ?", (codes[0],)
    )
    for follower, shown in zip(followers, answers, strict=True):
        expected = matches(follower.where, owner, owner_id)
        assert [c.event.code for c in shown] == ([codes[0]] if expected else [])


def test_a_filter_on_other_columns_is_not_shared() -> None:
    assert shareable(RobotFilter(owner="A", owner_id="B"))
    assert not shareable(RobotFilter(owner_id="B", status="ACTIVE"))
    assert not shareable(RobotFilter(campaign="C"))
    assert not shareable(RobotFilter(campaign_states=("PENDING",)))
    assert not matches(RobotFilter(owner_id="B"), "A", None), "a NULL column matches nothing"


FEED_HEAD = "query { fleetFeed { headCursor } }"
WAITING = """query ($after: String) { fleetChanges(first: 10, after: $after, waitSeconds: 8) {
  edges { node { code sequence type } } } }"""


def test_long_polls_one_write_wakes_share_one_read(store: Store, tmp_path) -> None:  # noqa: F811
    """Through the GraphQL endpoint: 40 `fleetChanges(waitSeconds:)` held at the feed's end,
    one write, and every one of them answered from one read of the feed."""
    owner, codes = owner_of_most(store)
    log = AuditLog(str(tmp_path / "audit.db"))
    gateway, bearer = Gateway(store, log), owner_token(owner)
    head = gateway.ask(FEED_HEAD, {}, bearer)["data"]["fleetFeed"]["headCursor"]
    own_reads, changes = 0, store.changes

    def counted(*args, **kwargs):
        nonlocal own_reads
        own_reads += 1
        return changes(*args, **kwargs)

    store.changes = counted  # type: ignore[method-assign]
    tail = tail_of(store)

    async def scenario() -> tuple[list[dict], int, int]:
        transport = httpx.ASGITransport(app=gateway.app)
        headers = {"authorization": f"Bearer {bearer}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            body = {"query": WAITING, "variables": {"after": head}}
            polls = [
                asyncio.create_task(client.post("/graphql", json=body, headers=headers))
                for _ in range(40)
            ]
            await asyncio.sleep(1.5)  # each read the feed once and waits
            assert not any(p.done() for p in polls)
            reads, own = tail.reads, own_reads
            at = datetime.now(UTC) - timedelta(minutes=30)
            await asyncio.to_thread(
                store.append, codes[0], EventType.MAINTENANCE_RECORDED, record(777.0), at
            )
            answers = [(await p).json() for p in polls]
            return answers, tail.reads - reads, own_reads - own

    try:
        answers, shared, own = asyncio.run(scenario())
    finally:
        store.feed_bell.stop()
        log.close()
    for answer in answers:
        edges = answer["data"]["fleetChanges"]["edges"]
        assert [e["node"]["code"] for e in edges] == [codes[0]]
    assert own == 0, "no long poll read the feed on its own once woken"
    assert shared <= 2, f"one read per wake, not one per long poll: {shared}"


def test_a_waiter_that_polls_reads_afresh_and_a_failed_shared_read_falls_back(
    store: Store,  # noqa: F811
) -> None:
    """A watcher that is not listening wakes no one: waiters poll (`FeedBell.wait` returns
    True unrung), and a poll must see what was written since the tail's last read. A tail
    that cannot read leaves each follower to its own read."""
    codes = store.codes()
    tail = FeedTail(store)
    follower = TailFollower(store, RobotFilter(), store.feed_head(), tail=tail)
    asyncio.run(follower.next(10, rung()))  # the tail has read up to here
    at = datetime.now(UTC) - timedelta(minutes=30)
    event = store.append(codes[1], EventType.MAINTENANCE_RECORDED, record(55.0), at)
    shown, _ = asyncio.run(follower.next(10, Mark()))  # a poll: no ring
    assert [c.event.hash for c in shown] == [event.hash]

    def broken(after: int, limit: int) -> list:
        raise RuntimeError("the tail's read failed")

    store.feed_rows = broken  # type: ignore[method-assign]
    event = store.append(codes[2], EventType.MAINTENANCE_RECORDED, record(56.0), at)
    shown, _ = asyncio.run(follower.next(10, rung()))
    assert [c.event.hash for c in shown] == [event.hash]
