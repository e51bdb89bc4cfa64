"""PIPL Art. 41: personal information held in China does not go to foreign authorities.

Personal data of robots held by a Chinese registry reaches a foreign regulator,
customs, market-surveillance, law-enforcement or judicial principal only under
an agreement that grants PERSONAL and carries the PRC approval reference.
A principal without a jurisdiction counts as foreign: fail closed.
"""

from __future__ import annotations

from schema.passport import DataClass

from ..principal import AUTHORITIES
from . import Context

NAME = "cn.pipl41"
VERSION = "1"
HOME = "CN"


def restrict(ctx: Context, classes: frozenset[DataClass]) -> frozenset[DataClass]:
    if ctx.registry_jurisdiction != HOME or DataClass.PERSONAL not in classes:
        return classes
    if ctx.jurisdiction == HOME or ctx.role not in AUTHORITIES:
        return classes
    if any(DataClass.PERSONAL in a.classes and a.approval_reference for a in ctx.agreements):
        return classes
    return classes - {DataClass.PERSONAL}
