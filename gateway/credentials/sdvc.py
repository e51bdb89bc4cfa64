"""A robot passport as an SD-JWT VC: issue to the owner, present to a buyer, verify offline.

The credential (`typ: dc+sd-jwt`, `vct` = `VCT`) is signed by the registry's
ES256 key (`gateway.credentials.keys`, the JWKS the registry publishes). Its
always-visible claims are only what a verifier needs to check it: `iss`,
`iat`, `exp`, `vct`, `cnf` (the holder's public key) and `status` (its place in
the registry's Token Status List). Everything about the robot, the robot code
included, is selectively disclosable (`gateway.credentials.sdjwt`).

A presentation is the credential with the chosen disclosures and a
key-binding JWT (`typ: kb+jwt`) signed by the holder's key over the audience,
a nonce the verifier chose, the time, and `sd_hash` (the digest of the
presentation it ends), so it cannot be replayed to another verifier, reused
for another nonce, or given other disclosures. Verification checks, in order,
and stops at the first rule broken: the form, the issuer's header and
signature, the claims, every disclosure, the key binding, then the status.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import ECKey, KeySet

from gateway.credentials.keys import ALG
from gateway.credentials.sdjwt import (
    SD_ALG,
    Disclosure,
    InvalidSDJWT,
    b64url_decode,
    conceal,
    join,
    reveal,
    sd_hash,
    split,
)
from gateway.credentials.signing import RegistrySigner
from gateway.credentials.statuslist import STATUS_TYP, StatusListError, decode_list, encode_list
from gateway.credentials.verification import InvalidCredential
from schema.codec import to_plain
from schema.passport import Passport

__all__ = [
    "KB_TYP",
    "SD_TYP",
    "VCT",
    "Holding",
    "StatusRef",
    "VerifiedPresentation",
    "claims_of",
    "holder_public_jwk",
    "holding_of",
    "issue_sd_jwt",
    "present",
    "status_list_token",
    "verify_presentation",
]

VCT = "urn:robopass:vct:robot-passport:1"
SD_TYP = "dc+sd-jwt"
KB_TYP = "kb+jwt"
VALIDITY = timedelta(days=365)
MAX_AGE = timedelta(minutes=5)
SKEW = timedelta(seconds=60)
STATUS_TTL = 3600
PROTECTED = ("iss", "iat", "nbf", "exp", "vct", "cnf", "status", "_sd_alg")
"""Claims a verifier needs in the clear; SD-JWT VC forbids disclosing them selectively."""


@dataclass(frozen=True, slots=True)
class StatusRef:
    uri: str
    idx: int


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _masked(value: Any, path: str, visible: Container[str] | None) -> Any:
    """The plain passport, camelCased, without the members whose dot path is hidden.

    A hidden list goes whole, so not even its length is issued.
    """
    if isinstance(value, dict):
        out = {}
        for name, inner in value.items():
            child = f"{path}.{name}" if path else name
            if inner is None or (visible is not None and child not in visible):
                continue
            out[_camel(name)] = _masked(inner, child, visible)
        return out
    if isinstance(value, list):
        return [_masked(item, path, visible) for item in value]
    return value


def claims_of(passport: Passport, visible: Container[str] | None = None) -> dict[str, Any]:
    """The robot's claims: its code, its operating hours, the passport as the holder sees it."""
    plain = _masked(to_plain(passport), "", visible)
    claims: dict[str, Any] = {"robotCode": passport.code}
    hours = _operating_hours(passport)
    if hours is not None and (visible is None or "conditions.operating_hours" in visible):
        claims["operatingHours"] = hours
    claims.update(plain)
    return claims


def _operating_hours(passport: Passport) -> float | None:
    if passport.conditions:
        return float(max(c.operating_hours for c in passport.conditions))
    return None


def holder_public_jwk(jwk: Any) -> dict[str, Any]:
    """The holder's public P-256 key as a JWK for `cnf`; refuses a private key or another kind."""
    if not isinstance(jwk, dict):
        raise ValueError("the holder key is not a JWK (a JSON object)")
    if "d" in jwk:
        raise ValueError("the holder key has a private part (d): send only the public key")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise ValueError("the holder key must be an EC P-256 JWK (kty EC, crv P-256)")
    try:
        key = ECKey.import_key(jwk)
    except (JoseError, ValueError, TypeError) as exc:
        raise ValueError(f"the holder key cannot be used: {exc}") from None
    return {k: v for k, v in key.as_dict(private=False).items() if k in ("kty", "crv", "x", "y")}


