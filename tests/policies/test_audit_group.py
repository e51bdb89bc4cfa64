"""Audit records in group commits: shared transactions, no request answered unaudited.

Real audit logs on SQLite and on PostgreSQL; a failing commit is a real one,
made by a trigger in the database that refuses the insert (`auditdb.refuse`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from policies import AuditLog, AuditRecord
from tests.support import auditdb
from tests.support.auditdb import allow, audit_url, refuse

__all__ = ["audit_url"]

AT = datetime(2026, 12, 1, 8, tzinfo=UTC)


def record(i: int, code: str | None = None) -> AuditRecord:
    return AuditRecord(
        at=AT,
        issuer="https://as.example",
        subject=f"client-{i}",
        organisation="KBA",
        role="regulator",
        token_id=f"tok-{i}",
        code=code or f"DEROBOT{i:04d}",
        served=("identity.status",),
        denied=("ownership.owner",),
        purposes=(),
        agreements=(),
        policy_version="test",
    )


def count(url: str) -> int:
    return auditdb.dump(url).count("https://as.example")


@pytest.fixture
def log(audit_url: str) -> Iterator[AuditLog]:
    audit = AuditLog(audit_url)
    yield audit
    audit.close()


async def concurrently(log: AuditLog, batches: list[list[AuditRecord]]) -> list:
    return await asyncio.gather(*(log.record(b) for b in batches), return_exceptions=True)


def test_concurrent_requests_share_a_transaction_and_all_land_on_one_chain(
    log: AuditLog, audit_url: str
) -> None:
    batches = [[record(2 * i), record(2 * i + 1)] for i in range(40)]
    results = asyncio.run(concurrently(log, batches))
    for batch, stored in zip(batches, results, strict=True):
        assert [s.record for s in stored] == batch  # each request gets its own records back
    ids = sorted(s.id for stored in results for s in stored)
    assert ids == list(range(1, 81))
    transactions, requests = log.group_commits
    assert requests == 40 and transactions < 40
    assert log.verify() is None and count(audit_url) == 80


def test_records_of_successive_groups_chain_on_each_other(log: AuditLog) -> None:
    async def waves() -> None:
        for wave in range(5):
            await concurrently(log, [[record(wave * 10 + i)] for i in range(10)])

    asyncio.run(waves())
    assert log.verify() is None and log.head()[0] == 50
    assert log.group_commits[1] == 50


def test_a_failed_commit_fails_every_request_it_covered(log: AuditLog, audit_url: str) -> None:
    asyncio.run(log.record([record(999)]))  # a head to chain on
    refuse(audit_url, "DEBAD%")
    batches = [[record(i)] for i in range(10)] + [[record(10, code="DEBAD0001")]]
    results = asyncio.run(concurrently(log, batches))
    # One bad record fails the transaction, and every request it covered with it.
    assert all(isinstance(r, Exception) for r in results), results
    assert "audit volume full" in str(results[0])
    assert count(audit_url) == 1 and log.verify() is None
    allow(audit_url)
    results = asyncio.run(concurrently(log, [[record(i)] for i in range(10)]))
    assert not any(isinstance(r, Exception) for r in results)
    assert count(audit_url) == 11 and log.verify() is None


def test_a_failure_does_not_reach_requests_of_the_next_transaction(log: AuditLog, audit_url: str):
    refuse(audit_url)

    async def first_fails_then_recovers() -> tuple[object, object]:
        failed = await asyncio.gather(log.record([record(1)]), return_exceptions=True)
        allow(audit_url)
        return failed[0], await log.record([record(2)])

    failed, stored = asyncio.run(first_fails_then_recovers())
    assert isinstance(failed, Exception) and "audit volume full" in str(failed)
    assert [s.id for s in stored] == [1] and log.verify() is None


def test_a_request_that_gives_up_still_has_its_records_committed(
    log: AuditLog, audit_url: str
) -> None:
    async def scenario() -> tuple[BaseException | None, int]:
        first = asyncio.ensure_future(log.record([record(1)]))
        await asyncio.sleep(0)  # it has handed its records over and waits for the commit
        first.cancel()
        outcome = (await asyncio.gather(first, return_exceptions=True))[0]
        for _ in range(200):  # nobody else comes along: the committer must finish alone
            if log.head()[0] == 1:
                break
            await asyncio.sleep(0.01)
        return outcome, log.head()[0]

    outcome, committed = asyncio.run(scenario())
    assert isinstance(outcome, asyncio.CancelledError)
    # Audited without being answered is harmless; the reverse is what must never happen.
    assert committed == 1 and count(audit_url) == 1 and log.verify() is None
