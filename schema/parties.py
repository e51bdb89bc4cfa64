"""Party identifiers: how a passport says who owns or operates a robot.

Names are shown, never matched: two organisations may share a display name,
one name may be written with capitals or other spaces, and a natural person's
name is personal data. A relationship to a robot is therefore established by
a party identifier, compared by exact string equality after its syntax is
checked. An identifier is `scheme:value`, and each scheme has one canonical
spelling, so equal parties have equal strings and nothing needs folding:

- `uscc:<18 characters>`: a Chinese organisation's Unified Social Credit Code,
  upper case, check character verified (GB 32100-2015);
- `lei:<20 characters>`: a Legal Entity Identifier, upper case, ISO 17442
  check digits verified (ISO 7064 MOD 97-10);
- `reg:<CC>:<id>`: a national business register id of country `CC` (ISO 3166-1
  alpha-2), upper case letters, digits and `.-/`, spaces removed
  (`reg:DE:HRB284617`);
- `person:<opaque>`: a natural person, by a pseudonymous id the registry
  issues (20 to 64 lower-case letters and digits). It is never derived from
  the person's name, so it reveals nothing of it.

Anything else, including a look-alike with a trailing or non-breaking space,
is not an identifier and matches nothing.
"""

from __future__ import annotations

import re

from .passport import Manufacturer
from .uscc import UsccError, validate_uscc

__all__ = ["PARTY_ID_SYNTAX", "is_party_id", "manufacturer_id", "same_party", "scheme_of"]

PARTY_ID_SYNTAX = "uscc:<USCC> | lei:<LEI> | reg:<CC>:<register id> | person:<opaque id>"
"""The forms a party identifier takes, as error messages name them."""

_USCC = re.compile(r"uscc:([0-9A-HJ-NP-RTUW-Y]{18})")
_LEI = re.compile(r"lei:([0-9A-Z]{18}[0-9]{2})")
_REG = re.compile(r"reg:[A-Z]{2}:[A-Z0-9][A-Z0-9./-]{0,39}")
_PERSON = re.compile(r"person:[0-9a-z]{20,64}")
_SPACES = re.compile(r"\s+")


def is_party_id(value: object) -> bool:
    """Whether `value` is a party identifier in its one canonical spelling."""
    if not isinstance(value, str) or not value.isascii():
        return False
    if m := _USCC.fullmatch(value):
        try:
            return validate_uscc(m.group(1)) == m.group(1)
        except UsccError:
            return False
    if m := _LEI.fullmatch(value):
        return _lei_checks(m.group(1))
    return bool(_REG.fullmatch(value) or _PERSON.fullmatch(value))


def same_party(a: str | None, b: str | None) -> bool:
    """Whether `a` and `b` are the same valid identifier: exact equality, nothing folded."""
    return a is not None and a == b and is_party_id(a)


def scheme_of(value: str) -> str | None:
    """The scheme (`uscc`, `lei`, `reg`, `person`) of a valid identifier, else None."""
    return value.split(":", 1)[0] if is_party_id(value) else None


def manufacturer_id(maker: Manufacturer) -> str | None:
    """The manufacturer's identifier, from its registration id as the passport holds it.

    The passport keeps the registration id as registered (a bare USCC for a
    Chinese maker, "HRB 284617" for a German one); its identifier is that id in
    its scheme's spelling (`uscc:...`, `reg:DE:HRB284617`). None when it fits
    no scheme: then no principal is the manufacturer of this robot.
    """
    raw = maker.registration_id
    if is_party_id(raw):
        return raw
    if maker.country == "CN":
        candidate = f"uscc:{raw}"
    else:
        candidate = f"reg:{maker.country}:{_SPACES.sub('', raw).upper()}"
    return candidate if is_party_id(candidate) else None


def _lei_checks(lei: str) -> bool:
    digits = "".join(str(int(ch, 36)) for ch in lei)
    return int(digits) % 97 == 1