def issue_sd_jwt(
    passport: Passport,
    signer: RegistrySigner,
    holder_jwk: dict[str, Any],
    status: StatusRef,
    *,
    visible: Container[str] | None = None,
    now: datetime | None = None,
) -> str:
    """The SD-JWT VC of `passport` for the holder of `holder_jwk`: `<JWT>~<D1>~...~<Dn>~`."""
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    concealed, disclosures = conceal(claims_of(passport, visible))
    payload = {
        "iss": signer.issuer,
        "iat": int(issued.timestamp()),
        "exp": int((issued + VALIDITY).timestamp()),
        "vct": VCT,
        "cnf": {"jwk": holder_public_jwk(holder_jwk)},
        "status": {"status_list": {"idx": status.idx, "uri": status.uri}},
        "_sd_alg": SD_ALG,
        **concealed,
    }
    header = {"alg": ALG, "typ": SD_TYP, "kid": signer.kid}
    jwt = jws.serialize_compact(header, orjson.dumps(payload), signer.key, algorithms=[ALG])
    return join(jwt, [d.encoded for d in disclosures])


def status_list_token(
    signer: RegistrySigner, uri: str, revoked: Sequence[int], now: datetime | None = None
) -> str:
    """The signed Token Status List (`statuslist+jwt`) at `uri` with `revoked` set."""
    issued = int((now or datetime.now(UTC)).timestamp())
    payload = {
        "sub": uri,
        "iss": signer.issuer,
        "iat": issued,
        "exp": issued + 24 * 3600,
        "ttl": STATUS_TTL,
        "status_list": encode_list(revoked),
    }
    header = {"alg": ALG, "typ": STATUS_TYP, "kid": signer.kid}
    return jws.serialize_compact(header, orjson.dumps(payload), signer.key, algorithms=[ALG])


def _selected(disclosure: Disclosure, wanted: Sequence[tuple[str, ...]]) -> bool:
    names = disclosure.names
    return any(names[: len(w)] == w or w[: len(names)] == names for w in wanted)


def present(
    credential: str,
    disclose: Sequence[str],
    audience: str,
    nonce: str,
    holder_key: ECKey,
    now: datetime | None = None,
) -> str:
    """A presentation with the claims named in `disclose` (dot paths) and a key-binding JWT."""
    parts = split(credential)
    payload = _payload(parts.jwt)
    _, all_disclosures = reveal(payload, parts.disclosures)
    wanted = [tuple(p for p in name.strip().split(".") if p) for name in disclose]
    for path in wanted:
        if not path or not any(d.names[: len(path)] == path for d in all_disclosures):
            tops = sorted({d.names[0] for d in all_disclosures if d.names})
            raise InvalidSDJWT(
                "disclose",
                f"the credential has no claim {'.'.join(path)!r}; its claims: {', '.join(tops)}",
            )
    chosen = [d.encoded for d in all_disclosures if _selected(d, wanted)]
    order = {d: i for i, d in enumerate(parts.disclosures)}
    without_kb = join(parts.jwt, sorted(chosen, key=order.__getitem__))
    kb_payload = {
        "iat": int((now or datetime.now(UTC)).timestamp()),
        "aud": audience,
        "nonce": nonce,
        "sd_hash": sd_hash(without_kb),
    }
    kb = jws.serialize_compact(
        {"alg": ALG, "typ": KB_TYP}, orjson.dumps(kb_payload), holder_key, algorithms=[ALG]
    )
    return without_kb + kb


@dataclass(frozen=True, slots=True)
class Holding:
    """A credential taken apart for a holder choosing what to disclose (nothing verified).

    `disclosures` are (encoded disclosure, dot path of its names) in the
    credential's order, the order `present` keeps; `holder` is the `cnf` key.
    """

    jwt: str
    holder: dict[str, Any]
    disclosures: tuple[tuple[str, str], ...]

    @property
    def paths(self) -> tuple[str, ...]:
        """The claim paths a holder can tick, each once, sorted."""
        return tuple(sorted({path for _, path in self.disclosures if path}))


def holding_of(credential: str) -> Holding:
    """`credential` split into what a presentation is built from; raises `InvalidSDJWT`."""
    parts = split(credential)
    if parts.kb_jwt is not None:
        raise InvalidSDJWT("compact", "this is a presentation (it ends in a key-binding JWT)")
    payload = _payload(parts.jwt)
    _, found = reveal(payload, parts.disclosures)
    cnf = payload.get("cnf")
    holder = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(holder, dict):
        raise InvalidSDJWT("cnf", "the credential names no holder key (cnf.jwk)")
    paths = {d.encoded: ".".join(d.names) for d in found}
    return Holding(parts.jwt, holder, tuple((d, paths[d]) for d in parts.disclosures))


