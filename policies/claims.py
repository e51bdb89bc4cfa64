"""The JSON type of every token claim a principal is built from, checked before use.

A token can be validly signed by a trusted issuer and still carry a list where
one string belongs (an issuer with a multi-valued country claim), an object, a
number or null. Comparing such a value (a set lookup, an enum) raises deep in
the verifier and turned into an HTTP 500. Every claim the verifier reads is
therefore checked here first, against one expected type, and a mismatch is one
`InvalidClaims` that names the claim and the type: a 401 like any other bad
token.

A claim is either absent or of its type; `null` is a wrong type, not "absent".
Strings are refused when empty or when they hold control characters or lone
surrogates: such a value could not be written to a log, an audit row or a
PostgreSQL column, and no issuer has a reason to send one.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from .errors import InvalidClaims
from .issuers import ClaimMapping


class ClaimType(enum.Enum):
    """An expected claim type; its value is how an error message names it."""

    TEXT = "a non-empty string"
    ONE_JURISDICTION = "a single string (a principal has one jurisdiction; a list is refused)"
    NUMERIC_DATE = "a finite number of seconds (a JSON number)"
    AUDIENCE = "a non-empty string or a list of non-empty strings"
    WORDS = "a space-separated string or a list of strings"


STANDARD_CLAIMS: Mapping[str, ClaimType] = {
    "iss": ClaimType.TEXT,
    "sub": ClaimType.TEXT,
    "aud": ClaimType.AUDIENCE,
    "exp": ClaimType.NUMERIC_DATE,
    "nbf": ClaimType.NUMERIC_DATE,
    "iat": ClaimType.NUMERIC_DATE,
    "jti": ClaimType.TEXT,
    "client_id": ClaimType.TEXT,
    "scope": ClaimType.WORDS,
}
# Types of the mapped claims (fields of `ClaimMapping`) that are not plain text; any
# other mapped claim, including ones added later, is TEXT.
MAPPED_CLAIMS: Mapping[str, ClaimType] = {
    "jurisdiction": ClaimType.ONE_JURISDICTION,
    "purposes": ClaimType.WORDS,
}
_UNWRITABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def claim_types(mapping: ClaimMapping) -> dict[str, ClaimType]:
    """Claim name -> expected type, for the standard claims and an issuer's mapped ones."""
    types = dict(STANDARD_CLAIMS)
    for attribute in fields(mapping):
        name = getattr(mapping, attribute.name)
        types[name] = MAPPED_CLAIMS.get(attribute.name, ClaimType.TEXT)
    return types


def check_claim_types(claims: Mapping[str, Any], mapping: ClaimMapping) -> None:
    """Raise `InvalidClaims` naming the first present claim whose value is not of its type."""
    for name, expected in claim_types(mapping).items():
        if name in claims and not fits(claims[name], expected):
            raise InvalidClaims(f"claim {name} must be {expected.value}")


def fits(value: Any, expected: ClaimType) -> bool:
    """Whether one JSON value is of the expected claim type."""
    match expected:
        case ClaimType.TEXT | ClaimType.ONE_JURISDICTION:
            return _text(value)
        case ClaimType.AUDIENCE:
            return _text(value) or (
                isinstance(value, list) and bool(value) and all(_text(v) for v in value)
            )
        case ClaimType.WORDS:
            if isinstance(value, str):
                return _writable(value)
            return isinstance(value, list) and all(_text(v) for v in value)
        case ClaimType.NUMERIC_DATE:
            return _finite_number(value)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and _writable(value)


def _writable(text: str) -> bool:
    return _UNWRITABLE.search(text) is None


def _finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False
