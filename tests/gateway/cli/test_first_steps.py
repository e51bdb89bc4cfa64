"""A newcomer's first mistakes with the command line: each is one line with a next step.

Every command here runs in process through `main`, against real files in a
temporary folder; nothing is created where a command refused.
"""

from __future__ import annotations

import argparse
import json
import socket
import sqlite3
from pathlib import Path

import pytest

from gateway.cli.main import build_parser, main
from gateway.cli.serve import demo_parties
from gateway.cli.token import token_command
from gateway.store.open import open_store, sqlite_path
from policies.auditdb import sqlite_file
from tests.support.paths import ROOT

SAMPLES = ROOT / "samples"


def refusal(args: list[str]) -> str:
    """The one line a command exits with; fails when it does not exit."""
    with pytest.raises(SystemExit) as exit_:
        main(args)
    return str(exit_.value.code)


def test_version_is_the_installed_distributions(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    printed = capsys.readouterr().out.split()
    assert printed[0] == "robopass" and printed[1][0].isdigit()


def actions(parser: argparse.ArgumentParser, name: str = "robopass"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for command, child in action.choices.items():
                yield f"{name} {command}", None, helps.get(command), child
                yield from actions(child, f"{name} {command}")
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            yield name, action, action.help, parser


def test_every_command_and_option_says_what_it_is() -> None:
    missing = []
    for where, action, text, parser in actions(build_parser()):
        what = where if action is None else f"{where} {action.option_strings or action.dest}"
        if not text:
            missing.append(what)
        if action is None and not parser.description:
            missing.append(f"{where} (description)")
    assert missing == []


def test_help_shows_defaults_and_the_tokens_port(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["token", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "ROBOPASS_PORT; default 8000" in text and "ROBOPASS_DATA_DIR" in text
    with pytest.raises(SystemExit):
        main(["registry", "seed", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 1000)" in text and "(default: cn-heis)" in text and "(default: 0)" in text


def test_the_serve_banner_prints_the_token_command_of_its_own_port_and_folder() -> None:
    assert token_command("127.0.0.1", 8000, None, "fleet-owner") == "robopass token fleet-owner"
    lines = demo_parties("http://127.0.0.1:8123/auth", "127.0.0.1", 8123, "/tmp/my data", True)
    assert "TOKEN=$(robopass token used-robot-buyer --port 8123 --data-dir '/tmp/my data')" in lines
    assert "public fields only" in lines and "fleet-owner" in lines
    assert "robopass-gateway" not in lines, "the federation's service client is no party"


def test_a_token_is_minted_for_the_port_asked(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ROBOPASS_DATA_DIR", str(tmp_path))
    issuers = []
    notes = []
    for args, env in (([], None), (["--port", "8124"], None), ([], "8125")):
        if env:
            monkeypatch.setenv("ROBOPASS_PORT", env)
        assert main(["token", "used-robot-buyer", *args]) == 0
        printed = capsys.readouterr()
        payload = printed.out.strip().split(".")[1]
        issuers.append(json.loads(_b64(payload))["iss"])
        notes.append(printed.err)
    # The first token made the folder's key, and says so: a server elsewhere would not trust it.
    assert f"{tmp_path} had no signing key, so one was made" in notes[0]
    assert "--data-dir" in notes[0] and notes[1:] == ["", ""]
    assert issuers == [
        "http://127.0.0.1:8000/auth",
        "http://127.0.0.1:8124/auth",
        "http://127.0.0.1:8125/auth",
    ]


def _b64(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_a_missing_database_is_refused_and_not_created(tmp_path: Path) -> None:
    typo = tmp_path / "nonexistent" / "typo.db"
    for command in ("verify", "recommit", "rollup"):
        line = refusal(["registry", command, "--db", str(typo)])
        assert line.startswith(f"robopass: no database at {typo}") and "--db" in line
    assert not typo.parent.exists(), "a refused command created folders"


def test_sqlite_url_names_an_absolute_path(tmp_path: Path) -> None:
    assert sqlite_file("sqlite:///tmp/x.db") == "/tmp/x.db"
    assert sqlite_file("sqlite:////tmp/x.db") == "/tmp/x.db"
    assert sqlite_file("relative/x.db") == "relative/x.db"
    assert sqlite_file("sqlite:///:memory:") == ":memory:"
    with pytest.raises(ValueError, match="three slashes"):
        sqlite_file("sqlite://host/x.db")
    store = open_store(f"sqlite://{tmp_path}/made.db")  # sqlite:// + /abs/path: three slashes
    store.close()
    assert (tmp_path / "made.db").is_file()
    assert sqlite_path(f"sqlite://{tmp_path}/made.db") == f"{tmp_path}/made.db"


def test_seed_refuses_a_negative_count_and_reads_a_country_in_any_case(tmp_path, capsys) -> None:
    db = tmp_path / "fleet.db"
    assert refusal(["registry", "seed", "--robots", "-5", "--db", str(db)]) == "2"
    assert "--robots: -5 is negative" in capsys.readouterr().err and not db.exists()
    for usage_error in (["registry", "seed", "--robots", "-5"], ["registry", "import"]):
        assert refusal(usage_error) == "2"
        lines = capsys.readouterr().err.splitlines()  # one line, not argparse's usage above it
        assert len(lines) == 1 and lines[0].startswith(f"robopass {' '.join(usage_error[:2])}:")
        assert f"`robopass {' '.join(usage_error[:2])} --help`" in lines[0]
    assert refusal(["registry", "seed", "--country", "XX", "--db", str(db)]) == "2"
    assert "use one of CN, DE, FR" in capsys.readouterr().err and not db.exists()
    assert main(["registry", "seed", "--robots", "2", "--country", "de", "--db", str(db)]) == 0
    store = open_store(str(db))
    assert {code[:2] for code in store.codes(limit=5)} == {"DE"}
    store.close()


def test_seeding_a_sync_mirror_is_refused_before_any_migration(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror.db"
    with sqlite3.connect(mirror) as db:  # the tables `robopass sync` makes
        db.execute("CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("CREATE TABLE robots (code TEXT PRIMARY KEY, version INTEGER, document TEXT)")
    line = refusal(["registry", "seed", "--robots", "1", "--db", str(mirror)])
    assert "is not a robopass registry database" in line and "sync_state" in line
    with sqlite3.connect(mirror) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert tables == {"sync_state", "robots", "sqlite_autoindex_sync_state_1",
                      "sqlite_autoindex_robots_1"}  # fmt: skip


def busy_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_a_busy_port_is_one_line_before_any_banner(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ROBOPASS_DATA_DIR", str(tmp_path / "data"))
    with busy_port() as sock:
        port = str(sock.getsockname()[1])
        line = refusal(["serve", "--port", port])
        assert f"127.0.0.1:{port}: the port is in use" in line and "--port" in line
        line = refusal(["demo", "--gateway-port", port, "--data-dir", str(tmp_path / "demo")])
        assert "the port is in use" in line and "--gateway-port" in line
        line = refusal(["auth-server", "--port", port])
        assert "ROBOPASS_AUTH_PORT" in line
    assert capsys.readouterr().out == "", "a banner came before the refusal"
    assert not (tmp_path / "data" / "demo-cn.db").exists() and not (tmp_path / "demo").exists()


def test_sync_against_a_dead_gateway_says_what_to_check(tmp_path: Path) -> None:
    with busy_port() as sock:  # bound, then closed: nothing listens there
        port = sock.getsockname()[1]
    out = tmp_path / "mirror.db"
    gateway = f"http://127.0.0.1:{port}"
    line = refusal(["sync", "--gateway", gateway, "--token", "t", "--out", str(out), "--quiet"])
    assert line.startswith(f"robopass: cannot reach the gateway at {gateway}")
    assert "--gateway" in line
    assert list(tmp_path.iterdir()) == [], "a refused first sync left a mirror file"


def test_sync_with_an_owner_name_says_to_leave_it_out(tmp_path: Path) -> None:
    args = ["sync", "--gateway", "http://127.0.0.1:9", "--token", "t", "--out"]
    line = refusal([*args, str(tmp_path / "m.db"), "--owner", "My Org", "--quiet"])
    assert "not a name" in line and "leave it out" in line
    assert list(tmp_path.iterdir()) == [], "a refused sync left a mirror file"


def test_a_document_of_another_format_says_which_it_looks_like(capsys, tmp_path) -> None:
    aas = SAMPLES / "edge" / "leap-day.aas.json"
    report = tmp_path / "report.json"
    args = ["translate", "--from", "cn-miit", "--to", "untp-dpp", str(aas)]
    assert main([*args, "--report", str(report)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert "this looks like an AAS environment: translate it from aas" in err[0]
    assert not [line for line in err if "required property" in line], "one line, not 15"
    assert "'rbt_code' is a required property" in report.read_text(), "the report keeps them"
    cn = SAMPLES / "edge" / "leap-day.cn-miit.json"
    assert main(["translate", "--from", "aas", "--to", "untp-dpp", str(cn)]) == 1
    assert "this looks like a cn-miit registry record" in capsys.readouterr().err