@dataclass(frozen=True, slots=True)
class VerifiedPresentation:
    """A presentation that passed every check, and exactly the claims it disclosed."""

    issuer: str
    kid: str
    vct: str
    issued_at: datetime
    expires_at: datetime
    audience: str
    presented_at: datetime
    status_uri: str
    status_idx: int
    claims: dict[str, Any]
    paths: tuple[str, ...]


StatusLists = Callable[[str], str]
"""Given a status list URI, the status list token saved or fetched for it."""


def verify_presentation(
    text: str,
    keys: KeySet,
    *,
    audience: str,
    nonce: str,
    status_lists: StatusLists,
    now: datetime | None = None,
    max_age: timedelta = MAX_AGE,
) -> VerifiedPresentation:
    """Check a presentation end to end; raises `InvalidCredential` naming the rule broken."""
    moment = now or datetime.now(UTC)
    try:
        parts = split(text)
        if parts.kb_jwt is None:
            raise InvalidCredential(
                "key-binding",
                "the presentation has no key-binding JWT: anyone holding a copy"
                " could have sent it; ask the holder to present it with its key",
            )
        header, payload = _signed(parts.jwt, keys, SD_TYP, "credential")
        _check_credential(payload, moment)
        claims, disclosures = reveal(payload, parts.disclosures)
    except InvalidSDJWT as exc:
        raise InvalidCredential(exc.rule, str(exc)) from None
    for d in disclosures:
        if len(d.path) == 1 and d.path[0] in PROTECTED:
            raise InvalidCredential("disclosure", f"claim {d.path[0]} may not be disclosed")
    holder = _holder_key(payload)
    presented_at = _check_key_binding(
        parts.kb_jwt, holder, audience, nonce, sd_hash(parts.without_kb), moment, max_age
    )
    ref = _status_ref(payload)
    _check_status(ref, keys, status_lists, moment)
    disclosed = {k: v for k, v in claims.items() if k not in PROTECTED}
    return VerifiedPresentation(
        issuer=str(payload["iss"]),
        kid=str(header["kid"]),
        vct=str(payload["vct"]),
        issued_at=datetime.fromtimestamp(payload["iat"], UTC),
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        audience=audience,
        presented_at=presented_at,
        status_uri=ref.uri,
        status_idx=ref.idx,
        claims=disclosed,
        paths=tuple(sorted({".".join(d.names) for d in disclosures if d.name is not None})),
    )


def _payload(jwt: str) -> dict[str, Any]:
    pieces = jwt.split(".")
    if len(pieces) != 3:
        raise InvalidSDJWT("compact", "the issuer-signed part is not a compact JWS")
    try:
        value = json.loads(b64url_decode(pieces[1]))
    except (ValueError, RecursionError):
        raise InvalidSDJWT("compact", "the issuer-signed payload is not base64url JSON") from None
    if not isinstance(value, dict):
        raise InvalidSDJWT("compact", "the issuer-signed payload is not a JSON object")
    return value


def _header(jwt: str, what: str) -> dict[str, Any]:
    pieces = jwt.split(".")
    if len(pieces) != 3 or not all(pieces[:2]):
        raise InvalidCredential("compact", f"the {what} is not a compact JWS")
    try:
        value = json.loads(b64url_decode(pieces[0]))
    except (ValueError, RecursionError):
        raise InvalidCredential("compact", f"the {what}'s header is not base64url JSON") from None
    if not isinstance(value, dict):
        raise InvalidCredential("compact", f"the {what}'s header is not a JSON object")
    alg = value.get("alg")
    if alg != ALG:
        raise InvalidCredential("alg", f"the {what} uses algorithm {alg!r}; only {ALG} is accepted")
    if "crit" in value:
        raise InvalidCredential("crit", f"the {what} has critical header extensions")
    return value


def _verify_jws(jwt: str, key: Any, what: str) -> dict[str, Any]:
    registry = jws.JWSRegistry(algorithms=[ALG])
    registry.max_payload_length = 16 * 1024 * 1024
    try:
        verified = jws.deserialize_compact(jwt, key, registry=registry)
    except BadSignatureError:
        raise InvalidCredential(
            "signature", f"the {what}'s signature does not match: altered or signed by another key"
        ) from None
    except JoseError as exc:
        message = f"the {what}'s signature cannot be checked: {exc}"
        raise InvalidCredential("signature", message) from None
    try:
        payload = json.loads(verified.payload)
    except (ValueError, RecursionError):
        raise InvalidCredential("compact", f"the {what}'s payload is not JSON") from None
    if not isinstance(payload, dict):
        raise InvalidCredential("compact", f"the {what}'s payload is not a JSON object")
    return payload


