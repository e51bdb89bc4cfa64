"""Every command reads its ROBOPASS_* defaults through the one configuration loader.

Old variable names and `ROBOPASS_<SECTION>_<KEY>` both work, a flag given wins,
`ROBOPASS_CONFIG`'s file counts, and a bad value is refused with its key.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gateway.cli.demo import Ports, with_defaults
from gateway.cli.main import build_parser, main

HOST_VARIABLES = ("ROBOPASS_HOST", "ROBOPASS_PORT", "ROBOPASS_SERVER_HOST", "ROBOPASS_SERVER_PORT")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch) -> None:
    """No ROBOPASS_* variable of the developer's shell leaks into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("ROBOPASS_") and not name.startswith(("ROBOPASS_TEST", "ROBOPASS_REQ")):
            monkeypatch.delenv(name)


def claims(jws: str) -> dict:
    payload = jws.strip().split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def token_issuer(capsys, *argv: str) -> str:
    capsys.readouterr()
    assert main(["token", "de-msa", *argv]) == 0
    return claims(capsys.readouterr().out)["iss"]


def test_token_takes_host_and_port_from_old_and_new_variables_and_flags(
    tmp_path, monkeypatch, capsys
) -> None:
    data = ["--data-dir", str(tmp_path)]
    assert token_issuer(capsys, *data) == "http://127.0.0.1:8000/auth"
    monkeypatch.setenv("ROBOPASS_PORT", "9321")
    assert token_issuer(capsys, *data) == "http://127.0.0.1:9321/auth"
    monkeypatch.setenv("ROBOPASS_SERVER_PORT", "9322")  # the new name wins over the old
    assert token_issuer(capsys, *data) == "http://127.0.0.1:9322/auth"
    assert token_issuer(capsys, *data, "--port", "9400") == "http://127.0.0.1:9400/auth"


def test_token_reads_the_configuration_file_and_the_data_dir_variable(
    tmp_path, monkeypatch, capsys
) -> None:
    config = tmp_path / "robopass.toml"
    config.write_text('[server]\nhost = "gateway.internal"\nport = 9555\n', encoding="utf-8")
    monkeypatch.setenv("ROBOPASS_CONFIG", str(config))
    monkeypatch.setenv("ROBOPASS_DATA_DIR", str(tmp_path / "keys"))
    assert token_issuer(capsys) == "http://gateway.internal:9555/auth"
    assert (tmp_path / "keys").is_dir(), "the demo signing key lives in ROBOPASS_DATA_DIR"


