"""China's Unified Social Credit Code (USCC, GB 32100-2015): a manufacturer's registration id.

18 characters; the last is a mod-31 check character over the first 17. Only length, alphabet
and check are verified here, not the registration authority, category or region fields.
"""

from __future__ import annotations

__all__ = ["UsccError", "generate_uscc", "uscc_check_character", "validate_uscc"]

# Note: differs from the robot code's SAFE alphabet (USCC keeps Q and drops V).
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_INDEX = {ch: i for i, ch in enumerate(_ALPHABET)}
_LENGTH = 18
_MODULUS = 31
_WEIGHTS = tuple(pow(3, i, _MODULUS) for i in range(_LENGTH - 1))  # 1, 3, 9, 27, 19, ...
# ASCII-only folding, so that no non-ASCII look-alike becomes a valid letter.
_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class UsccError(ValueError):
    """A USCC broke one rule: ``rule`` is "length", "alphabet" or "check"."""

    def __init__(self, message: str, rule: str, position: int | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.position = position

    def __reduce__(self) -> tuple[type[UsccError], tuple[str, str, int | None]]:
        return type(self), (str(self), self.rule, self.position)


def _canonical(text: str, length: int) -> str:
    if not isinstance(text, str):
        raise TypeError(f"a USCC must be a str, not {type(text).__name__}")
    code = text.strip().translate(_UPPER)
    if len(code) != length:
        raise UsccError(f"expected {length} characters, got {len(code)}", "length")
    for i, ch in enumerate(code):
        if ch not in _INDEX:
            raise UsccError(
                f"character {ch!r} at position {i + 1} is outside the USCC alphabet "
                "(it leaves out I, O, S, V and Z)",
                "alphabet",
                i + 1,
            )
    return code


def _check(body: str) -> str:
    total = sum(_INDEX[ch] * weight for ch, weight in zip(body, _WEIGHTS, strict=True))
    return _ALPHABET[-total % _MODULUS]  # 31 - (sum mod 31), where 31 wraps to 0


def uscc_check_character(body17: str) -> str:
    """Return the check character (position 18) for the first 17 characters."""
    return _check(_canonical(body17, _LENGTH - 1))


def generate_uscc(body17: str) -> str:
    """Append the check character to a 17-character body; returns the canonical code."""
    body = _canonical(body17, _LENGTH - 1)
    return body + _check(body)


def validate_uscc(text: str, allow: frozenset[str] = frozenset()) -> str:
    """Return the canonical (upper-case) USCC or raise ``UsccError``.

    ``allow`` holds canonical codes exempt from the check character: some codes issued early
    fail it yet are legally valid. They must still have the right length and alphabet.
    """
    code = _canonical(text, _LENGTH)
    if code not in allow and _check(code[:-1]) != code[-1]:
        raise UsccError(
            f"check character {code[-1]!r} at position 18 does not match the code", "check", 18
        )
    return code
