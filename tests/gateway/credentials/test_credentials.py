"""Signed passports: issuing, the registry key, and `robopass verify` as a user runs it."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from joserfc import jws
from joserfc.jwk import ECKey

from gateway.credentials.keys import KEY_FILE, public_jwks, rotate_key, signing_key
from gateway.credentials.signing import ENVELOPE_TYPE, VC_CONTEXT, RegistrySigner, issue
from gateway.credentials.verification import InvalidCredential, key_set, verify
from tests.support.cli_process import robopass_text as robopass
from tests.support.ports import free_port
from tests.support.signing import parts, unb64

ISSUER = "https://registry.example"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(token: str, header: dict) -> str:
    """The token with its header replaced and the original signature kept."""
    _, p, s = token.split(".")
    return f"{b64(json.dumps(header).encode())}.{p}.{s}"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """A seeded store, a data dir and one credential signed by `robopass export --sign`."""
    root = tmp_path_factory.mktemp("registry")
    db, data = root / "fleet.db", root / "data"
    seeded = robopass("registry", "seed", "--robots", "3", "--db", db)
    assert seeded.returncode == 0, seeded.stderr
    with sqlite3.connect(db) as conn:
        code = conn.execute("SELECT code FROM robots ORDER BY code LIMIT 1").fetchone()[0]
    out = root / "robot.vc.jwt"
    signed = robopass(
        "export", code, "--format", "canonical", "--sign", "--db", db,
        "--data-dir", data, "--issuer", ISSUER, "-o", out,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    jwks = root / "jwks.json"
    jwks.write_text(json.dumps(public_jwks(data)))
    return {"db": db, "data": data, "code": code, "credential": out, "jwks": jwks, "root": root}


@pytest.mark.process
def test_intact_credential_verifies_and_says_who_when_what(registry):
    result = robopass("verify", registry["credential"], "--jwks", registry["jwks"])
    assert result.returncode == 0, result.stdout + result.stderr
    kid = signing_key(registry["data"]).kid
    assert "VALID" in result.stdout
    assert f"issuer:  {ISSUER} (cn-heis)" in result.stdout
    assert f"key:     {kid}" in result.stdout
    assert f"robot:   {registry['code']}" in result.stdout
    assert "format:  canonical" in result.stdout
    assert "issued:  20" in result.stdout


@pytest.mark.process
def test_credential_is_a_vc_jwt_carrying_the_full_export(registry):
    token = Path(registry["credential"]).read_text().strip()
    header, claims = parts(token)
    assert header == {
        "alg": "ES256",
        "typ": "vc+jwt",
        "cty": "vc",
        "kid": signing_key(registry["data"]).kid,
    }
    assert claims["@context"] == [VC_CONTEXT]
    assert claims["type"] == ["VerifiableCredential", ENVELOPE_TYPE]
    assert claims["issuer"]["id"] == claims["iss"] == ISSUER
    subject = claims["credentialSubject"]
    assert subject["robotCode"] == registry["code"]
    assert subject["format"] == "canonical"
    assert subject["document"]["identity"]["code"] == registry["code"]
    assert subject["document"]["ownership"][0]["owner"], "an operator export is the full view"
    assert claims["jti"].startswith("urn:uuid:")


def tampered_cases(token: str) -> dict[str, tuple[str, str]]:
    """name -> (forged token, the rule `verify` must report)."""
    header, _ = parts(token)
    h, p, s = token.split(".")
    raw = bytearray(unb64(p))
    at = raw.index(b'"owner":"') + len(b'"owner":"')
    raw[at] = ord("X") if raw[at] != ord("X") else ord("Y")
    stranger = ECKey.generate_key("P-256", private=True)
    foreign = jws.serialize_compact(header, unb64(p), stranger, algorithms=["ES256"])
    return {
        "payload byte changed": (f"{h}.{b64(bytes(raw))}.{s}", "signature"),
        "signed with another key, same kid": (foreign, "signature"),
        "alg none": (f"{b64(json.dumps({**header, 'alg': 'none'}).encode())}.{p}.", "alg"),
        "unknown kid": (forged(token, {**header, "kid": "not-a-key"}), "kid"),
        "typ JWT": (forged(token, {**header, "typ": "JWT"}), "typ"),
        "no kid": (forged(token, {k: v for k, v in header.items() if k != "kid"}), "kid"),
        "not a JWS": ("not.a-jws", "compact"),
    }


@pytest.mark.process
@pytest.mark.parametrize(
    "case",
    [
        "payload byte changed",
        "signed with another key, same kid",
        "alg none",
        "unknown kid",
        "typ JWT",
        "no kid",
        "not a JWS",
    ],
)
def test_tampered_credential_fails_verify_with_exit_1(registry, case, tmp_path):
    token = Path(registry["credential"]).read_text().strip()
    bad, rule = tampered_cases(token)[case]
    path = tmp_path / "bad.jwt"
    path.write_text(bad)
    result = robopass("verify", path, "--jwks", registry["jwks"])
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"INVALID ({rule})" in result.stdout
    assert "VALID:" not in result.stdout


def test_swapped_kid_of_another_published_key_fails(tmp_path):
    signer = RegistrySigner.from_data_dir(tmp_path, ISSUER, "cn-heis")
    token = issue({"a": 1}, "canonical", "CODE", signer)
    old_kid = signer.kid
    rotate_key(tmp_path)
    keys = key_set(public_jwks(tmp_path))
    assert verify(token, keys).kid == old_kid, "a retired key still verifies what it signed"
    header, _ = parts(token)
    new_kid = signing_key(tmp_path).kid
    with pytest.raises(InvalidCredential) as caught:
        verify(forged(token, {**header, "kid": new_kid}), keys)
    assert caught.value.rule == "signature"


def test_credential_checks_in_process(tmp_path):
    signer = RegistrySigner.from_data_dir(tmp_path, ISSUER, "cn-heis")
    keys = key_set(signer.jwks)
    token = issue({"a": 1}, "aas", "CODE", signer)
    header, claims = parts(token)
    key = signing_key(tmp_path)

    def resigned(**changes: object) -> str:
        body = json.dumps({**claims, **changes}).encode()
        return jws.serialize_compact(header, body, key, algorithms=["ES256"])

    past = int((datetime.now(UTC) - timedelta(days=1)).timestamp())
    cases = [
        (resigned(exp=past), "expired"),
        (resigned(validUntil="2000-01-01T00:00:00Z"), "expired"),
        (resigned(validUntil="yesterday"), "validUntil"),
        (resigned(iat="today"), "iat"),
        (resigned(iss="https://someone.else"), "issuer"),
        (resigned(type=["Passport"]), "credential"),
        (resigned(issuer=None), "credential"),
    ]
    for bad, rule in cases:
        with pytest.raises(InvalidCredential) as caught:
            verify(bad, keys)
        assert caught.value.rule == rule
    assert verify(resigned(exp=past + 3 * 86400), keys).format == "aas"


def test_untp_export_is_signed_as_is_with_the_registry_as_issuer(tmp_path, fleet):
    from gateway.service.export import export_document
    from schema.events import fold

    passport = fold(fleet[0])
    document = export_document(passport, "untp-dpp")
    signer = RegistrySigner.from_data_dir(tmp_path, ISSUER, "cn-heis")
    result = verify(issue(document, "untp-dpp", passport.code, signer), key_set(signer.jwks))
    assert result.format == "untp-dpp"
    assert result.robot_code == passport.code
    assert result.credential["issuer"]["id"] == ISSUER
    assert result.credential["type"] == document["type"]
    assert result.credential["credentialSubject"] == document["credentialSubject"]


def test_key_is_private_to_its_owner_and_stable(tmp_path):
    key = signing_key(tmp_path)
    mode = stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode)
    assert mode == 0o600
    assert signing_key(tmp_path).kid == key.kid
    published = public_jwks(tmp_path)["keys"]
    assert [k["kid"] for k in published] == [key.kid]
    assert "d" not in published[0], "the private part is never published"
    rotate_key(tmp_path)
    assert stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode) == 0o600
    assert [k["kid"] for k in public_jwks(tmp_path)["keys"]][1:] == [key.kid]


@pytest.mark.process
def test_verify_usage_errors_exit_2(registry, tmp_path):
    missing = robopass("verify", tmp_path / "absent.jwt", "--jwks", registry["jwks"])
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
    garbage = tmp_path / "jwks.json"
    garbage.write_text("{not json")
    unreadable = robopass("verify", registry["credential"], "--jwks", garbage)
    assert unreadable.returncode == 2
    assert "unreadable JWKS" in unreadable.stderr
    garbage.write_text('{"keys": "none"}')
    assert robopass("verify", registry["credential"], "--jwks", garbage).returncode == 2
    url = f"http://127.0.0.1:{free_port()}/.well-known/jwks.json"
    refused = robopass("verify", registry["credential"], "--jwks", url)
    assert refused.returncode == 2
    assert "unreadable JWKS" in refused.stderr
    no_key = robopass("verify", registry["credential"], "--data-dir", tmp_path / "empty")
    assert no_key.returncode == 2
    assert "no registry key" in no_key.stderr


@pytest.mark.process
def test_verify_defaults_to_this_registrys_keys_and_reads_stdin(registry):
    token = Path(registry["credential"]).read_text()
    result = robopass("verify", "-", "--data-dir", registry["data"], stdin=token)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.process
def test_export_usage_errors(registry, tmp_path):
    bad_code = robopass("export", registry["code"][:-1] + "0", "--format", "aas",
                        "--db", registry["db"])  # fmt: skip
    assert bad_code.returncode == 2
    assert "bad robot code (check)" in bad_code.stderr
    no_db = robopass("export", registry["code"], "--format", "aas", "--db", tmp_path / "x.db")
    assert no_db.returncode == 2
    assert not (tmp_path / "x.db").exists(), "a missing database is not created"
    bad_format = robopass("export", registry["code"], "--format", "pdf", "--db", registry["db"])
    assert bad_format.returncode == 2
    assert "untp-dpp" in bad_format.stderr


@pytest.mark.process
def test_export_unknown_robot_exits_1_and_full_export_prints_json(registry):
    from schema.code import RobotCode

    other = RobotCode.generate("CN", "HD01", "H10001", datetime(2025, 3, 1).date(), "1", 7).value
    missing = robopass("export", other, "--format", "canonical", "--db", registry["db"])
    assert missing.returncode == 1
    assert f"no robot {other}" in missing.stderr
    full = robopass("export", registry["code"], "--format", "cn-miit", "--db", registry["db"])
    assert full.returncode == 0, full.stderr
    assert isinstance(json.loads(full.stdout), dict)
    assert registry["code"] in full.stdout


@pytest.mark.process
@pytest.mark.parametrize("fmt", ["canonical", "cn-miit", "aas", "untp-dpp"])
def test_operator_export_signs_every_format(registry, fmt, tmp_path):
    out = tmp_path / "robot.vc.jwt"
    signed = robopass(
        "export", registry["code"], "--format", fmt, "--sign", "--db", registry["db"],
        "--data-dir", registry["data"], "--issuer", ISSUER, "-o", out,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    result = verify(out.read_text(), key_set(public_jwks(registry["data"])))
    assert (result.robot_code, result.format, result.issuer) == (registry["code"], fmt, ISSUER)
