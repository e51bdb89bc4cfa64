"""Exports issued as verifiable credentials secured with JOSE (`vc+jwt`).

The JWS payload is the W3C VC Data Model 2.0 credential itself plus the JWT
claims `iss`, `iat` and `jti`, so any holder can check offline who issued a
passport and that not a byte of it changed. A UNTP DPP export already is a
credential and is signed as it is, with the registry as its issuer; the other
formats travel inside a minimal envelope whose subject names the robot, the
format and the document.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from joserfc import jws
from joserfc.jwk import ECKey

from gateway.credentials.keys import ALG, public_jwks, signing_key

__all__ = [
    "ENVELOPE_TYPE",
    "MEDIA_TYPE",
    "ROBOT_ID_PREFIX",
    "VC_CONTEXT",
    "RegistrySigner",
    "credential_for",
    "issue",
]

MEDIA_TYPE = "application/vc+jwt"
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
ENVELOPE_TYPE = "RobotPassportCredential"
ROBOT_ID_PREFIX = "urn:robopass:robot:"
UNTP = "untp-dpp"


@dataclass(frozen=True, slots=True)
class RegistrySigner:
    """Who signs: the registry's issuer id (a URL), its name, its key and the JWKS it publishes."""

    issuer: str
    name: str
    key: ECKey
    jwks: dict[str, Any]

    @classmethod
    def from_data_dir(cls, data_dir: str | Path, issuer: str, name: str) -> RegistrySigner:
        """The signer whose key lives in `data_dir` (created on first use)."""
        return cls(issuer.rstrip("/"), name, signing_key(data_dir), public_jwks(data_dir))

    @property
    def kid(self) -> str:
        return str(self.key.kid)


def credential_for(
    document: Any, fmt: str, code: str, signer: RegistrySigner, issued_at: datetime
) -> dict[str, Any]:
    """The unsigned credential for an export of robot `code` in format `fmt`."""
    if fmt == UNTP:
        credential = copy.deepcopy(document)
        issuer = credential.get("issuer")
        issuer = dict(issuer) if isinstance(issuer, dict) else {}
        credential["issuer"] = {**issuer, "id": signer.issuer, "name": signer.name}
        return credential
    return {
        "@context": [VC_CONTEXT],
        "type": ["VerifiableCredential", ENVELOPE_TYPE],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "issuer": {"id": signer.issuer, "name": signer.name},
        "validFrom": _timestamp(issued_at),
        "credentialSubject": {
            "id": ROBOT_ID_PREFIX + code,
            "robotCode": code,
            "format": fmt,
            "document": document,
        },
    }


def issue(
    document: Any,
    fmt: str,
    code: str,
    signer: RegistrySigner,
    now: datetime | None = None,
    version: tuple[int, str] | None = None,
) -> str:
    """The export as a compact JWS (`application/vc+jwt`) signed with the registry's key.

    `version` (the sequence and hash of the passport's chain head) is stated in a
    `robotVersion` claim, so a transparency log proof can be tied to the credential.
    """
    issued_at = (now or datetime.now(UTC)).replace(microsecond=0)
    credential = credential_for(document, fmt, code, signer, issued_at)
    claims = {
        **credential,
        "iss": signer.issuer,
        "iat": int(issued_at.timestamp()),
        "jti": f"urn:uuid:{uuid.uuid4()}",
    }
    if version is not None:
        claims["robotVersion"] = {"sequence": version[0], "hash": version[1]}
    header = {"alg": ALG, "typ": "vc+jwt", "cty": "vc", "kid": signer.kid}
    return jws.serialize_compact(header, orjson.dumps(claims), signer.key, algorithms=[ALG])


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