def _signed(jwt: str, keys: KeySet, typ: str, what: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header = _header(jwt, what)
    if header.get("typ") != typ:
        raise InvalidCredential("typ", f"the {what}'s typ is {header.get('typ')!r}, not {typ!r}")
    kid = header.get("kid")
    key = next((k for k in keys if isinstance(kid, str) and k.kid == kid), None)
    if key is None:
        raise InvalidCredential("kid", f"the {what} names key {kid!r}, not in the JWKS")
    return header, _verify_jws(jwt, key, what)


def _time(payload: dict[str, Any], name: str, rule: str) -> datetime:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidCredential(rule, f"claim {name} is missing or not a number of seconds")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidCredential(rule, f"claim {name} is out of range") from None


def _check_credential(payload: dict[str, Any], now: datetime) -> None:
    if payload.get("_sd_alg", SD_ALG) != SD_ALG:
        raise InvalidCredential("sd_alg", f"_sd_alg {payload.get('_sd_alg')!r} is not {SD_ALG}")
    if payload.get("vct") != VCT:
        raise InvalidCredential("vct", f"vct is {payload.get('vct')!r}, not {VCT}")
    if not isinstance(payload.get("iss"), str):
        raise InvalidCredential("iss", "the credential names no issuer")
    _time(payload, "iat", "iat")
    if now >= _time(payload, "exp", "expired"):
        raise InvalidCredential("expired", f"the credential expired at {payload['exp']}")


def _holder_key(payload: dict[str, Any]) -> ECKey:
    cnf = payload.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    try:
        return ECKey.import_key(holder_public_jwk(jwk))
    except ValueError as exc:
        raise InvalidCredential("cnf", f"no usable holder key (cnf): {exc}") from None


def _check_key_binding(
    kb_jwt: str,
    holder: ECKey,
    audience: str,
    nonce: str,
    expected_hash: str,
    now: datetime,
    max_age: timedelta,
) -> datetime:
    header = _header(kb_jwt, "key-binding JWT")
    if header.get("typ") != KB_TYP:
        raise InvalidCredential("typ", f"the key-binding JWT's typ is {header.get('typ')!r}")
    claims = _verify_jws(kb_jwt, holder, "key-binding JWT (holder key)")
    if claims.get("sd_hash") != expected_hash:
        raise InvalidCredential(
            "sd_hash", "the key binding covers other disclosures than those presented"
        )
    if claims.get("aud") != audience:
        raise InvalidCredential(
            "aud", f"the presentation was made for audience {claims.get('aud')!r}, not {audience!r}"
        )
    if claims.get("nonce") != nonce:
        raise InvalidCredential(
            "nonce", "the presentation answers another nonce: a stale or replayed presentation"
        )
    at = _time(claims, "iat", "iat")
    if at > now + SKEW:
        raise InvalidCredential("iat", "the key-binding JWT is dated in the future")
    if at < now - max_age:
        raise InvalidCredential(
            "iat", f"the key-binding JWT is older than {int(max_age.total_seconds())} s: stale"
        )
    return at


def _status_ref(payload: dict[str, Any]) -> StatusRef:
    status = payload.get("status")
    ref = status.get("status_list") if isinstance(status, dict) else None
    idx = ref.get("idx") if isinstance(ref, dict) else None
    uri = ref.get("uri") if isinstance(ref, dict) else None
    if not isinstance(uri, str) or isinstance(idx, bool) or not isinstance(idx, int):
        raise InvalidCredential("status", "the credential has no status_list idx and uri")
    return StatusRef(uri, idx)


def _check_status(ref: StatusRef, keys: KeySet, lists: StatusLists, now: datetime) -> None:
    try:
        token = lists(ref.uri)
    except (OSError, ValueError) as exc:
        message = f"the status list {ref.uri} cannot be read: {exc}"
        raise InvalidCredential("status", message) from None
    _, claims = _signed(token.strip(), keys, STATUS_TYP, "status list")
    if claims.get("sub") != ref.uri:
        raise InvalidCredential(
            "status", f"the status list is {claims.get('sub')!r}, not the credential's {ref.uri}"
        )
    if "exp" in claims and now >= _time(claims, "exp", "status"):
        raise InvalidCredential("status", "the status list has expired: fetch a fresh one")
    try:
        value = decode_list(claims.get("status_list"))(ref.idx)
    except StatusListError as exc:
        raise InvalidCredential("status", f"the status list cannot be read: {exc}") from None
    if value != 0:
        raise InvalidCredential(
            "revoked",
            "the registry has revoked this credential (status"
            f" {value}): the robot changed hands after it was issued",
        )
