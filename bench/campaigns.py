"""Benchmark: a campaign's fan-out (events/s) and its counts at scale, on SQLite.

Part 1 seeds `--robots` synthetic robots and issues a recall over all of them
(`registry_country: CN`): every robot gets a chained RECALL_ISSUED, a row and
its count, a batch per transaction; it prints the time and events per second.
Part 2 puts `--rows` robots under one campaign directly (rows and their
aggregate, spread over 8 countries and 5,000 owners, as the fan-out would
leave them) and times `campaign_counts` (the maintained aggregate) beside the
same counts computed by a GROUP BY scan over the rows, median of `--repeat`,
then the whole GraphQL request `campaign(id) { counts { totals byCountry
byOwner(first: 50) } }` as the issuer's regulator sends it, through the real app.
`--rows` takes several sizes (`10000,100000,1000000`), each its own campaign in
one database, to show the aggregate's reads do not grow with the fleet.
`--light` seeds registration-only robots (one event each, cloned from one synthetic
robot) instead: what is left is the fan-out's own work per robot (select, chain, row,
counts), without decoding the hundreds of condition snapshots a synthetic robot carries,
so a 100,000-robot fan-out fits in minutes.
Usage: `python -m bench.campaigns [--robots N] [--light] [--rows N[,N...]] [--repeat N]`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from gateway.synthetic.seeding import seed
from schema.campaigns import Campaign, CampaignKind, Issuer, RecallTerms, Selector
from schema.passport import Severity
from tests.support.campaigns import Api
from tests.support.stores import clones
from tests.support.writing import token

COUNTRIES = ("CN", "DE", "FR", "JP", "NL", "SG", "US", "AE")


def recall(campaign_id: str, selector: Selector) -> Campaign:
    return Campaign(
        campaign_id,
        CampaignKind.RECALL,
        Issuer("uscc:91320506MA7B2N5EXE", "manufacturer", "CN"),
        "GB/T 0000 (benchmark)",
        "Knee actuator",
        datetime.now(UTC),
        selector,
        recall=RecallTerms("knee may lock", Severity.SERIOUS, "replace the actuator"),
    )


def fan_out(store: SqliteStore) -> None:
    campaign = recall("BENCH-FANOUT", Selector(registry_country="CN"))
    store.issue_campaign(campaign)
    start = time.perf_counter()
    progress = store.run_campaign(campaign.id)
    seconds = time.perf_counter() - start
    print(
        f"fan-out: {progress.scanned} robots examined, {progress.reached} reached in"
        f" {seconds:.1f} s: {progress.reached / seconds:.0f} events/s"
    )


def counts_at_scale(store: SqliteStore, rows: int, repeat: int) -> None:
    campaign = recall(f"BENCH-COUNTS-{rows}", Selector(registry_country="CN"))
    store.issue_campaign(campaign)
    rng = random.Random(7)
    owners = [f"uscc:BENCH{i:013d}" for i in range(5000)]
    now = datetime.now(UTC).isoformat()
    tally: dict[tuple[str, str, str], int] = {}
    batch = []
    with store._transaction() as db:
        for i in range(rows):
            country, owner = rng.choice(COUNTRIES), rng.choice(owners)
            state = "REMEDIED" if rng.random() < 0.3 else "PENDING"
            batch.append((campaign.id, f"CNBENCH{rows}-{i:014d}", state, country, owner, now))
            tally[(country, owner, state)] = tally.get((country, owner, state), 0) + 1
            if len(batch) == 50_000:
                db.executemany(
                    "INSERT INTO campaign_robots (campaign_id, code, state, country, owner_id,"
                    " reason, updated_at) VALUES (?, ?, ?, ?, ?, NULL, ?)",
                    batch,
                )
                batch.clear()
        if batch:
            db.executemany(
                "INSERT INTO campaign_robots (campaign_id, code, state, country, owner_id,"
                " reason, updated_at) VALUES (?, ?, ?, ?, ?, NULL, ?)",
                batch,
            )
        db.executemany(
            "INSERT INTO campaign_counts (campaign_id, country, owner_id, state, robots)"
            " VALUES (?, ?, ?, ?, ?)",
            [(campaign.id, c, o, s, n) for (c, o, s), n in tally.items()],
        )
        per_country: dict[tuple[str, str], int] = {}
        for (c, _, s), n in tally.items():
            per_country[(c, s)] = per_country.get((c, s), 0) + n
        db.executemany(
            "INSERT INTO campaign_country_counts (campaign_id, country, state, robots)"
            " VALUES (?, ?, ?, ?)",
            [(campaign.id, c, s, n) for (c, s), n in per_country.items()],
        )

    def by_country() -> None:
        store.campaign_country_counts(campaign.id)

    def by_owner() -> None:
        store.campaign_counts(campaign.id)

    middle = sorted({(c, o) for c, o, _ in tally})[len(tally) // 6]

    def owner_page() -> None:
        store.campaign_owner_counts(campaign.id, 50)

    def owner_page_midway() -> None:
        store.campaign_owner_counts(campaign.id, 50, middle)

    def one_owner() -> None:
        store.campaign_counts(campaign.id, owners[0])

    def scan() -> None:
        with store._reading() as db:
            db.execute(
                "SELECT country, state, COUNT(*) FROM campaign_robots"
                " WHERE campaign_id = ? GROUP BY country, state",
                (campaign.id,),
            ).fetchall()

    for name, work in (
        ("by country (aggregate)", by_country),
        ("one owner's (aggregate)", one_owner),
        ("by owner, all 5,000 (aggregate)", by_owner),
        ("by owner, first page of 50 (aggregate)", owner_page),
        ("by owner, a page of 50 midway (aggregate)", owner_page_midway),
        ("by country (GROUP BY scan)", scan),
    ):
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            work()
            times.append(time.perf_counter() - start)
        print(f"counts of {rows} robots, {name}: median {statistics.median(times) * 1000:.1f} ms")
    assert sorted(
        (r.country, r.owner_id, r.state.value, r.robots) for r in store.campaign_counts(campaign.id)
    ) == sorted((c, o, s, n) for (c, o, s), n in tally.items())
    graphql_counts(store, campaign.id, rows, repeat, tally)


COUNTS = """query ($id: String!) { campaign(id: $id) { counts {
  totals { affected pending remedied overdue exempted }
  byCountry { country counts { affected pending remedied } }
  byOwner(first: 50) { edges { node { country ownerId counts { affected } } } } } } }"""


def graphql_counts(
    store: SqliteStore, campaign_id: str, rows: int, repeat: int, tally: dict
) -> None:
    """`campaign(id) { counts }` as a regulator of the issuer's country asks it: the whole
    request through the real app (token check, policies, the aggregate's reads, the
    answer), in process over HTTP/ASGI; wall median and this process's CPU per request."""
    api = Api(store)
    bearer = token("regulator", "SAMR", jurisdiction="CN")
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        answer = api.ask(COUNTS, {"id": campaign_id}, bearer)
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    counts = answer["data"]["campaign"]["counts"]
    assert counts["totals"]["affected"] == rows, answer
    assert len(counts["byOwner"]["edges"]) == 50
    assert len(counts["byCountry"]) == len({c for c, _, _ in tally})
    print(
        f"counts of {rows} robots, campaign(id) {{ counts {{ totals byCountry byOwner(first: 50)"
        f" }} }} over GraphQL: median {statistics.median(walls) * 1000:.1f} ms wall,"
        f" {statistics.median(cpus) * 1000:.1f} ms CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robots", type=int, default=2000)
    parser.add_argument("--rows", default="1000000", help="sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--light", action="store_true", help="registration-only robots")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "bench.db")
        start = time.perf_counter()
        if args.robots and args.light:
            template = next(iter(synthetic_fleet(1, seed=11, country="CN")))
            store.import_histories(clones(template, args.robots))
            print(f"imported {args.robots} one-event robots in {time.perf_counter() - start:.0f} s")
        elif args.robots:
            seed(store, args.robots, seed_value=11, country="CN", quiet=True)
            print(f"seeded {args.robots} robots in {time.perf_counter() - start:.0f} s")
        if args.robots:
            fan_out(store)
        for rows in (int(n) for n in args.rows.split(",")):
            counts_at_scale(store, rows, args.repeat)
        store.close()


if __name__ == "__main__":
    main()
