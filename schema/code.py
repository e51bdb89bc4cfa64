"""The 29-character humanoid robot code.

China's humanoid robot lifecycle specification (May 2026) publishes only the coarse split of
the code: 2 country, 4 manufacturer, 6 model, 17 serial. The character set, the sub-fields and
any check character are not public. This module therefore knows two profiles:

* ``CodeProfile.PUBLISHED`` checks only what is public. Use it for codes issued elsewhere.
* ``CodeProfile.RPC29`` is *this project's proposal* for the internals: a 31-symbol alphabet
  without look-alikes, a production date, plant, sequence and a mod-31 check character that
  catches every single-character substitution and every adjacent transposition.

Positions in errors are 1-based and count characters of the canonical code, i.e. after the
spaces and hyphens a person may type between groups have been removed.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "SAFE",
    "CodeAlphabetError",
    "CodeCheckError",
    "CodeCountryError",
    "CodeDateError",
    "CodeLengthError",
    "CodeProfile",
    "RobotCategory",
    "RobotCode",
    "RobotCodeError",
    "check_character",
    "is_country",
    "is_valid",
]

SAFE = "0123456789ABCDEFGHJKLMNPRTUVWXY"

_LENGTH = 29
_MODULUS = 31
_DIGITS = "0123456789"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SAFE_INDEX = {ch: i for i, ch in enumerate(SAFE)}
_LETTER_INDEX = {ch: i for i, ch in enumerate(_LETTERS)}
# w_i = 3^(i-1) mod 31: 3 is a primitive root mod 31, so the 28 weights are distinct and
# non-zero, and neighbours differ by a factor 3, which is what catches transpositions.
_WEIGHTS = tuple(pow(3, i, _MODULUS) for i in range(_LENGTH - 1))
# Fold ASCII only: str.upper() turns U+00DF sharp s into "SS" (changing the length) and U+0131
# dotless i into "I", which would let a non-ASCII look-alike pass as a country letter.
_UPPER = str.maketrans(_LETTERS.lower(), _LETTERS)
_SEPARATORS = str.maketrans("", "", " -")

# ISO 3166-1 alpha-2, the 249 officially assigned codes (GB/T 2659.1 follows ISO 3166-1).
# Reserved or user-assigned codes such as UK, EU or XK are deliberately absent.
_ISO3166_ALPHA2 = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
"""
_COUNTRIES = frozenset(_ISO3166_ALPHA2.split())


def is_country(text: str) -> bool:
    """Whether `text` is an assigned ISO 3166-1 alpha-2 code, in upper case as codes carry it."""
    return text in _COUNTRIES


class RobotCodeError(ValueError):
    """A robot code broke one rule; ``rule`` and ``position`` say which and where."""

    rule: ClassVar[str] = ""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position

    def __reduce__(self) -> tuple[type[RobotCodeError], tuple[str, int | None]]:
        # Keep ``position`` when the error crosses a process boundary.
        return type(self), (str(self), self.position)


class CodeLengthError(RobotCodeError):
    """The code, or a part handed to ``generate``, has the wrong number of characters."""

    rule = "length"


class CodeAlphabetError(RobotCodeError):
    """A character is not allowed at its position."""

    rule = "alphabet"


class CodeCountryError(RobotCodeError):
    """Positions 1-2 are not an officially assigned ISO 3166-1 alpha-2 code."""

    rule = "country"


class CodeDateError(RobotCodeError):
    """Positions 13-18 (RPC-29) are not a real YYMMDD date in 2000-2099."""

    rule = "date"


class CodeCheckError(RobotCodeError):
    """The check character does not match: almost always a mistyped character."""

    rule = "check"


class RobotCategory(enum.Enum):
    """Kind of robot, from the letter at position 7 (RPC-29)."""

    BIPED_HUMANOID = "H"
    WHEELED_HUMANOID = "W"
    TORSO_HUMANOID = "T"  # upper body on a fixed base
    OTHER = "X"


class CodeProfile(enum.Enum):
    """Which rules a code is checked against."""

    RPC29 = "RPC-29"  # this project's proposal: SAFE alphabet, date and check character
    PUBLISHED = "published"  # only the public 2/4/6/17 split: no date, no check character


