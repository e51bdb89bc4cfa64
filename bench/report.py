"""The history report page of a robot with 500 events: render time and page weight.

    python -m bench.report [--events 500] [--renders 50]

A synthetic robot's log is extended with condition snapshots, maintenance,
software updates and incidents to `--events` events, stored in a temporary
registry, and its page is requested in process through the ASGI app (source
read, mask, view model, charts, template), as the public, as a used-robot
buyer (condition, maintenance and incidents visible) and with policies off
(everything visible: the heaviest page). Targets: under 300 ms per render,
under 200 KB per page.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import platform
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import httpx

from gateway.edge.auth import demo_issuer
from gateway.report.i18n import translator
from gateway.report.model import build_report
from gateway.report.routes import chart_markup
from gateway.report.session import COOKIE
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from gateway.web.app import create_app
from policies import PolicySet, TokenVerifier
from policies.authserver import issue_token
from schema.events import (
    Event,
    EventType,
    SoftwareUpdate,
    chain,
    fold,
    payload_of,
    verify,
)
from schema.graphql.objects import EVERYTHING
from schema.passport import (
    Incident,
    IncidentCategory,
    IncidentStatus,
    JointWear,
    MaintenanceKind,
    MaintenanceRecord,
    RootCause,
    Severity,
)

ISSUER = "http://bench/auth"
TARGET_MS, TARGET_KB = 300, 200


def long_history(events: int) -> list[Event]:
    """The longest robot of a small synthetic fleet, lived on until it has `events` events."""
    history = max(synthetic_fleet(50, seed=3), key=len)
    passport = fold(history)
    assert passport is not None and passport.conditions
    condition = passport.conditions[-1]
    at = history[-1].at
    step = 0
    while len(history) < events:
        step += 1
        at += timedelta(days=2)
        hours = condition.operating_hours + 30
        if step % 3 == 0:
            kind = MaintenanceKind.CALIBRATION if step % 2 else MaintenanceKind.INSPECTION
            body = MaintenanceRecord(
                at, kind, "joint encoders", None, "Bench Service Center", hours, "Routine."
            )
            event_type = EventType.MAINTENANCE_RECORDED
        elif step % 40 == 0:
            software = replace(passport.software, firmware_version=f"9.{step}.0")
            body, event_type = SoftwareUpdate(at, software), EventType.SOFTWARE_UPDATED
        elif step % 97 == 0:
            body = Incident(
                f"{passport.code}-B{step}",
                at,
                Severity.MINOR,
                IncidentCategory.COLLISION,
                RootCause.OPERATOR,
                "Brushed a shelf while turning.",
                None,
                IncidentStatus.CLOSED,
                None,
            )
            event_type = EventType.INCIDENT_REPORTED
        else:
            condition = replace(
                condition,
                at=at,
                operating_hours=hours,
                battery_health_pct=round(max(60.0, condition.battery_health_pct - 0.05), 2),
                charge_cycles=condition.charge_cycles + 12,
                movement_precision_mm=round(condition.movement_precision_mm + 0.001, 3),
                joint_wear=[
                    JointWear(j.joint, round(min(100.0, j.wear_pct + 0.1), 1))
                    for j in condition.joint_wear
                ],
            )
            body, event_type = condition, EventType.CONDITION_RECORDED
        last = history[-1]
        payload = payload_of(event_type, body)
        history.append(chain(last.code, last.sequence + 1, at, event_type, payload, last.hash))
    return history


async def measure(app, url: str, cookies: dict[str, str], renders: int) -> dict:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench", cookies=cookies
    ) as client:
        first = await client.get(url)
        assert first.status_code == 200, first.status_code
        times = []
        for _ in range(renders):
            start = time.perf_counter()
            response = await client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
    body = response.content
    return {
        "median_ms": statistics.median(times),
        "p95_ms": sorted(times)[int(len(times) * 0.95) - 1],
        "kb": len(body) / 1024,
        "gzip_kb": len(gzip.compress(body)) / 1024,
        "points": body.count(b"<polyline"),
        "entries": body.count(b"<li data-kind"),
    }


async def parts(source: LocalSource, code: str, renders: int) -> dict:
    """Where a full-view render goes: reading the passport, the log, the model, the charts."""
    read, log, model = [], [], []
    for _ in range(renders):
        t0 = time.perf_counter()
        record = await source.robot(code)
        t1 = time.perf_counter()
        events = (await source.history(code, 1000, None)).items
        chain = verify(events)
        t2 = time.perf_counter()
        report = build_report(record, events, chain, EVERYTHING)
        for chart in report.charts:
            chart_markup(chart, translator("en"))
        t3 = time.perf_counter()
        read.append((t1 - t0) * 1000)
        log.append((t2 - t1) * 1000)
        model.append((t3 - t2) * 1000)
    return {
        "read_ms": statistics.median(read),
        "log_ms": statistics.median(log),
        "model_ms": statistics.median(model),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--renders", type=int, default=50)
    args = parser.parse_args()

    history = long_history(args.events)
    code = history[0].code
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "bench.db")
        store.import_histories([history])
        source = LocalSource(store)
        verifier = TokenVerifier([demo_issuer(ISSUER, tmp)])
        policed = create_app(Services(source, PolicySet.demo(), verifier=verifier))
        everything = create_app(Services(source, policy=None))
        buyer = {COOKIE: issue_token("used-robot-buyer", tmp, ISSUER)}
        url = f"/robots/{code}"
        runs = {
            "public": asyncio.run(measure(policed, url, {}, args.renders)),
            "used-robot buyer": asyncio.run(measure(policed, url, buyer, args.renders)),
            "policies off (everything)": asyncio.run(measure(everything, url, {}, args.renders)),
        }
        runs["parts"] = asyncio.run(parts(source, code, args.renders))
        store.close()

    snapshots = sum(e.type is EventType.CONDITION_RECORDED for e in history)
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, date {date.today()}"
    )
    print(f"robot {code}: {len(history)} events, {snapshots} condition snapshots")
    print(f"{args.renders} renders per view, in process through the ASGI app")
    print(f"{'view':<28}{'median ms':>10}{'p95 ms':>8}{'KB':>8}{'gzip KB':>9}{'entries':>9}")
    split = runs.pop("parts")
    for name, r in runs.items():
        print(
            f"{name:<28}{r['median_ms']:>10.1f}{r['p95_ms']:>8.1f}{r['kb']:>8.1f}"
            f"{r['gzip_kb']:>9.1f}{r['entries']:>9}"
        )
    print(
        f"full view, medians: passport read {split['read_ms']:.1f} ms, log read + chain check "
        f"{split['log_ms']:.1f} ms, view model + charts {split['model_ms']:.1f} ms"
    )
    worst_ms = max(r["median_ms"] for r in runs.values())
    worst_kb = max(r["kb"] for r in runs.values())
    print(f"targets: render < {TARGET_MS} ms (worst median {worst_ms:.1f}), ", end="")
    print(f"page < {TARGET_KB} KB (heaviest {worst_kb:.1f})")


if __name__ == "__main__":
    main()
