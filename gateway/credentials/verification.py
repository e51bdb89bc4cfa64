"""Checking a `vc+jwt` passport credential offline against a JWKS.

Every header field is checked before any key is used, so an `alg: none` or a
token naming a key the JWKS does not hold fails with the rule it broke rather
than a generic signature error. A mismatching signature cannot tell an edited
payload from a foreign key; the message says both.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import KeySet

from gateway.credentials.signing import ENVELOPE_TYPE, ROBOT_ID_PREFIX, UNTP, VC_CONTEXT

__all__ = ["ALGORITHMS", "InvalidCredential", "UnreadableJWKS", "VerifiedCredential", "verify"]

ALGORITHMS = ("ES256", "EdDSA")
MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
"""A whole robot life in AAS runs to hundreds of kilobytes; joserfc's default is 128 kB."""


class InvalidCredential(ValueError):
    """The credential broke `rule`; the message says how."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


class UnreadableJWKS(ValueError):
    """The key set is not a JWKS this verifier can use."""


@dataclass(frozen=True, slots=True)
class VerifiedCredential:
    """What a valid credential says about itself, and which key vouched for it."""

    issuer: str
    issuer_name: str | None
    kid: str
    issued_at: datetime | None
    expires_at: datetime | None
    robot_code: str | None
    format: str | None
    credential: dict[str, Any]


def key_set(data: Any) -> KeySet:
    """A JWKS document as joserfc keys; raises `UnreadableJWKS`."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise UnreadableJWKS('a JWKS is a JSON object with a "keys" array')
    try:
        return KeySet.import_key_set({"keys": data["keys"]})
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise UnreadableJWKS(f"a key in the JWKS cannot be used: {exc}") from None


def verify(token: str | bytes, keys: KeySet, now: datetime | None = None) -> VerifiedCredential:
    """Check signature, header and validity period; raises `InvalidCredential`."""
    text = token.decode("ascii", "replace") if isinstance(token, bytes) else token
    text = text.strip()
    parts = text.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise InvalidCredential("compact", "not a compact JWS: expected header.payload.signature")
    header = _json_part(parts[0], "header")
    kid = _check_header(header)
    key = _find_key(keys, kid)
    try:
        verified = jws.deserialize_compact(text, key, registry=_registry(header["alg"]))
    except BadSignatureError:
        raise InvalidCredential(
            "signature",
            f"the signature does not match key {kid}: the content was altered"
            " or signed with another key",
        ) from None
    except JoseError as exc:
        raise InvalidCredential("signature", f"the signature cannot be checked: {exc}") from None
    claims = _json_object(verified.payload, "payload")
    return _check_claims(claims, kid, now or datetime.now(UTC))


def _registry(alg: str) -> jws.JWSRegistry:
    registry = jws.JWSRegistry(algorithms=[alg])
    registry.max_payload_length = MAX_PAYLOAD_BYTES
    return registry


def _json_part(part: str, name: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise InvalidCredential(name, f"the {name} is not base64url-encoded") from None
    return _json_object(raw, name)


def _json_object(raw: bytes, name: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        raise InvalidCredential(name, f"the {name} is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidCredential(name, f"the {name} is not a JSON object")
    return value


def _check_header(header: dict[str, Any]) -> str:
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise InvalidCredential(
            "alg", f"algorithm {alg!r} is not accepted; accepted: {', '.join(ALGORITHMS)}"
        )
    if header.get("typ") != "vc+jwt":
        raise InvalidCredential("typ", f"header typ is {header.get('typ')!r}, not 'vc+jwt'")
    if header.get("cty", "vc") != "vc":
        raise InvalidCredential("cty", f"header cty is {header.get('cty')!r}, not 'vc'")
    if "crit" in header or "b64" in header:
        raise InvalidCredential("crit", "critical header extensions are not supported")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidCredential("kid", "the header names no key (kid)")
    return kid


def _find_key(keys: KeySet, kid: str) -> Any:
    for key in keys:
        if key.kid == kid:
            return key
    raise InvalidCredential("kid", f"key {kid!r} is not in the JWKS")


def _check_claims(claims: dict[str, Any], kid: str, now: datetime) -> VerifiedCredential:
    context = claims.get("@context")
    types = claims.get("type")
    if not (isinstance(context, list) and context and context[0] == VC_CONTEXT):
        raise InvalidCredential("credential", f"@context must start with {VC_CONTEXT}")
    if not (isinstance(types, list) and "VerifiableCredential" in types):
        raise InvalidCredential("credential", "type must include VerifiableCredential")
    issuer = claims.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    if not isinstance(issuer_id, str) or not issuer_id:
        raise InvalidCredential("credential", "the credential names no issuer")
    if claims.get("iss", issuer_id) != issuer_id:
        raise InvalidCredential(
            "issuer", f"iss {claims.get('iss')!r} differs from the credential's issuer"
        )
    issued_at = _epoch(claims, "iat")
    expires_at = _epoch(claims, "exp")
    not_before = _epoch(claims, "nbf")
    if expires_at is not None and now >= expires_at:
        raise InvalidCredential("expired", f"the credential expired at {expires_at.isoformat()}")
    if not_before is not None and now < not_before:
        raise InvalidCredential("nbf", f"the credential is not valid before {not_before}")
    valid_until = _instant(claims.get("validUntil"))
    if valid_until is not None and now > valid_until:
        raise InvalidCredential("expired", f"validUntil {claims['validUntil']} has passed")
    code, fmt = _subject(claims, types)
    return VerifiedCredential(
        issuer=issuer_id,
        issuer_name=issuer.get("name") if isinstance(issuer, dict) else None,
        kid=kid,
        issued_at=issued_at,
        expires_at=expires_at,
        robot_code=code,
        format=fmt,
        credential=claims,
    )


def _epoch(claims: dict[str, Any], name: str) -> datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidCredential(name, f"claim {name} must be a number of seconds")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidCredential(name, f"claim {name} is out of range") from None


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidCredential("validUntil", f"validUntil {value!r} is not a date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _subject(claims: dict[str, Any], types: list[Any]) -> tuple[str | None, str | None]:
    """The robot code and export format the credential carries, when it says."""
    subject = claims.get("credentialSubject")
    if not isinstance(subject, dict):
        return None, None
    if ENVELOPE_TYPE in types:
        return subject.get("robotCode"), subject.get("format")
    product = subject.get("product")
    if "DigitalProductPassport" in types and isinstance(product, dict):
        product_id = product.get("id")
        if isinstance(product_id, str) and product_id.startswith(ROBOT_ID_PREFIX):
            return product_id.removeprefix(ROBOT_ID_PREFIX), UNTP
        return product.get("registeredId"), UNTP
    return None, None