_Segments = tuple[tuple[str, int, int], ...]
_SEGMENTS: dict[CodeProfile, _Segments] = {
    CodeProfile.RPC29: (
        ("country", 0, 2),
        ("manufacturer", 2, 6),
        ("model", 6, 12),
        ("production_date", 12, 18),
        ("plant", 18, 19),
        ("sequence", 19, 28),
        ("check", 28, 29),
    ),
    CodeProfile.PUBLISHED: (
        ("country", 0, 2),
        ("manufacturer", 2, 6),
        ("model", 6, 12),
        ("serial", 12, 29),
    ),
}
_ALPHABETS = {CodeProfile.RPC29: SAFE, CodeProfile.PUBLISHED: _DIGITS + _LETTERS}


def _normalize(text: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"a robot code must be a str, not {type(text).__name__}")
    return text.strip().translate(_SEPARATORS).translate(_UPPER)


def _check_alphabet(chars: str, profile: CodeProfile) -> None:
    """Reject the first character not allowed at its position (works on prefixes too)."""
    alphabet = _ALPHABETS[profile]
    for i, ch in enumerate(chars):
        if i < 2 and ch not in _LETTERS:
            raise CodeAlphabetError(
                f"character {ch!r} at position {i + 1} is outside A-Z (country code)", i + 1
            )
        if i >= 2 and ch not in alphabet:
            hint = " (it leaves out I, O, Q, S and Z)" if ch in "IOQSZ" else ""
            raise CodeAlphabetError(
                f"character {ch!r} at position {i + 1} is outside the {profile.value} "
                f"alphabet{hint}",
                i + 1,
            )


def _check_country(country: str) -> None:
    if country not in _COUNTRIES:
        raise CodeCountryError(
            f"country {country!r} at positions 1-2 is not an assigned ISO 3166-1 alpha-2 code", 1
        )


def _production_date(yymmdd: str) -> dt.date:
    """Decode positions 13-18; the two-digit year means 20YY."""
    for offset, ch in enumerate(yymmdd):
        if ch not in _DIGITS:
            raise CodeDateError(
                f"production date needs digits YYMMDD; {ch!r} at position {13 + offset} "
                "is not a digit",
                13 + offset,
            )
    year, month, day = 2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    if not 1 <= month <= 12:
        raise CodeDateError(f"production date {yymmdd}: month {yymmdd[2:4]} is not 01-12", 15)
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise CodeDateError(
            f"production date {yymmdd}: {year}-{month:02d} has no day {yymmdd[4:]}", 17
        ) from None


def _weighted_sum(chars: str) -> int:
    """Sum of v_i * w_i, where v is A=0..Z=25 at positions 1-2 and the SAFE index after."""
    total = 0
    for i, (ch, weight) in enumerate(zip(chars, _WEIGHTS, strict=False)):
        total += (_LETTER_INDEX[ch] if i < 2 else _SAFE_INDEX[ch]) * weight
    return total


def check_character(body: str) -> str:
    """Return the RPC-29 check character for a 28-character body (positions 1-28)."""
    if not isinstance(body, str):
        raise TypeError(f"a code body must be a str, not {type(body).__name__}")
    body = body.translate(_UPPER)
    if len(body) != _LENGTH - 1:
        raise CodeLengthError(f"a code body has {_LENGTH - 1} characters, got {len(body)}")
    _check_alphabet(body, CodeProfile.RPC29)
    return SAFE[-_weighted_sum(body) % _MODULUS]


def _validate(code: str, profile: CodeProfile) -> None:
    """Apply the rules in a fixed order so that the first broken one is reported."""
    if len(code) != _LENGTH:
        raise CodeLengthError(f"a robot code has {_LENGTH} characters, got {len(code)}")
    _check_alphabet(code, profile)
    _check_country(code[:2])
    if profile is CodeProfile.RPC29:
        _production_date(code[12:18])
        if (_weighted_sum(code[:-1]) + _SAFE_INDEX[code[-1]]) % _MODULUS:
            raise CodeCheckError(
                f"check character {code[-1]!r} at position 29 does not match the code; "
                "a character is probably mistyped",
                29,
            )


