"""Argument types that refuse a bad value while the command line is parsed.

A value refused here gets argparse's one line (`argument --robots: ...`) and
exit status 2 before the command opens or creates anything, so a typo never
leaves an empty database behind or ends in a traceback.
"""

from __future__ import annotations

import argparse

from gateway.synthetic.catalogue import MAKERS


def count(text: str) -> int:
    """A whole number of things, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative: give 0 or more")
    return value


def fleet_country(text: str) -> str:
    """A country the synthetic fleet has makers for, any case (`de` is DE)."""
    code = text.strip().upper()
    if code not in MAKERS:
        known = ", ".join(sorted(MAKERS))
        raise argparse.ArgumentTypeError(f"no synthetic makers for {text!r}: use one of {known}")
    return code
