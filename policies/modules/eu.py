"""GDPR Art. 5(1)(b): purpose limitation where the EU/EEA is involved.

When the registry or the requester is in the EU/EEA, a principal that declares
no purpose has no basis for processing beyond what is public.
"""

from __future__ import annotations

from schema.passport import DataClass

from . import Context

NAME = "eu.gdpr5"
VERSION = "1"
EEA = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
    }
)


def restrict(ctx: Context, classes: frozenset[DataClass]) -> frozenset[DataClass]:
    involved = ctx.registry_jurisdiction in EEA or ctx.jurisdiction in EEA
    if involved and not ctx.purposes:
        return classes & {DataClass.PUBLIC}
    return classes
