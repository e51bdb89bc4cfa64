"""Served mapping documents in capped worker processes (`gateway.workbench.pool`).

The pathological rule doubles a string 34 times (16 GB). Its documents get a time budget
of a minute, so that on a loaded machine only the memory cap can be what stops it.
"""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import orjson
import pytest

from adapters.mapdoc import parse
from adapters.mapengine import Limits, Program, RuleFailed, compile_rules
from gateway.config.settings import load_config
from gateway.service.export import ExportFailed, export_document
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.synthetic.fleet import synthetic_fleet
from gateway.web.app import create_app
from gateway.web.serving import export_mappings
from gateway.workbench.pool import CappedMapping, WorkerPool
from policies import PolicySet
from policies.mask import mask_for
from schema.events import fold
from schema.passport import DataClass
from tests.support.mappings import COPY_ALL, SCHEMA, copy_all

BOMB = "($f := function($s, $n){$n = 0 ? $s : $f($s & $s, $n - 1)}; $length($f('x', 34)))"
BOMB_DOC = COPY_ALL.replace("    expression: $string($)\n", f'    expression: "{BOMB}"\n')
BOMB_LINE = 11
MINUTE = Limits(time_ms=60_000)

pytestmark = pytest.mark.process  # every test starts worker processes


def _bomb_pool(workers: int) -> WorkerPool:
    bomb = compile_rules(parse(BOMB_DOC, "copy-all.mapping.yaml").rules, MINUTE)
    return WorkerPool({"copy-all": bomb}, 64, workers)


def _folder(tmp_path, text: str):
    (tmp_path / "any.schema.json").write_bytes(orjson.dumps(SCHEMA))
    (tmp_path / "copy-all.mapping.yaml").write_text(text, "utf-8")
    return tmp_path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _served(folder, **overrides):
    keys = {f"mappings.{key}": value for key, value in overrides.items()}
    settings = load_config(None, {"ROBOPASS_MAPPINGS": str(folder)}, keys)
    return export_mappings(settings)


def test_a_rule_over_the_cap_fails_naming_it_and_the_pool_goes_on(tmp_path):
    passport = fold(next(iter(synthetic_fleet(1, seed=0))))
    pool = _bomb_pool(2)
    served = pool.runners()
    before = pool.pids()
    try:
        with pytest.raises(
            ExportFailed,
            match=rf"export format 'copy-all' failed: rule 'text' \(line {BOMB_LINE}\): "
            r"stopped: needed more than 64 MB of memory$",
        ):
            export_document(passport, "copy-all", None, served)
        after = pool.pids()
        assert len(after) == 2 and set(after) != set(before), "a fresh worker took over"
        assert [pid for pid in before if pid not in after and _alive(pid)] == []
        with pytest.raises(ExportFailed, match="needed more than 64 MB"):  # and runs again
            export_document(passport, "copy-all", None, served)
    finally:
        pool.close()
    assert [pid for pid in pool.pids() + after if _alive(pid)] == [], "closing ends the workers"


def test_served_documents_run_in_the_pool_by_default(tmp_path):
    served = _served(_folder(tmp_path, COPY_ALL))
    runner = served["copy-all"]
    assert isinstance(runner, CappedMapping)
    try:
        assert len(runner.pool.pids()) == 2 and runner.pool.memory_mb == 256
    finally:
        runner.pool.close()


def test_within_the_cap_the_pool_gives_what_the_document_gives_in_process(tmp_path):
    passports = [fold(log) for log in synthetic_fleet(3, seed=2)]
    in_process = copy_all(tmp_path)
    assert isinstance(in_process["copy-all"], Program)
    served = _served(tmp_path, workers=1)
    pool = served["copy-all"].pool  # type: ignore[attr-defined]
    try:
        for passport in passports:
            for mask in (None, mask_for(frozenset()), mask_for(frozenset(DataClass))):
                expected = export_document(passport, "copy-all", mask, in_process)
                assert export_document(passport, "copy-all", mask, served) == expected
    finally:
        pool.close()


def test_a_rules_own_failure_in_a_worker_is_its_own_message_and_the_worker_stays():
    failing = COPY_ALL.replace("expression: $string($)", "expression: $error('no')")
    pool = WorkerPool({"x": compile_rules(parse(failing, "x.yaml").rules)}, 64, 1)
    try:
        pids = pool.pids()
        with pytest.raises(RuleFailed, match=r"^rule 'text' \(line 11\): failed: .*no"):
            pool.run("x", {})
        assert pool.pids() == pids
    finally:
        pool.close()


def test_a_served_bomb_is_a_clear_answer_and_the_gateway_serves_on(tmp_path, store):
    pool = _bomb_pool(1)
    served = pool.runners()
    app = create_app(Services(LocalSource(store), PolicySet.demo(), mappings=served))
    code = store.codes(limit=1)[0]

    async def ask() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return [
                await client.get(f"/robots/{code}/export/copy-all"),
                await client.get(f"/robots/{code}/export/aas"),
                await client.get(f"/robots/{code}/export/copy-all"),
            ]

    try:
        failed, fine, again = asyncio.run(ask())
    finally:
        pool.close()
    for answer in (failed, again):
        assert answer.status_code == 422
        error = answer.json()["errors"][0]
        assert error["extensions"]["code"] == "EXPORT_FAILED"
        assert error["message"].endswith(
            f"rule 'text' (line {BOMB_LINE}): stopped: needed more than 64 MB of memory"
        )
    assert fine.status_code == 200


def test_a_cap_of_zero_runs_the_documents_in_process(tmp_path):
    served = _served(_folder(tmp_path, COPY_ALL), memory_mb=0)
    assert isinstance(served["copy-all"], Program)


def test_a_worker_killed_from_outside_is_not_blamed_on_memory_and_is_replaced(tmp_path):
    program = copy_all(tmp_path)["copy-all"]
    assert isinstance(program, Program)
    pool = WorkerPool({"copy-all": program}, 64, 1)
    try:
        assert pool.run("copy-all", {"a": 1})["whole"] == {"a": 1}
        (pid,) = pool.pids()
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(RuleFailed, match="failed: the evaluation ended unexpectedly"):
            pool.run("copy-all", {"a": 1})
        assert pool.pids() != [pid]
        assert pool.run("copy-all", {"a": 2})["whole"] == {"a": 2}
    finally:
        pool.close()