@pytest.mark.parametrize(
    ("argv", "variable", "value", "words"),
    [
        (["auth-server"], "ROBOPASS_AUTH_PORT", "nine", "auth_server.port: must be an integer"),
        (
            ["registry", "serve", "--format", "aas"],
            "ROBOPASS_NODE_PORT",
            "70000",
            "node.port: must be <= 65535",
        ),
        (
            ["registry", "rollup", "--db", "unused.db"],
            "ROBOPASS_ROLLUP_AFTER",
            "3 weeks",
            "rollup.after: must be a number and d, h or m, e.g. 30d",
        ),
        (["token", "de-msa"], "ROBOPASS_PORT", "eighty", "server.port: must be an integer"),
    ],
)
def test_a_bad_variable_is_refused_with_its_key(
    tmp_path, monkeypatch, argv, variable, value, words
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as refused:
        main(argv)
    message = str(refused.value)
    assert message.startswith("robopass: configuration:") and words in message
    assert list(tmp_path.iterdir()) == [], "nothing is created before the refusal"


def test_a_broken_variable_of_one_command_does_not_stop_another(
    tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("ROBOPASS_ROLLUP_AFTER", "soon")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    assert "registry" in capsys.readouterr().out
    db = f"sqlite:///{tmp_path / 'fleet.db'}"
    assert main(["registry", "seed", "--robots", "2", "--db", db]) == 0


def test_rollup_age_from_the_variable_unless_given(tmp_path, monkeypatch, capsys) -> None:
    db = f"sqlite:///{tmp_path / 'fleet.db'}"
    assert main(["registry", "seed", "--robots", "2", "--db", db]) == 0
    capsys.readouterr()
    assert main(["registry", "rollup", "--db", db]) == 0
    assert "(older than 30 days, 0:00:00)" in capsys.readouterr().out
    monkeypatch.setenv("ROBOPASS_ROLLUP_AFTER", "12h")
    assert main(["registry", "rollup", "--db", db]) == 0
    assert "(older than 12:00:00)" in capsys.readouterr().out
    assert main(["registry", "rollup", "--db", db, "--older-than", "90m"]) == 0
    assert "(older than 1:30:00)" in capsys.readouterr().out


def test_demo_ports_and_data_dir_from_the_variables(tmp_path, monkeypatch) -> None:
    args = build_parser().parse_args(["demo"])
    assert Ports.from_args(with_defaults(args)) == Ports(8000, 9000, 8101, 8102, 8103, 8104)
    monkeypatch.setenv("ROBOPASS_DEMO_BASE_PORT", "7000")
    monkeypatch.setenv("ROBOPASS_DEMO_DATA_DIR", str(tmp_path / "demo"))
    resolved = with_defaults(args)
    assert Ports.from_args(resolved) == Ports(7000, 7001, 7002, 7003, 7004, 7005)
    assert resolved.data_dir == str(tmp_path / "demo")
    given = with_defaults(build_parser().parse_args(["demo", "--base-port", "7100"]))
    assert Ports.from_args(given).gateway == 7100


def test_the_demo_gateway_listens_where_the_readme_examples_send(monkeypatch) -> None:
    """ROBOPASS_PORT, the documented way of choosing the port, moves the demo's gateway too:
    the README's demo examples send to ${ROBOPASS_PORT:-8000} with tokens minted for it."""
    monkeypatch.setenv("ROBOPASS_PORT", "8123")

    def ports(*argv: str) -> Ports:
        return Ports.from_args(with_defaults(build_parser().parse_args(["demo", *argv])))

    assert ports() == Ports(8123, 9000, 8101, 8102, 8103, 8104)
    assert ports("--gateway-port", "8200").gateway == 8200
    assert ports("--base-port", "7000").gateway == 7000


def test_audit_reads_its_log_from_the_variable(tmp_path, monkeypatch) -> None:
    missing = tmp_path / "elsewhere.audit.db"
    monkeypatch.setenv("ROBOPASS_AUDIT_DB", str(missing))
    with pytest.raises(SystemExit, match=f"no audit log at {missing}"):
        main(["audit", "verify"])
    monkeypatch.delenv("ROBOPASS_AUDIT_DB")
    monkeypatch.setenv("ROBOPASS_DATA_DIR", str(tmp_path / "data"))
    beside = tmp_path / "data" / "demo-cn.audit.db"
    with pytest.raises(SystemExit, match=f"no audit log at {beside}"):
        main(["audit", "verify"])
    assert not missing.exists() and not beside.exists()


def test_export_signs_as_the_configured_issuer_and_reads_the_database_variable(
    tmp_path, monkeypatch, capsys
) -> None:
    db = tmp_path / "fleet.db"
    assert main(["registry", "seed", "--robots", "1", "--db", str(db)]) == 0
    code = main_code(db)
    capsys.readouterr()
    monkeypatch.setenv("ROBOPASS_DB", str(db))
    export = ["export", code, "--format", "canonical", "--sign", "--data-dir", str(tmp_path)]
    assert main(export) == 0
    assert claims(capsys.readouterr().out)["iss"] == "http://127.0.0.1:8000"
    monkeypatch.setenv("ROBOPASS_ISSUER", "https://registry.example")
    assert main(export) == 0
    assert claims(capsys.readouterr().out)["iss"] == "https://registry.example"
    assert main([*export, "--issuer", "https://given.example"]) == 0
    assert claims(capsys.readouterr().out)["iss"] == "https://given.example"


def main_code(db: Path) -> str:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT code FROM robots LIMIT 1").fetchone()[0]