@dataclass(frozen=True, slots=True)
class RobotCode:
    """A valid robot code in canonical form (29 upper-case characters, no separators).

    Construction validates, so every instance is valid for its profile. Use ``parse`` for
    text a person typed or scanned.
    """

    value: str
    profile: CodeProfile = CodeProfile.RPC29

    def __post_init__(self) -> None:
        if not isinstance(self.profile, CodeProfile):
            raise TypeError(f"profile must be a CodeProfile, not {type(self.profile).__name__}")
        if not isinstance(self.value, str):
            raise TypeError(f"a robot code must be a str, not {type(self.value).__name__}")
        _validate(self.value, self.profile)

    @classmethod
    def parse(cls, text: str, profile: CodeProfile = CodeProfile.RPC29) -> RobotCode:
        """Read a code as typed: case is folded, spaces and hyphens anywhere are dropped."""
        return cls(_normalize(text), profile)

    @classmethod
    def generate(
        cls,
        country: str,
        manufacturer: str,
        model: str,
        production_date: dt.date,
        plant: str,
        sequence: int | str,
    ) -> RobotCode:
        """Build an RPC-29 code from its parts and append the check character.

        An int ``sequence`` is written as 9 zero-padded decimal digits; a str must already be
        9 SAFE characters. Bad parts raise the same errors as ``parse``, positions included.
        """
        if isinstance(sequence, int) and not isinstance(sequence, bool):
            if not 0 <= sequence <= 999_999_999:
                raise CodeLengthError(f"sequence {sequence} does not fit 9 digits", 20)
            sequence = f"{sequence:09d}"
        if not isinstance(production_date, dt.date):
            raise TypeError(
                f"production_date must be a datetime.date, not {type(production_date).__name__}"
            )
        if not 2000 <= production_date.year <= 2099:
            raise CodeDateError(
                f"production year {production_date.year} is outside 2000-2099 (YYMMDD)", 13
            )
        parts = (country, manufacturer, model, production_date.strftime("%y%m%d"), plant, sequence)
        body = ""
        for (name, start, end), part in zip(_SEGMENTS[CodeProfile.RPC29], parts, strict=False):
            if not isinstance(part, str):
                raise TypeError(f"{name} must be a str, not {type(part).__name__}")
            part = part.translate(_UPPER)
            if len(part) != end - start:
                raise CodeLengthError(
                    f"{name} has {end - start} characters, got {len(part)}", start + 1
                )
            body += part
        return cls(body + check_character(body))

    def __str__(self) -> str:
        return self.value

    @property
    def _rpc29(self) -> bool:
        return self.profile is CodeProfile.RPC29

    @property
    def country(self) -> str:
        return self.value[:2]

    @property
    def manufacturer(self) -> str:
        return self.value[2:6]

    @property
    def model(self) -> str:
        """Positions 7-12; under RPC-29 the first of them is the category letter."""
        return self.value[6:12]

    @property
    def serial(self) -> str:
        """Positions 13-29, the published serial number (date to check under RPC-29)."""
        return self.value[12:]

    @property
    def category_letter(self) -> str | None:
        return self.value[6] if self._rpc29 else None

    @property
    def category(self) -> RobotCategory | None:
        """The known category, or None: registries may assign letters this table lacks."""
        try:
            return RobotCategory(self.category_letter)
        except ValueError:
            return None

    @property
    def production_date(self) -> dt.date | None:
        return _production_date(self.value[12:18]) if self._rpc29 else None

    @property
    def plant(self) -> str | None:
        return self.value[18] if self._rpc29 else None

    @property
    def sequence(self) -> str | None:
        return self.value[19:28] if self._rpc29 else None

    @property
    def check(self) -> str | None:
        return self.value[28] if self._rpc29 else None

    def segments(self) -> dict[str, str]:
        """Named segments in code order, for display and the GraphQL API."""
        return {name: self.value[start:end] for name, start, end in _SEGMENTS[self.profile]}

    def grouped(self) -> str:
        """The code with hyphens between segments; ``parse`` reads it back."""
        return "-".join(self.segments().values())


def is_valid(text: str, profile: CodeProfile = CodeProfile.RPC29) -> bool:
    """True when ``RobotCode.parse`` would accept ``text``."""
    try:
        RobotCode.parse(text, profile)
    except RobotCodeError:
        return False
    return True
