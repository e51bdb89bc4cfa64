"""How an audit record is bound into the chain: the versioned hash schemes.

Scheme 1 (legacy) hashed the record's content itself, so a hash shown beside
a hidden requester (the owner's trail) was a dictionary oracle: hashing each
candidate organisation and subject until one matches recovers who asked.

Scheme 2 commits to the content through a secret salt, as SD-JWT salts its
disclosures and as the robots' events do:

    commitment = SHA-256(salt || canonical(content))
    hash       = SHA-256(canonical({scheme: 2, id, commitment, prev}))

`salt` is 128 bits from `secrets`, stored with the row and shown only to a
caller who sees the whole record. Anyone can check the links from (id,
commitment, prev, hash); only a caller with the salt and the content can
check the commitment, and without the salt the commitment says nothing about
the content. Canonical JSON is orjson with sorted keys, as everywhere else.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import orjson

LEGACY = 1
SALTED = 2
CURRENT = SALTED
SCHEMES = frozenset({LEGACY, SALTED})
SALT_BYTES = 16
GENESIS = "0" * 64


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def new_salt() -> str:
    """128 fresh secret bits, hex-encoded for a TEXT column."""
    return secrets.token_hex(SALT_BYTES)


def commitment(salt: str, content: dict[str, Any]) -> str:
    """SHA-256 over the salt's bytes then the content's canonical JSON."""
    return hashlib.sha256(bytes.fromhex(salt) + canonical(content)).hexdigest()


def salted_hash(id: int, commitment: str, prev: str) -> str:
    """The scheme-2 link: nothing in it but the position, the commitment and the previous hash."""
    return hashlib.sha256(
        canonical({"scheme": SALTED, "id": id, "commitment": commitment, "prev": prev})
    ).hexdigest()


def record_hash(id: int, content: dict[str, Any], prev: str) -> str:
    """The scheme-1 (legacy) link over the content itself: only to verify old rows."""
    return hashlib.sha256(canonical({**content, "id": id, "prev": prev})).hexdigest()


def link(
    scheme: int, id: int, content: dict[str, Any], salt: str | None, commit: str | None, prev: str
) -> str | None:
    """The hash a row of `scheme` must carry, or None if its salt or commitment does not hold."""
    if scheme == LEGACY:
        return record_hash(id, content, prev)
    if scheme != SALTED or salt is None or commit is None:
        return None
    try:
        if len(salt) != 2 * SALT_BYTES or commitment(salt, content) != commit:
            return None
    except ValueError:  # a salt that is not hex
        return None
    return salted_hash(id, commit, prev)
