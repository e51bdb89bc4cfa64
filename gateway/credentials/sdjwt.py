"""SD-JWT (RFC 9901) mechanics: disclosures, digests, decoys, the compact form, key binding.

Written here rather than taken from a package: the SD-JWT part is a few
hundred lines of hashing and JSON on top of JOSE, which joserfc (already the
project's JOSE library) does; the reference implementation on PyPI (`sd-jwt`)
says it is a reference, pulls in a second JOSE library (jwcrypto) and YAML,
and is what CI checks our output against, so it must stay independent of it.
Nothing here signs or verifies a JWS: `gateway.credentials.sdvc` does, with
joserfc and the rules of SD-JWT VC.

Every leaf of the claims given to `conceal` becomes a disclosure, and so does
every object member and array element above a leaf: disclosing a leaf needs
its ancestors' disclosures too, and a holder who shows none of a subtree
shows not even that it exists. Each `_sd` array and each array gets decoy
digests, so neither the number of claims nor an array's length is exact.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ARRAY_ELEMENT",
    "SD",
    "SD_ALG",
    "Disclosure",
    "InvalidSDJWT",
    "Parts",
    "b64url",
    "b64url_decode",
    "conceal",
    "digest",
    "join",
    "reveal",
    "sd_hash",
    "split",
]

SD = "_sd"
SD_ALG = "sha-256"
ARRAY_ELEMENT = "..."
RESERVED = frozenset({SD, ARRAY_ELEMENT})
MAX_DECOYS = 3


class InvalidSDJWT(ValueError):
    """The SD-JWT broke `rule`; the message says how."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not text or any(c not in _B64URL for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def digest(text: str) -> str:
    """The SHA-256 digest of an encoded disclosure (or any ASCII text), base64url."""
    return b64url(hashlib.sha256(text.encode("ascii")).digest())


def sd_hash(presentation_without_kb: str) -> str:
    """The KB-JWT's `sd_hash`: the digest of everything up to and including the last `~`."""
    return digest(presentation_without_kb)


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One disclosure as it travels (`encoded`), with what it says and where it sits.

    `path` is the claim's place in the resolved claims: member names and, for
    an array element, its index among the disclosed elements of that array.
    """

    encoded: str
    name: str | None
    value: Any
    path: tuple[str | int, ...] = ()

    @property
    def digest(self) -> str:
        return digest(self.encoded)

    @property
    def names(self) -> tuple[str, ...]:
        """The path without array positions: what `--disclose a.b` matches."""
        return tuple(p for p in self.path if isinstance(p, str))


def _encode(content: list[Any]) -> str:
    raw = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return b64url(raw.encode("utf-8"))


def _salt() -> str:
    return b64url(secrets.token_bytes(16))


def _decoy() -> str:
    return b64url(secrets.token_bytes(32))


def _decoys() -> list[str]:
    return [_decoy() for _ in range(1 + secrets.randbelow(MAX_DECOYS))]


def conceal(claims: dict[str, Any]) -> tuple[dict[str, Any], list[Disclosure]]:
    """The claims with every member and element replaced by digests, and the disclosures."""
    disclosures: list[Disclosure] = []
    return _object(claims, (), disclosures), disclosures


def _conceal_value(value: Any, path: tuple[str | int, ...], out: list[Disclosure]) -> Any:
    if isinstance(value, dict):
        return _object(value, path, out)
    if isinstance(value, list):
        return _array(value, path, out)
    return value


def _object(
    claims: dict[str, Any], path: tuple[str | int, ...], out: list[Disclosure]
) -> dict[str, Any]:
    digests = []
    for name, value in claims.items():
        if name in RESERVED:
            raise ValueError(f"claim name {name!r} is reserved by SD-JWT")
        inner = _conceal_value(value, (*path, name), out)
        encoded = _encode([_salt(), name, inner])
        out.append(Disclosure(encoded, name, value, (*path, name)))
        digests.append(digest(encoded))
    digests.extend(_decoys())
    return {SD: sorted(digests)}


def _array(values: list[Any], path: tuple[str | int, ...], out: list[Disclosure]) -> list[Any]:
    elements: list[Any] = []
    for index, value in enumerate(values):
        inner = _conceal_value(value, (*path, index), out)
        encoded = _encode([_salt(), inner])
        out.append(Disclosure(encoded, None, value, (*path, index)))
        elements.append({ARRAY_ELEMENT: digest(encoded)})
    for decoy in _decoys():  # anywhere: a decoy's place says nothing
        elements.insert(secrets.randbelow(len(elements) + 1), {ARRAY_ELEMENT: decoy})
    return elements


@dataclass(frozen=True, slots=True)
class Parts:
    """A compact SD-JWT or presentation taken apart (nothing checked yet)."""

    jwt: str
    disclosures: tuple[str, ...]
    kb_jwt: str | None

    @property
    def without_kb(self) -> str:
        """The part the key-binding JWT's `sd_hash` covers."""
        return join(self.jwt, self.disclosures)


def join(jwt: str, disclosures: Iterable[str], kb_jwt: str | None = None) -> str:
    """`<JWT>~<D1>~...~<Dn>~[<KB-JWT>]`."""
    return "~".join([jwt, *disclosures, kb_jwt or ""])


