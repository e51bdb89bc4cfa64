"""Telemetry batches: raw samples beside the log, one chained event per robot, rollups.

Batches go through GraphQL (`recordConditions`) with real tokens on SQLite; the
store's ingest and rollup also run on PostgreSQL. After a rollup the chains
still verify, raw batches still re-check against their digests, and
`conditionHistory` shows raw samples for recent days and aggregates for old ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from gateway.cli.main import main
from gateway.store import SqliteStore, Store
from gateway.store.telemetry import DAY_US, micros
from policies import AuditLog
from schema.passport import ConditionSnapshot, JointWear
from tests.support.stores import outside
from tests.support.writing import Gateway, active, event_count, pick, sample_count, token

BATCH = """mutation ($samples: [ConditionSampleInput!]!, $key: String!) {
  recordConditions(samples: $samples, idempotencyKey: $key) {
    samples replayed events { code sequence hash type payload replayed } } }"""
HISTORY = """query ($code: RobotCode!, $last: Int!) { robot(code: $code) {
  condition { at operatingHours }
  conditionHistory(last: $last) { at resolution samples batteryHealthPct batteryHealthPctMin
    batteryHealthPctMax movementPrecisionMmMax operatingHours jointWear { joint wearPct } }
  integrity { verified } } }"""


@pytest.fixture
def log(tmp_path) -> Iterator[AuditLog]:
    audit = AuditLog(tmp_path / "audit.db")
    yield audit
    audit.close()


def owner_token(p) -> str:
    return token("owner", p.current_owner.owner, org_id=p.current_owner.owner_id)


def owned(store: Store, count: int) -> list:
    """`count` active robots of one owner, so one token may write to them all."""
    by_owner: dict[str, list] = {}
    for code in store.codes():
        p = store.record(code).passport
        if active(p) and p.condition is not None:
            by_owner.setdefault(p.current_owner.owner_id, []).append(p)
    for robots in by_owner.values():
        if len(robots) >= count:
            return robots[:count]
    return [pick(store, lambda p: active(p) and p.condition is not None)]


def samples_for(p, start: datetime, n: int, step: timedelta = timedelta(seconds=10)) -> list[dict]:
    last = p.condition
    return [
        {
            "code": p.code,
            "at": (start + i * step).isoformat().replace("+00:00", "Z"),
            "operatingHours": last.operating_hours + i * 0.01,
            "batteryHealthPct": 90.0 - i * 0.001,
            "chargeCycles": last.charge_cycles + i // 100,
            "movementPrecisionMm": 0.3 + (i % 7) * 0.01,
            "abnormalStressEvents": last.abnormal_stress_events,
            "jointWear": [{"joint": "left_knee", "wearPct": 10 + i * 0.001}],
        }
        for i in range(n)
    ]


def recent() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def test_a_batch_stores_samples_and_chains_one_event_per_robot(store, log):
    gw = Gateway(store, log)
    robots = owned(store, 2)
    owner = owner_token(robots[0])
    start = recent()
    samples = [s for p in robots for s in samples_for(p, start, 50)]
    before, heads = event_count(store), {p.code: store.head(p.code) for p in robots}
    body = gw.ask(BATCH, {"samples": samples, "key": "batch-1"}, owner)
    assert "errors" not in body, body
    result = body["data"]["recordConditions"]
    assert (result["samples"], result["replayed"]) == (len(samples), False)
    assert [e["code"] for e in result["events"]] == [p.code for p in robots]
    assert event_count(store) == before + len(robots)
    assert sample_count(store) == len(samples)
    for p, event in zip(robots, result["events"], strict=True):
        assert event["sequence"] == heads[p.code].sequence + 1
        assert event["type"] == "CONDITIONS_INGESTED" and event["payload"]["count"] == 50
        now = store.passport(p.code).condition
        assert now.at.isoformat().replace("+00:00", "Z") == samples_for(p, start, 50)[-1]["at"]
        assert store.verify_chain(p.code).verified
        (check,) = store.verify_telemetry(p.code, store.events(p.code))
        assert (check.verified, check.raw) == (True, 50)
    actions = [r.record.action for r in log.trail(robots[0].code) if r.record.action]
    assert actions == [f"write:CONDITIONS_INGESTED:stored:{result['events'][0]['sequence']}"]

    again = gw.ask(BATCH, {"samples": samples, "key": "batch-1"}, owner)["data"]["recordConditions"]
    assert again["replayed"] is True and again["events"][0]["hash"] == result["events"][0]["hash"]
    assert (event_count(store), sample_count(store)) == (before + len(robots), len(samples))

    changed = [dict(samples[0], batteryHealthPct=50.0), *samples[1:]]
    body = gw.ask(BATCH, {"samples": changed, "key": "batch-1"}, owner)
    assert body["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert (event_count(store), sample_count(store)) == (before + len(robots), len(samples))


@pytest.mark.parametrize(
    ("index", "change", "rule", "field"),
    [
        (3, {"batteryHealthPct": 120.0}, "range.percent", "batteryHealthPct"),
        (5, {"movementPrecisionMm": -1.0}, "range.non_negative", "movementPrecisionMm"),
        (7, {"operatingHours": 0.0}, "counter.decrease", "operatingHours"),
        (2, {"at": "2099-01-01T00:00:00Z"}, "time.future", "at"),
        (
            4,
            {"jointWear": [{"joint": "k", "wearPct": 101}]},
            "range.percent",
            "jointWear[0].wearPct",
        ),
    ],
)
def test_one_bad_sample_refuses_the_batch_naming_it(store, log, index, change, rule, field):
    gw = Gateway(store, log)
    robots = owned(store, 2)
    owner = owner_token(robots[0])
    samples = [s for p in robots for s in samples_for(p, recent(), 5)]
    samples[index] = {**samples[index], **change}
    before = event_count(store)
    body = gw.ask(BATCH, {"samples": samples, "key": "bad"}, owner)
    (error,) = body["errors"]
    assert error["extensions"] == {
        "code": "EVENT_REJECTED",
        "rule": rule,
        "field": f"samples[{index}].{field}",
    }
    assert (event_count(store), sample_count(store)) == (before, 0)


def test_a_batch_with_a_robot_the_caller_may_not_write_stores_nothing(store, log):
    gw = Gateway(store, log)
    mine = owned(store, 1)[0]
    other = pick(
        store, lambda p: active(p) and p.current_owner.owner_id != mine.current_owner.owner_id
    )
    samples = samples_for(mine, recent(), 3) + samples_for(other, recent(), 3)
    body = gw.ask(BATCH, {"samples": samples, "key": "x"}, owner_token(mine))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert sample_count(store) == 0
    body = gw.ask(BATCH, {"samples": [], "key": "y"}, owner_token(mine))
    assert body["errors"][0]["extensions"]["rule"] == "samples.empty"


def test_batches_of_one_day_keep_one_condition_summary(store):
    p = pick(store, lambda p: active(p) and p.condition is not None)
    day = p.condition.at.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=2)
    kept = len(p.conditions)
    for i in range(3):
        batch = snapshots(p, day + timedelta(hours=i), 4, offset=i * 4)
        store.ingest_conditions({p.code: batch}, idempotency_key=f"d-{i}")
    after = store.passport(p.code)
    assert len(after.conditions) == kept + 1
    assert after.condition.at == day + timedelta(hours=2, seconds=30)


def test_sample_digests_are_salted_and_still_verify(store):
    """Same samples, two batches: different digests, each re-computable only with its salt."""
    from gateway.store.telemetry import plain_sample
    from schema.writes import batch_digest, samples_digest

    p = pick(store, lambda p: active(p) and p.condition is not None)
    day = p.condition.at.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=2)
    first = snapshots(p, day, 4)
    second = snapshots(p, day + timedelta(hours=1), 4, offset=4)
    a = store.ingest_conditions({p.code: first}, idempotency_key="salted-1")[p.code].event
    plain = [plain_sample(x) for x in first]
    salt = a.payload["salt"]
    assert len(salt) == 32 and salt != a.salt
    assert a.payload["digest"] == samples_digest(plain, salt)
    assert a.payload["digest"] != samples_digest(plain, None), "no unsalted digest is shown"
    assert a.payload["batch"] == batch_digest({p.code: a.payload["digest"]})
    replay = store.ingest_conditions({p.code: first}, idempotency_key="salted-1")[p.code]
    assert replay.replayed and replay.event.hash == a.hash
    b = store.ingest_conditions({p.code: second}, idempotency_key="salted-2")[p.code].event
    assert b.payload["salt"] != salt
    checks = store.verify_telemetry(p.code, store.events(p.code))
    assert [c.verified for c in checks if c.sequence in (a.sequence, b.sequence)] == [True, True]


def snapshots(p, start: datetime, n: int, offset: int = 0) -> list[ConditionSnapshot]:
    last = p.condition
    return [
        ConditionSnapshot(
            at=start + timedelta(seconds=10 * i),
            operating_hours=last.operating_hours + (offset + i) * 0.5,
            battery_health_pct=80.0 + (i % 3),
            charge_cycles=last.charge_cycles + offset + i,
            movement_precision_mm=0.2 + i * 0.1,
            abnormal_stress_events=last.abnormal_stress_events,
            joint_wear=[JointWear("left_knee", 5.0 + i)],
        )
        for i in range(n)
    ]


def rollup_round_trip(store: Store) -> None:
    """Old and new samples, a rollup, then history, chains and digests as they must be."""
    p = pick(store, lambda p: active(p) and p.condition is not None)
    base = p.condition.at.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    old = snapshots(p, base + timedelta(hours=6), 6)
    new = snapshots(p, base + timedelta(days=40, hours=6), 3, offset=6)
    when = base + timedelta(days=41)
    store.ingest_conditions({p.code: old[:3]}, idempotency_key="old-1", now=when)
    store.ingest_conditions({p.code: old[3:]}, idempotency_key="old-2", now=when)
    store.ingest_conditions({p.code: new}, idempotency_key="new", now=when)
    head = store.head(p.code)

    done = store.rollup(timedelta(days=30), now=when)
    assert (done.samples, done.days, done.robots) == (6, 1, 1)
    assert store.rollup(timedelta(days=30), now=when).samples == 0, "nothing left to roll up"
    assert store.head(p.code) == head and store.verify_chain(p.code).verified
    checks = {c.sequence: c for c in store.verify_telemetry(p.code, store.events(p.code))}
    assert [(c.verified, c.reason) for c in checks.values()] == [
        (None, "rolled up"),
        (None, "rolled up"),
        (True, None),
    ]
    (day,) = store.condition_days(p.code)
    assert (day.resolution, day.samples, day.at) == ("DAILY", 6, old[-1].at)
    assert day.battery_health_pct_min == min(s.battery_health_pct for s in old)
    assert day.battery_health_pct_max == max(s.battery_health_pct for s in old)
    assert day.movement_precision_mm_max == max(s.movement_precision_mm for s in old)
    assert day.operating_hours == old[-1].operating_hours
    assert day.joint_wear == [JointWear("left_knee", max(s.joint_wear[0].wear_pct for s in old))]
    assert [s.at for s in store.condition_samples(p.code)] == [s.at for s in new]

    tampered = micros(new[1].at)
    outside(store, "UPDATE condition_samples SET battery_health_pct = 1 WHERE at = ?", (tampered,))
    bad = [c for c in store.verify_telemetry(p.code, store.events(p.code)) if c.verified is False]
    assert [(c.sequence, c.reason) for c in bad] == [(head.sequence, "samples do not match digest")]
    assert store.verify_chain(p.code).verified, (
        "the chain covers events; telemetry is checked apart"
    )


def test_rollup_on_sqlite(store):
    rollup_round_trip(store)


def test_rollup_on_postgresql(pg_url, fleet):
    from gateway.store.postgres import PostgresStore

    store = PostgresStore(pg_url)
    try:
        store.import_histories(fleet[:8])
        rollup_round_trip(store)
    finally:
        store.close()


def test_condition_history_shows_raw_samples_and_daily_aggregates(store, log):
    p = pick(store, lambda p: active(p) and p.condition is not None)
    base = p.condition.at.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    store.ingest_conditions({p.code: snapshots(p, base, 4)}, idempotency_key="o")
    fresh = recent()
    store.ingest_conditions({p.code: snapshots(p, fresh, 2, offset=4)}, idempotency_key="n")
    assert store.rollup(timedelta(days=1), now=fresh).samples == 4
    body = Gateway(store, log, policy=None).ask(HISTORY, {"code": p.code, "last": 1000})
    robot = body["data"]["robot"]
    points = robot["conditionHistory"]
    assert [(x["resolution"], x["samples"]) for x in points[-3:]] == [
        ("DAILY", 4),
        ("RAW", 1),
        ("RAW", 1),
    ]
    earlier = [x for x in points[:-3]]
    assert earlier and all(x["resolution"] == "RAW" for x in earlier), "recorded snapshots stay"
    assert len({x["at"] for x in points}) == len(points), "a batch's summary is not shown twice"
    assert robot["condition"]["at"] == points[-1]["at"] and robot["integrity"]["verified"]
    days = {x["at"][:10] for x in points if x["resolution"] == "DAILY"}
    assert (base.date().isoformat(),) == tuple(days)


def test_the_rollup_command(tmp_path, fleet):
    path = tmp_path / "cli.db"
    store = SqliteStore(path)
    store.import_histories(fleet[:4])
    p = pick(store, lambda p: active(p) and p.condition is not None)
    start = p.condition.at + timedelta(days=1)
    store.ingest_conditions({p.code: snapshots(p, start, 5)}, idempotency_key="cli")
    store.close()
    assert main(["registry", "rollup", "--db", f"sqlite:///{path}", "--older-than", "1d"]) == 0
    reopened = SqliteStore(path)
    assert outside(reopened, "SELECT COUNT(*) FROM condition_samples") == [(0,)]
    assert outside(reopened, "SELECT samples FROM condition_daily") == [(5,)]
    assert main(["registry", "verify", "--db", f"sqlite:///{path}"]) == 0
    with pytest.raises(SystemExit):
        main(["registry", "rollup", "--db", f"sqlite:///{path}", "--older-than", "30 days"])
    assert DAY_US == 86_400_000_000
