"""The audit log's own checkpoints: cutting off its newest records is detected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.service.auditlog import AuditTransparency, CheckpointMismatch
from policies import AuditLog
from policies.audit import AuditRecord
from schema.tlog.note import Checkpoint, Signer, sign_note, split_note
from tests.support.cli_process import robopass_text as robopass

START = datetime(2026, 12, 1, tzinfo=UTC)


def record(i: int) -> AuditRecord:
    return AuditRecord(
        at=START + timedelta(minutes=i), issuer="http://issuer", subject=f"client-{i}",
        organisation="Org", role="regulator", token_id=None, code="CNBF6CH4A0102506141463380400E",
        served=("identity.code",), denied=(), purposes=("compliance",), agreements=(),
        policy_version="1",
    )  # fmt: skip


@pytest.fixture
def audit_db(tmp_path: Path) -> Path:
    path = tmp_path / "fleet.audit.db"
    log = AuditLog(path)
    try:
        log.append_many([record(i) for i in range(7)])
    finally:
        log.close()
    return path


def test_a_checkpoint_is_held_until_records_are_cut_off_or_changed(audit_db: Path) -> None:
    signer = Signer.generate("robopass.audit/test")
    log = AuditLog(audit_db)
    try:
        whole = AuditTransparency(log, signer)
        note = whole.checkpoint()
        text = Checkpoint(signer.name, 5, whole._tree.root(5)).text()
        first_five = sign_note(text, [signer])
        log.append(record(7))
        assert AuditTransparency(log).check(note, signer.verifier).size == 7
        log.backend.execute("DELETE FROM audit_log WHERE id >= 7")
        with pytest.raises(CheckpointMismatch, match="TRUNCATED: checkpoint 7 covers 7"):
            AuditTransparency(log).check(note, signer.verifier)
        assert AuditTransparency(log).check(first_five, signer.verifier).size == 5
        log.backend.execute("UPDATE audit_log SET hash = ? WHERE id = 3", ("0" * 64,))
        with pytest.raises(CheckpointMismatch, match="REWRITTEN: the first 5 records"):
            AuditTransparency(log).check(first_five, signer.verifier)
    finally:
        log.close()


@pytest.mark.process
def test_the_command_line_keeps_and_checks_a_checkpoint(audit_db: Path, tmp_path: Path) -> None:
    made = robopass("audit", "checkpoint", "--db", str(audit_db), "--data-dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("robopass.audit/local\n7\n")
    key = made.stderr.strip().removeprefix("audit log key: ")
    saved = tmp_path / "audit.checkpoint"
    saved.write_text(made.stdout, encoding="utf-8")
    args = ["audit", "verify", "--db", str(audit_db), "--checkpoint", str(saved)]
    held = robopass(*args, "--log-key", key)
    assert held.returncode == 0 and "holds checkpoint 7" in held.stdout
    log = AuditLog(audit_db)
    try:
        log.backend.execute("DELETE FROM audit_log WHERE id >= 6")
    finally:
        log.close()
    cut = robopass(*args, "--log-key", key)
    assert cut.returncode == 1
    assert cut.stdout.startswith("audit log TRUNCATED: checkpoint 7 covers 7 records")
    missing = robopass(*args)
    assert missing.returncode != 0 and "--checkpoint needs --log-key" in missing.stderr


def test_signing_again_reads_only_the_new_records_and_a_cut_is_read_anew(audit_db: Path) -> None:
    signer = Signer.generate("robopass.audit/test")
    log = AuditLog(audit_db)
    read: list[int] = []
    every_row = log.rows

    def counted(after: int = 0, **kwargs):
        for row in every_row(after, **kwargs):
            read.append(row[0])
            yield row

    try:
        kept = AuditTransparency(log, signer)
        kept.checkpoint()
        log.rows = counted  # type: ignore[method-assign]
        log.append_many([record(7), record(8)])
        again = _checkpoint(kept.checkpoint())
        assert read == [8, 9], "only the two new records are read"
        assert (again.size, again.root) == (
            9,
            _checkpoint(AuditTransparency(log, signer).checkpoint()).root,
        )
        log.backend.execute("DELETE FROM audit_log WHERE id >= 6")
        read.clear()
        assert _checkpoint(kept.checkpoint()).size == 5
        assert read == [1, 2, 3, 4, 5], "a log cut below what was read is read again whole"
    finally:
        log.close()


def _checkpoint(note: str) -> Checkpoint:
    return Checkpoint.parse(split_note(note)[0])
