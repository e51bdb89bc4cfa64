"""`robopass translate` as a process: files, stdin, NDJSON batches, bad inputs, exit codes."""

from __future__ import annotations

import json

import orjson
import pytest

from adapters import aas, untp
from tests.support.cli_process import SAMPLES, robopass
from tests.support.samples import sample_doc

EDGE = SAMPLES / "edge"


def _ndjson(docs) -> bytes:
    return b"".join(orjson.dumps(d) + b"\n" for d in docs)


def _invalid() -> dict:
    doc = sample_doc()
    doc["rbt_status"] = 99
    doc["reg_time"] = "2025-02-30 10:00:00"
    return doc


@pytest.mark.process
def test_file_to_stdout_is_a_valid_aas_environment():
    proc = robopass(
        "translate", "--from", "cn-miit", "--to", "aas", str(EDGE / "leap-day.cn-miit.json")
    )
    assert proc.returncode == 0, proc.stderr
    env = json.loads(proc.stdout)
    aas.validate(env)
    shell = env["assetAdministrationShells"][0]
    assert (
        shell["assetInformation"]["globalAssetId"]
        == "urn:robopass:robot:CNK7T2H200012402292000000229H"
    )
    assert "1 translated, 0 failed" in proc.stderr
    assert "lossless" in proc.stderr


