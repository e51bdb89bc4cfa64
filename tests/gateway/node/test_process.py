"""`robopass registry serve` as real processes: a node trusting a real issuer by URL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.node_process import node_args, running_robopass, service_token


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("issuer")
    with running_robopass("auth-server", "--data-dir", str(data_dir)) as (base, _):
        yield base


@pytest.mark.process
def test_eu_node_seeds_on_first_run_and_serves_aas(issuer: str, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'eu.db'}"
    args = node_args(issuer, tmp_path, "--format", "aas", "--country", "DE", "--country", "FR")
    args += ["--robots", "12", "--db", db]
    with running_robopass(*args) as (base, server):
        assert any("eu-dpp (aas): 12 robots" in line for line in server.lines)
        assert httpx.get(f"{base}/robots").status_code == 401
        auth = {"authorization": f"Bearer {service_token(issuer)}"}
        listed = httpx.get(f"{base}/robots", params={"first": 50}, headers=auth).json()
        codes = [r["code"] for r in listed["robots"]]
        assert len(codes) == 12 and {c[:2] for c in codes} == {"DE", "FR"}
        assert {r["format"] for r in listed["robots"]} == {"aas"}
        batch = httpx.post(
            f"{base}/robots:batchGet", json={"codes": codes[:3] + codes[:1]}, headers=auth
        ).json()
        assert [r["code"] for r in batch["robots"]] == codes[:3] and batch["missing"] == []
        one = httpx.get(f"{base}/robots/{codes[0]}", headers=auth)
        assert one.json() == batch["robots"][0]
        again = httpx.get(
            f"{base}/robots/{codes[0]}", headers={**auth, "if-none-match": one.headers["etag"]}
        )
        assert again.status_code == 304
        person = {"authorization": f"Bearer {service_token(issuer, 'de-msa')}"}
        assert httpx.get(f"{base}/robots", headers=person).status_code == 403
        metrics = httpx.get(f"{base}/metrics").text
        assert 'route="/robots:batchGet",status="200"} 1.0' in metrics
        out = "\n".join(server.lines)
        assert auth["authorization"].split()[1] not in out, "a token reached the log"
    with running_robopass(*args) as (base, server):
        assert not any("Seeding" in line for line in server.lines), "seeded once only"


@pytest.mark.process
def test_postgresql_node_appends_and_replays(issuer: str, tmp_path: Path, pg_url: str) -> None:
    args = node_args(issuer, tmp_path, "--format", "cn-miit", "--robots", "5", "--db", pg_url)
    with running_robopass(*args) as (base, _):
        auth = {"authorization": f"Bearer {service_token(issuer)}"}
        code = httpx.get(f"{base}/robots", params={"first": 1}, headers=auth).json()["robots"][0][
            "code"
        ]
        assert code.startswith("CN")
        body = {
            "type": "STATUS_CHANGED",
            "at": "2026-11-01T09:00:00Z",
            "payload": {"status": "SUSPENDED", "reason": "inspection"},
        }
        key = {**auth, "idempotency-key": "pg-1"}
        created = httpx.post(f"{base}/robots/{code}/events", json=body, headers=key)
        assert created.status_code == 201, created.text
        replay = httpx.post(f"{base}/robots/{code}/events", json=body, headers=key)
        assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
        assert replay.json() == created.json()
        head = httpx.get(f"{base}/robots/{code}", headers=auth)
        assert head.headers["etag"] == f'"{created.json()["event"]["hash"]}"'
        integrity = httpx.get(f"{base}/robots/{code}/integrity", headers=auth).json()
        assert integrity["verified"] and integrity["headHash"] == created.json()["event"]["hash"]
        assert httpx.get(f"{base}/readyz").json() == {"status": "ready"}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--country", "XX"], "--country: no synthetic makers for 'XX'"),
        (["--trust-issuer", "http://issuer.example"], "refusing non-https URL"),
        (["--robots", "-1"], "--robots: -1 is negative"),
    ],
)
def test_bad_options_are_refused_before_anything_is_stored(
    tmp_path: Path, args, words, capsys
) -> None:
    from gateway.cli.main import main

    db = tmp_path / "node.db"
    with pytest.raises(SystemExit) as refused:
        main(["registry", "serve", "--format", "aas", "--db", str(db), *args])
    # A count or country is refused while parsing (exit 2, argparse's line on stderr).
    assert words in str(refused.value) + capsys.readouterr().err
    assert not db.exists()