def split(text: str) -> Parts:
    """The parts of `<JWT>~<D1>~...~<Dn>~[<KB-JWT>]`; raises `InvalidSDJWT`."""
    pieces = text.strip().split("~")
    if len(pieces) < 2:
        raise InvalidSDJWT("compact", "not an SD-JWT: expected <JWT>~<disclosures>~[<KB-JWT>]")
    jwt, *middle, last = pieces
    if any(not d for d in middle):
        raise InvalidSDJWT("compact", "an empty disclosure between two '~'")
    return Parts(jwt, tuple(middle), last or None)


def decode_disclosure(encoded: str) -> tuple[str | None, Any]:
    """(name, value) of an object disclosure, (None, value) of an array element."""
    try:
        content = json.loads(b64url_decode(encoded))
    except (ValueError, RecursionError):  # deep nesting: not a disclosure
        raise InvalidSDJWT("disclosure", "a disclosure is not base64url-encoded JSON") from None
    if not isinstance(content, list) or not content or not isinstance(content[0], str):
        raise InvalidSDJWT("disclosure", "a disclosure is not a JSON array starting with a salt")
    if len(content) == 2:
        return None, content[1]
    if len(content) == 3 and isinstance(content[1], str):
        if content[1] in RESERVED:
            raise InvalidSDJWT("disclosure", f"a disclosure names reserved claim {content[1]!r}")
        return content[1], content[2]
    raise InvalidSDJWT("disclosure", "a disclosure has neither 2 nor 3 elements")


def reveal(
    payload: dict[str, Any], encoded: Iterable[str]
) -> tuple[dict[str, Any], list[Disclosure]]:
    """The claims with every presented disclosure put back, and the disclosures with their paths.

    Refuses a disclosure no digest references, a digest referenced twice,
    and a disclosed name that is already a claim of its object (RFC 9901
    section 7.1). Digests without a disclosure (undisclosed claims, decoys) are dropped.
    """
    by_digest: dict[str, tuple[str, str | None, Any]] = {}
    for item in encoded:
        name, value = decode_disclosure(item)
        key = digest(item)
        if key in by_digest:
            raise InvalidSDJWT("disclosure", "the same disclosure is presented twice")
        by_digest[key] = (item, name, value)
    used: set[str] = set()
    found: list[Disclosure] = []
    claims = _reveal_object(payload, (), by_digest, used, found)
    unused = set(by_digest) - used
    if unused:
        raise InvalidSDJWT(
            "disclosure",
            f"{len(unused)} disclosure(s) match no digest the issuer signed:"
            " a disclosure was altered or does not belong to this credential",
        )
    return claims, found


_Index = dict[str, tuple[str, str | None, Any]]


def _mark(key: Any, used: set[str]) -> None:
    if not isinstance(key, str):
        raise InvalidSDJWT("digest", "a digest is not a string")
    if key in used:
        raise InvalidSDJWT("digest", "a digest appears twice in the credential")
    used.add(key)


def _reveal(
    value: Any, path: tuple[str | int, ...], index: _Index, used: set[str], found: list[Disclosure]
) -> Any:
    if isinstance(value, dict):
        return _reveal_object(value, path, index, used, found)
    if isinstance(value, list):
        return _reveal_array(value, path, index, used, found)
    return value


def _reveal_object(
    obj: dict[str, Any],
    path: tuple[str | int, ...],
    index: _Index,
    used: set[str],
    found: list[Disclosure],
) -> dict[str, Any]:
    out = {k: _reveal(v, (*path, k), index, used, found) for k, v in obj.items() if k != SD}
    digests = obj.get(SD, [])
    if not isinstance(digests, list):
        raise InvalidSDJWT("digest", "_sd is not an array")
    for key in digests:
        _mark(key, used)
        hit = index.get(key)
        if hit is None:
            continue
        encoded, name, value = hit
        if name is None:
            raise InvalidSDJWT("disclosure", "an element disclosure stands for an object member")
        if name in out:
            raise InvalidSDJWT("disclosure", f"claim {name!r} is disclosed and also in plain text")
        revealed = _reveal(value, (*path, name), index, used, found)
        found.append(Disclosure(encoded, name, revealed, (*path, name)))
        out[name] = revealed
    return out


def _reveal_array(
    values: list[Any],
    path: tuple[str | int, ...],
    index: _Index,
    used: set[str],
    found: list[Disclosure],
) -> list[Any]:
    out: list[Any] = []
    for element in values:
        if isinstance(element, dict) and ARRAY_ELEMENT in element:
            if len(element) != 1:
                raise InvalidSDJWT("digest", "an array-element digest object has other members")
            key = element[ARRAY_ELEMENT]
            _mark(key, used)
            hit = index.get(key)
            if hit is None:
                continue
            encoded, name, value = hit
            if name is not None:
                raise InvalidSDJWT("disclosure", "a member disclosure stands for an element")
            position = (*path, len(out))
            revealed = _reveal(value, position, index, used, found)
            found.append(Disclosure(encoded, None, revealed, position))
            out.append(revealed)
        else:
            out.append(_reveal(element, (*path, len(out)), index, used, found))
    return out
