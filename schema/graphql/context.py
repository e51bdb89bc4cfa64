"""What resolvers expect to find in `info.context`."""

from __future__ import annotations

from collections.abc import Container
from typing import Any, Protocol

from ..source import PassportSource, RobotRecord
from .formats import TranslationResult


class PassportContext(Protocol):
    """Per-request context the gateway provides."""

    source: PassportSource

    def may_filter_by_owner(self, owner: str) -> bool:
        """Whether this caller may list robots by their current owner."""
        ...

    def view(self, record: RobotRecord) -> Container[str]:
        """The canonical paths of this robot the caller may see: computed once per robot."""
        ...

    def export(self, record: RobotRecord, fmt: str) -> Any:
        """The robot in an export format (`canonical`, `cn-miit`, `aas`, `untp-dpp`), masked."""
        ...

    def translate(self, document: Any, source: str, target: str) -> TranslationResult:
        """`document` from format `source` to `target`; raises `invalid_document` errors."""
        ...