@pytest.mark.process
def test_stdin_to_untp_reports_what_was_dropped(tmp_path):
    doc = sample_doc()
    out = tmp_path / "credential.json"
    report = tmp_path / "report.json"
    proc = robopass(
        "translate", "--from", "cn-miit", "--to", "untp-dpp", "-", "-o", str(out),
        "--report", str(report), stdin=orjson.dumps(doc),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b""
    untp.validate(json.loads(out.read_text()))
    assert "dropped" in proc.stderr and "ownership.owner" in proc.stderr
    body = json.loads(report.read_text())
    assert body["translated"] == 1 and body["failed"] == 0
    dropped = {d["path"]: d["count"] for d in body["documents"][0]["dropped"]}
    assert dropped["ownership.owner"] == 2
    assert dropped["identity.status"] == 1


@pytest.mark.process
def test_chinese_text_comes_out_unescaped():
    proc = robopass(
        "translate",
        "--from",
        "cn-miit",
        "--to",
        "untp-dpp",
        str(EDGE / "chinese-text.cn-miit.json"),
    )
    assert proc.returncode == 0, proc.stderr
    assert "杭州云深处智能科技有限公司".encode() in proc.stdout


@pytest.mark.process
def test_ndjson_batch_by_extension(tmp_path):
    docs = [json.loads(p.read_text()) for p in sorted(EDGE.glob("*.cn-miit.json"))]
    batch = tmp_path / "batch.ndjson"
    batch.write_bytes(_ndjson(docs) + b"\n")  # a blank line is not a document
    out = tmp_path / "out.ndjson"
    proc = robopass("translate", "--from", "cn-miit", "--to", "aas", str(batch), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    lines = out.read_bytes().splitlines()
    assert len(lines) == len(docs) == 5
    codes = [orjson.loads(line)["assetAdministrationShells"][0]["id"] for line in lines]
    assert codes == [f"urn:robopass:aas:{d['rbt_code']}" for d in docs]
    assert f"{len(docs)} translated, 0 failed" in proc.stderr


@pytest.mark.process
def test_ndjson_from_stdin_needs_the_flag():
    docs = [sample_doc(), sample_doc()]
    proc = robopass(
        "translate", "--from", "cn-miit", "--to", "canonical", "--ndjson", "-", stdin=_ndjson(docs)
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [orjson.loads(x)["identity"]["registered_at"] for x in lines] == [
        "2026-05-27T16:30:00Z"
    ] * 2
    as_one = robopass(
        "translate", "--from", "cn-miit", "--to", "canonical", "-", stdin=_ndjson(docs)
    )
    assert as_one.returncode == 1
    assert "<stdin>: not valid JSON" in as_one.stderr


def _bad_batch(tmp_path):
    batch = tmp_path / "batch.jsonl"
    good = orjson.dumps(sample_doc())
    batch.write_bytes(b"\n".join([good, b"{not json", orjson.dumps(_invalid()), good]) + b"\n")
    return batch


@pytest.mark.process
def test_ndjson_stops_at_the_first_bad_line(tmp_path):
    batch, out = _bad_batch(tmp_path), tmp_path / "out.ndjson"
    proc = robopass("translate", "--from", "cn-miit", "--to", "aas", str(batch), "-o", str(out))
    assert proc.returncode == 1
    assert f"{batch}:2: not valid JSON" in proc.stderr
    assert f"stopped at {batch}:2" in proc.stderr
    assert ":3:" not in proc.stderr
    assert len(out.read_bytes().splitlines()) == 1
    assert "1 translated, 1 failed" in proc.stderr


@pytest.mark.process
def test_ndjson_keep_going_translates_the_rest_and_still_fails(tmp_path):
    batch, out, report = _bad_batch(tmp_path), tmp_path / "out.ndjson", tmp_path / "r.json"
    proc = robopass(
        "translate", "--from", "cn-miit", "--to", "aas", str(batch), "-o", str(out),
        "--keep-going", "--report", str(report),
    )  # fmt: skip
    assert proc.returncode == 1
    assert f"{batch}:3: invalid input, 2 violation(s):" in proc.stderr
    assert "/rbt_status: 99 is not one of" in proc.stderr
    assert "/reg_time: '2025-02-30 10:00:00' is not a 'cn-local-date-time'" in proc.stderr
    assert len(out.read_bytes().splitlines()) == 2
    body = json.loads(report.read_text())
    assert [d["translated"] for d in body["documents"]] == [True, False, False, True]
    assert [d["line"] for d in body["documents"]] == [1, 2, 3, 4]
    pointers = {v["pointer"] for v in body["documents"][2]["violations"]}
    assert pointers == {"/rbt_status", "/reg_time"}


@pytest.mark.process
def test_schema_violation_lists_every_pointer_and_writes_nothing(tmp_path):
    src, out = tmp_path / "bad.json", tmp_path / "out.json"
    src.write_bytes(orjson.dumps(_invalid()))
    proc = robopass("translate", "--from", "cn-miit", "--to", "aas", str(src), "-o", str(out))
    assert proc.returncode == 1
    assert "invalid input, 2 violation(s)" in proc.stderr
    assert "/rbt_status:" in proc.stderr and "/reg_time:" in proc.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [src], "no temporary file left behind"


@pytest.mark.process
def test_failed_translation_leaves_an_existing_output_untouched(tmp_path):
    src, out = tmp_path / "bad.json", tmp_path / "out.json"
    src.write_text('{"rbt_code": ')
    out.write_text("previous")
    proc = robopass("translate", "--from", "cn-miit", "--to", "aas", str(src), "-o", str(out))
    assert proc.returncode == 1
    assert f"{src}: not valid JSON" in proc.stderr
    assert out.read_text() == "previous"


@pytest.mark.process
def test_output_the_target_cannot_hold_is_named(tmp_path):
    canonical = robopass("translate", "--from", "cn-miit", "--to", "canonical", "-",
                         stdin=orjson.dumps(sample_doc()))  # fmt: skip
    doc = json.loads(canonical.stdout)
    doc["manufacturer"]["registration_id"] = "not a USCC"
    proc = robopass(
        "translate", "--from", "canonical", "--to", "cn-miit", "-", stdin=orjson.dumps(doc)
    )
    assert proc.returncode == 1
    assert "invalid output as cn-miit, 1 violation(s)" in proc.stderr
    assert "/mfr/uscc" in proc.stderr
    assert proc.stdout == b""


@pytest.mark.process
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--from", "xml", "--to", "aas", "x.json"],
            "unknown format 'xml'; known: aas, canonical, cn-miit, untp-dpp",
        ),
        (
            ["--from", "cn-miit", "--to", "aas", "missing.json"],
            "cannot read missing.json: no such file",
        ),
        (
            ["--from", "cn-miit", "--to", "aas", "-", "-o", "no/such/dir/out.json"],
            "no such directory",
        ),
    ],
)
def test_usage_errors_exit_2(tmp_path, args, message):
    proc = robopass("translate", *args, cwd=tmp_path, stdin=b"{}")
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stdout == b""


def test_the_help_names_every_format():
    from adapters.translate import FORMATS
    from gateway.cli.translate import FORMAT_HELP

    listed = FORMAT_HELP.split(": ", 1)[1].split(" (")[0].split(", ")
    assert sorted(listed) == sorted(FORMATS)
